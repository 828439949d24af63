package pop3

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// The commands of the AUTHORIZATION state: USER, PASS, APOP, AUTH (RFC
// 5034), STLS (RFC 2595), UTF8 (RFC 6856), and CAPA (RFC 2449), which is
// valid in both states.

func (c *conn) cmdUser(arg string) {
	if !c.auth.Allowed().PlainLogin {
		c.refuseCredentials()
		return
	}
	name := strings.TrimSpace(arg)
	if name == "" {
		c.syntaxError("USER name")
		return
	}
	if !utf8.ValidString(name) {
		c.badCommand("User name is not valid UTF-8")
		return
	}
	// The same reply whether or not the user exists (RFC 1939 §13):
	// nothing is looked up before PASS.
	c.user = name
	c.ok("Send your password")
}

func (c *conn) cmdPass(arg string) {
	if !c.auth.Allowed().PlainLogin {
		// The credentials are not looked at; Login only records the
		// refused attempt for the audit hook.
		c.auth.Login(c.nc.Ctx, "USER", c.user, "")
		c.user = ""
		c.refuseCredentials()
		return
	}
	if c.user == "" {
		c.badCommand("Send USER first")
		return
	}
	// The argument is the whole rest of the line: RFC 1939 §7 allows
	// spaces in a password.
	if arg == "" {
		c.syntaxError("PASS password")
		return
	}
	if !utf8.ValidString(arg) {
		c.user = ""
		c.badCommand("Password is not valid UTF-8")
		return
	}
	user := c.user
	c.user = "" // a failed PASS needs a new USER (RFC 1939 §7)
	id, err := c.auth.Login(c.nc.Ctx, "USER", user, arg)
	if err != nil {
		c.loginFailed(err)
		return
	}
	c.loggedIn(id)
}

// apopDummySecret is what an unknown user's digest is checked against, so
// that the work is the same as for a known user.
var apopDummySecret = sync.OnceValue(func() string { return rand.Text() })

func (c *conn) cmdAPOP(arg string) {
	if c.h.apop == nil {
		c.badCommand("APOP is not available")
		return
	}
	f := fields(arg)
	if len(f) != 2 || len(f[1]) != 2*md5.Size || !utf8.ValidString(f[0]) {
		c.syntaxError("APOP name digest")
		return
	}
	name := f[0]
	digest, err := hex.DecodeString(f[1])
	if err != nil {
		c.syntaxError("APOP name digest")
		return
	}
	id, err := c.auth.Verify(c.nc.Ctx, "APOP", name, func(ctx context.Context) (auth.Identity, error) {
		secret, id, err := c.h.apop.Secret(ctx, name)
		known := err == nil
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				return auth.Identity{}, err
			}
			secret = apopDummySecret()
		}
		sum := md5.Sum([]byte(c.apopStamp + secret))
		if subtle.ConstantTimeCompare(sum[:], digest) != 1 || !known {
			return auth.Identity{}, fmt.Errorf("APOP digest mismatch: %w", auth.ErrInvalidCredentials)
		}
		if id.Username == "" {
			id.Username = name
		}
		return id, nil
	})
	if err != nil {
		c.loginFailed(err)
		return
	}
	c.loggedIn(id)
}

func (c *conn) cmdAuth(arg string) {
	allowed := c.auth.Allowed()
	if len(allowed.Mechanisms) == 0 {
		// Every Authenticator serves PLAIN over TLS: no mechanism means
		// the policy wants TLS first. The initial response, if any, is
		// never decoded.
		c.refuseCredentials()
		return
	}
	f := fields(arg)
	switch len(f) {
	case 0:
		// The RFC 1734 listing many clients still probe with.
		c.ok("Supported mechanisms follow")
		c.multiLine(allowed.Mechanisms)
		return
	case 1, 2:
	default:
		c.syntaxError("AUTH mechanism [initial-response]")
		return
	}
	var initial []byte
	if len(f) == 2 {
		initial = []byte(f[1])
	}
	id, err := c.auth.SASL(c.nc.Ctx, strings.ToUpper(f[0]), initial, c.saslNext)
	if err != nil {
		c.loginFailed(err)
		return
	}
	c.loggedIn(id)
}

// ioError marks a failure to talk to the client in the middle of a SASL
// exchange, as opposed to a failure of the exchange itself.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// saslNext sends a challenge ("+ base64", RFC 5034 §4) and reads the
// client's response line, which the trace never shows.
func (c *conn) saslNext(challenge string) ([]byte, error) {
	c.writeLine("+ " + challenge)
	if err := c.nc.Flush(); err != nil {
		return nil, &ioError{err}
	}
	line, err := c.nc.ReadLine(authsrv.MaxResponseLine, c.s.readTimeout())
	if err != nil {
		return nil, &ioError{err}
	}
	c.trace("C", "<redacted>")
	return line, nil
}

// loginFailed answers a failed USER/PASS, APOP or AUTH. Every credential
// failure gets the same reply, whatever the reason (RFC 3206 §5 [AUTH]).
func (c *conn) loginFailed(err error) {
	if ioe, ok := errors.AsType[*ioError](err); ok {
		switch {
		case errors.Is(ioe.err, wire.ErrLineTooLong):
			c.closeWith(mailfront.ProtocolError, "", "Authentication response too long")
		case errors.Is(ioe.err, netsrv.ErrTimeout):
			c.closeWith(mailfront.IdleTimeout, "", "Disconnected for inactivity")
		default:
			c.nc.SetCloseReason(netsrv.CloseReasonFor(ioe.err))
			c.end = true
		}
		return
	}
	switch {
	case errors.Is(err, auth.ErrEncryptionRequired):
		c.refuseCredentials()
	case errors.Is(err, auth.ErrUnsupportedMechanism):
		c.badCommand("Unsupported authentication mechanism")
	case errors.Is(err, auth.ErrCanceled):
		// Counted, so that a client cannot loop on AUTH and "*".
		c.badCommand("Authentication cancelled")
	case errors.Is(err, auth.ErrMalformed):
		c.authFailure("", "Malformed authentication exchange")
	case errors.Is(err, auth.ErrInvalidCredentials):
		c.authFailure(CodeAuth, "Authentication failed")
	case errors.Is(err, auth.ErrUnavailable):
		c.err(CodeSysTemp, "Authentication service unavailable; try again later")
	case errors.Is(err, authsrv.ErrUserConnLimit):
		c.err(CodeInUse, "Too many sessions for this user from this address")
	case c.cancelled(err):
		c.closeWith(c.shutdownReason(), CodeSysTemp, "Server shutting down; try again later")
	default:
		c.log(slog.LevelError, "login failed with an unexpected error", slog.Any("err", err))
		c.err(CodeSysTemp, "Internal error; try again later")
	}
}

// authFailure answers a failed attempt, and closes the connection once it
// has used up its attempts (A7, P8).
func (c *conn) authFailure(code ResponseCode, text string) {
	if c.auth.TooManyFailures() {
		c.log(slog.LevelWarn, "too many failed logins; closing connection")
		c.closeWith(mailfront.AuthFailures, code, text+"; too many failures, closing connection")
		return
	}
	c.err(code, text)
}

func (c *conn) cmdSTLS(arg string) {
	switch {
	case arg != "":
		c.syntaxError("STLS")
	case c.nc.TLS() != nil:
		c.badCommand("TLS is already active")
	case !c.nc.CanStartTLS():
		c.badCommand("STLS is not available")
	default:
		c.ok("Begin TLS negotiation")
		if err := c.nc.Flush(); err != nil {
			c.nc.SetCloseReason(mailfront.ReadError)
			c.end = true
			return
		}
		// StartTLS discards whatever the client pipelined after STLS, so
		// no plaintext can become a command under TLS (RFC 2595 §3.1).
		if err := c.nc.StartTLS(); err != nil {
			c.end = true
			return
		}
		// Forget everything learnt before TLS (RFC 2595 §4).
		c.user = ""
	}
}

func (c *conn) cmdUTF8(arg string) {
	if arg != "" {
		c.syntaxError("UTF8")
		return
	}
	// RFC 6856 §2. The mode changes nothing here: user names and
	// passwords are UTF-8 in any case ("UTF8 USER"), and messages are sent
	// as stored, never downgraded.
	c.ok("UTF8 enabled")
}

func (c *conn) cmdCAPA(arg string) {
	if arg != "" {
		c.syntaxError("CAPA")
		return
	}
	c.ok("Capability list follows")
	c.multiLine(c.capabilities())
}

// capabilities lists what CAPA announces now: derived from the policy, the
// connection, the Authenticator and the maildrop, never from switches.
func (c *conn) capabilities() []string {
	caps := []string{"TOP", "UIDL"}
	allowed := c.auth.Allowed()
	// RFC 2449 §5: what is available before login is announced in both
	// states; USER and SASL say what the policy allows on this connection.
	if allowed.PlainLogin {
		caps = append(caps, "USER")
	}
	if len(allowed.Mechanisms) > 0 {
		caps = append(caps, "SASL "+strings.Join(allowed.Mechanisms, " "))
	}
	// RFC 2595 §4: STLS is announced only where it is permitted.
	if c.state == stateAuthorization && c.nc.CanStartTLS() {
		caps = append(caps, "STLS")
	}
	caps = append(caps, "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8 USER")

	expire, delay := c.s.ExpireDays, c.s.LoginDelay
	suffix := " USER" // before login the value may still vary per user
	if c.state == stateTransaction {
		expire, delay = c.maildrop.expireDays, c.maildrop.loginDelay
		suffix = ""
	}
	if e := expireString(expire); e != "" {
		caps = append(caps, "EXPIRE "+e+suffix)
	}
	if delay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.FormatInt(int64((delay+time.Second-1)/time.Second), 10)+suffix)
	}
	if impl := c.s.implementation(); impl != "" {
		caps = append(caps, "IMPLEMENTATION "+impl)
	}
	return caps
}

// expireString renders an ExpireDays value for CAPA; empty means not
// announced.
func expireString(days int) string {
	switch {
	case days > 0:
		return strconv.Itoa(days)
	case days == ExpireNever:
		return "NEVER"
	case days == ExpireOnRetrieval:
		return "0"
	}
	return ""
}
