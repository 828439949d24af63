package testutil

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeBufferSize bounds what one direction of a Pipe holds before a writer
// waits, as a TCP socket buffer would.
const pipeBufferSize = 256 << 10

// Addr is a net.Addr for in-memory connections.
type Addr string

// Network returns "mem".
func (a Addr) Network() string { return "mem" }

// String returns the address.
func (a Addr) String() string { return string(a) }

// deadline is a settable deadline with a channel closed when it passes.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the timer fired and closed ch: wait is immediate
	}
	d.timer = nil
	select {
	case <-d.ch:
		d.ch = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.ch)
		return
	}
	ch := d.ch
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// half is one direction of a pipe.
type half struct {
	mu       sync.Mutex
	buf      []byte
	wClosed  bool // writer closed: reads drain then EOF
	rClosed  bool // reader closed: writes fail
	readable chan struct{}
	writable chan struct{}
}

func newHalf() *half {
	return &half{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// conn is one end of a Pipe.
type conn struct {
	in, out       *half
	local, remote net.Addr
	rd, wd        *deadline
	closeOnce     sync.Once
	closed        chan struct{}
}

// Pipe returns the two ends of an in-memory, full-duplex connection. Unlike
// net.Pipe, each direction buffers up to 256 KiB, so a client can pipeline
// commands without the server reading them, as over TCP. Deadlines work
// (including under testing/synctest's fake clock).
func Pipe(clientAddr, serverAddr net.Addr) (client, server net.Conn) {
	a, b := newHalf(), newHalf()
	c := &conn{in: a, out: b, local: clientAddr, remote: serverAddr, rd: newDeadline(), wd: newDeadline(), closed: make(chan struct{})}
	s := &conn{in: b, out: a, local: serverAddr, remote: clientAddr, rd: newDeadline(), wd: newDeadline(), closed: make(chan struct{})}
	return c, s
}

func (c *conn) Read(p []byte) (int, error) {
	h := c.in
	for {
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		default:
		}
		h.mu.Lock()
		if len(h.buf) > 0 {
			n := copy(p, h.buf)
			h.buf = h.buf[n:]
			if len(h.buf) == 0 {
				h.buf = nil
			}
			h.mu.Unlock()
			signal(h.writable)
			return n, nil
		}
		if h.wClosed {
			h.mu.Unlock()
			return 0, io.EOF
		}
		h.mu.Unlock()
		select {
		case <-h.readable:
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	h := c.out
	written := 0
	for written < len(p) {
		select {
		case <-c.closed:
			return written, net.ErrClosed
		case <-c.wd.wait():
			return written, os.ErrDeadlineExceeded
		default:
		}
		h.mu.Lock()
		if h.rClosed {
			h.mu.Unlock()
			return written, io.ErrClosedPipe
		}
		if room := pipeBufferSize - len(h.buf); room > 0 {
			n := min(room, len(p)-written)
			h.buf = append(h.buf, p[written:written+n]...)
			written += n
			h.mu.Unlock()
			signal(h.readable)
			continue
		}
		h.mu.Unlock()
		select {
		case <-h.writable:
		case <-c.wd.wait():
			return written, os.ErrDeadlineExceeded
		case <-c.closed:
			return written, net.ErrClosed
		}
	}
	return written, nil
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = nil
		close(c.closed)
		c.out.mu.Lock()
		c.out.wClosed = true
		c.out.mu.Unlock()
		signal(c.out.readable)
		c.in.mu.Lock()
		c.in.rClosed = true
		c.in.buf = nil
		c.in.mu.Unlock()
		signal(c.in.writable)
		c.rd.set(time.Time{})
		c.wd.set(time.Time{})
	})
	return err
}

// CloseWrite shuts down the writing side, like TCP's half-close.
func (c *conn) CloseWrite() error {
	c.out.mu.Lock()
	c.out.wClosed = true
	c.out.mu.Unlock()
	signal(c.out.readable)
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}
func (c *conn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *conn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// A Listener is an in-memory net.Listener. Dial and DialFrom connect to it.
type Listener struct {
	addr      Addr
	ch        chan net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

// NewListener returns an in-memory listener. Its address is 192.0.2.1:143;
// clients dial it with [Listener.Dial] or [Listener.DialFrom].
func NewListener() *Listener {
	return &Listener{addr: "192.0.2.1:143", ch: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; pending and future Dials fail.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() { close(l.closed); err = nil })
	return err
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Dial connects from the client address 198.51.100.1:40000.
func (l *Listener) Dial() (net.Conn, error) { return l.DialFrom("198.51.100.1:40000") }

// ErrListenerClosed is returned by Dial on a closed Listener.
var ErrListenerClosed = errors.New("testutil: listener closed")

// DialFrom connects from the given client address ("ip:port"), so tests can
// exercise per-address limits.
func (l *Listener) DialFrom(clientAddr string) (net.Conn, error) {
	client, server := Pipe(tcpAddr(clientAddr), tcpAddr(string(l.addr)))
	select {
	case l.ch <- server:
		return client, nil
	case <-l.closed:
		return nil, ErrListenerClosed
	}
}

// tcpAddr parses "ip:port" into a *net.TCPAddr so servers see a real address
// type; it falls back to Addr for anything else.
func tcpAddr(s string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", s); err == nil {
		return a
	}
	return Addr(s)
}
