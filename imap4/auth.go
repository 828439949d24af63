package imap4

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// maxSASLRounds bounds the challenges of one AUTHENTICATE exchange; every
// mechanism we have needs at most three (ADVERSARIAL A5).
const maxSASLRounds = 10

// errTooManyRounds ends a SASL exchange that would not finish.
var errTooManyRounds = errors.New("imap4: too many SASL rounds")

func (c *conn) cmdCapability(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	c.enc.Raw("* CAPABILITY ").Raw(c.capabilities()).CRLF()
	return nil
}

func (c *conn) cmdNoop(cmd *command) error { return cmd.end() }

func (c *conn) cmdLogout(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	c.enc.Raw("* BYE Logging out").CRLF()
	c.nc.SetCloseReason(mailfront.ClientQuit)
	c.end = true
	return nil
}

func (c *conn) cmdStartTLS(cmd *command) error {
	if err := cmd.end(); err != nil {
		return err
	}
	if !c.nc.CanStartTLS() {
		if c.nc.TLS() != nil {
			return bad("", "TLS is already active")
		}
		return bad("", "STARTTLS is not available")
	}
	c.tagged(cmd.tag, ok("", "Begin TLS negotiation now"))
	if err := c.flush(); err != nil {
		c.readFailed(err)
		return errSent
	}
	if err := c.nc.StartTLS(); err != nil {
		// The handshake failed; nothing more can be said in clear.
		c.end = true
		return errSent
	}
	return errSent
}

func (c *conn) cmdLogin(cmd *command) error {
	d := cmd.d
	d.SP()
	username := d.AString()
	d.SP()
	password := d.AString()
	if err := cmd.end(); err != nil {
		return err
	}
	id, err := c.auth.Login(c.nc.Ctx, "LOGIN", username, password)
	if err != nil {
		return c.loginFailed(err)
	}
	return c.loggedIn(id)
}

func (c *conn) cmdAuthenticate(cmd *command) error {
	d := cmd.d
	d.SP()
	mech := d.Keyword()
	var initial []byte
	if d.Accept(' ') {
		initial = []byte(d.Atom())
	}
	if err := cmd.end(); err != nil {
		return err
	}
	rounds := 0
	id, err := c.auth.SASL(c.nc.Ctx, mech, initial, func(challenge string) ([]byte, error) {
		if rounds++; rounds > maxSASLRounds {
			return nil, errTooManyRounds
		}
		c.enc.Raw("+ ").Raw(challenge).CRLF()
		if err := c.flush(); err != nil {
			return nil, err
		}
		line, err := c.nc.ReadLine(authsrv.MaxResponseLine, c.timeout())
		if err == nil {
			c.trace("C", "<redacted>")
		}
		return line, err
	})
	if err != nil {
		return c.loginFailed(err)
	}
	return c.loggedIn(id)
}

// loginFailed maps a failed LOGIN or AUTHENTICATE to its response. Every
// credential failure gets the same one.
func (c *conn) loginFailed(err error) error {
	switch {
	case errors.Is(err, auth.ErrEncryptionRequired):
		return no(string(CodePrivacyRequired), "Use STARTTLS or the TLS port before logging in")
	case errors.Is(err, auth.ErrInvalidCredentials):
		if c.auth.TooManyFailures() {
			c.byeAfter, c.byeAfterReason = "Too many authentication failures", mailfront.AuthFailures
		}
		return no(string(CodeAuthenticationFailed), "Authentication failed")
	case errors.Is(err, auth.ErrUnavailable):
		return no(string(CodeUnavailable), "Authentication service temporarily unavailable")
	case errors.Is(err, authsrv.ErrUserConnLimit):
		return no(string(CodeUnavailable), "Too many connections for this user from this address")
	case errors.Is(err, auth.ErrMalformed):
		if c.auth.TooManyFailures() {
			c.byeAfter, c.byeAfterReason = "Too many authentication failures", mailfront.AuthFailures
		}
		return bad("", "Invalid authentication data")
	case errors.Is(err, auth.ErrCanceled):
		return bad("", "Authentication cancelled")
	case errors.Is(err, auth.ErrUnsupportedMechanism):
		return no(string(CodeCannot), "Unsupported authentication mechanism")
	case errors.Is(err, errTooManyRounds):
		return bad("", "Authentication exchange too long")
	case errors.Is(err, wire.ErrLineTooLong):
		c.enc.Raw("* BAD [TOOBIG] Authentication response too long").CRLF()
		c.bye(mailfront.ProtocolError, "Authentication response too long")
		return errSent
	case errors.Is(err, netsrv.ErrTimeout), errors.Is(err, netsrv.ErrShutdown):
		c.readFailed(err)
		return errSent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // mapped to BYE when the server is shutting down
	}
	// authsrv normalises every credential failure, so what is left is a
	// read error while waiting for the client's response.
	c.log(slog.LevelDebug, "reading a SASL response failed", slog.Any("err", err))
	c.nc.SetCloseReason(netsrv.CloseReasonFor(err))
	c.end = true
	return errSent
}

// loggedIn opens the user's store and enters the authenticated state.
func (c *conn) loggedIn(id auth.Identity) error {
	u, err := c.s.Backend.OpenUser(c.nc.Ctx, id)
	if err == nil && u == nil {
		err = errNoData
	}
	if err != nil {
		st := c.mapError(err)
		if st == nil {
			return errShutdown
		}
		if st.code == string(CodeServerBug) {
			return no(string(CodeUnavailable), "Mail store temporarily unavailable")
		}
		return st
	}
	c.user = u
	c.id = id
	c.state = stateAuth
	c.bad = 0
	c.log(slog.LevelDebug, "mail store opened")
	return ok("CAPABILITY "+c.capabilities(), "Logged in")
}
