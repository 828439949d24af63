package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// counters count the protocol octets (inside TLS) a measurement reads and
// writes.
type counters struct {
	in, out atomic.Int64
}

// countedConn counts the octets read and written through it.
type countedConn struct {
	net.Conn
	c *counters
}

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.in.Add(int64(n))
	return n, err
}

func (c countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.out.Add(int64(n))
	return n, err
}

// A dialer opens the connections of one protocol.
type dialer struct {
	addrs     []string
	tlsMode   string
	tlsConfig *tls.Config
	binds     []net.IP
	timeout   time.Duration
	counters  *counters
}

func newDialer(cfg *config, addrs []string, c *counters) *dialer {
	return &dialer{addrs: addrs, tlsMode: cfg.tlsMode, tlsConfig: cfg.tlsConfig, binds: cfg.binds, timeout: cfg.timeout, counters: c}
}

// dialTCP connects client i to its server (the addresses and the local
// addresses are taken in turn).
func (d *dialer) dialTCP(ctx context.Context, i int) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	if len(d.binds) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: d.binds[i%len(d.binds)]}
	}
	return nd.DialContext(ctx, "tcp", d.addrs[i%len(d.addrs)])
}

// handshake starts TLS on nc, as a client of the server at addr.
func (d *dialer) handshake(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	cfg := d.tlsConfig.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// A textConn is a line-oriented client connection.
type textConn struct {
	d       *dialer
	addr    string
	nc      net.Conn // countedConn over TCP or TLS
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
}

// dialText connects client i, with TLS from the first byte in implicit mode.
func (d *dialer) dialText(ctx context.Context, i int) (*textConn, error) {
	nc, err := d.dialTCP(ctx, i)
	if err != nil {
		return nil, err
	}
	c := &textConn{d: d, addr: d.addrs[i%len(d.addrs)], timeout: d.timeout}
	if d.tlsMode == "implicit" {
		nc.SetDeadline(time.Now().Add(d.timeout))
		tc, err := d.handshake(ctx, nc, c.addr)
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	c.setConn(nc)
	return c, nil
}

func (c *textConn) setConn(nc net.Conn) {
	c.nc = countedConn{nc, c.d.counters}
	c.r = bufio.NewReaderSize(c.nc, 64<<10)
	c.w = bufio.NewWriterSize(c.nc, 16<<10)
}

// startTLS upgrades the connection after the server agreed to STARTTLS or
// STLS; anything buffered is an error (the server must not send more).
func (c *textConn) startTLS(ctx context.Context) error {
	if c.r.Buffered() > 0 {
		return errors.New("server sent data after agreeing to start TLS")
	}
	raw := c.nc.(countedConn).Conn
	tc, err := c.d.handshake(ctx, raw, c.addr)
	if err != nil {
		return err
	}
	c.setConn(tc)
	return nil
}

// deadline sets the deadline of the next exchange.
func (c *textConn) deadline() { c.nc.SetDeadline(time.Now().Add(c.timeout)) }

// readLine reads one line, with its CRLF; a line longer than the buffer is
// reassembled into buf. The result is valid until the next read.
func (c *textConn) readLine(buf *[]byte) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == nil {
		return line, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	*buf = append((*buf)[:0], line...)
	for {
		line, err = c.r.ReadSlice('\n')
		*buf = append(*buf, line...)
		if err == nil {
			return *buf, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

func (c *textConn) close() { c.nc.Close() }
