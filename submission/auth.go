package submission

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/mailfront/mailfront"
	"github.com/mailfront/mailfront/auth"
	"github.com/mailfront/mailfront/internal/authsrv"
	"github.com/mailfront/mailfront/internal/netsrv"
	"github.com/mailfront/mailfront/internal/wire"
)

// cmdAuth runs a SASL exchange (RFC 4954). The policy, throttle, audit hook
// and the identical reply for every credential failure come from authsrv;
// this function only frames challenges as "334 <base64>" and maps errors.
func (c *conn) cmdAuth(arg string) action {
	switch {
	case c.id != nil:
		return c.refused(reply{503, "5.5.1", "Already authenticated"})
	case c.tx != nil:
		return c.refused(reply{503, "5.5.1", "AUTH is not permitted during a mail transaction"})
	}
	mech, ir, _ := strings.Cut(arg, " ")
	if mech == "" || strings.ContainsAny(ir, " \t") {
		return c.refused(reply{501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"})
	}
	mech = strings.ToUpper(mech)
	var initial []byte
	if ir != "" {
		initial = []byte(ir)
	}
	var readErr error
	id, err := c.auth.SASL(c.nc.Ctx, mech, initial, func(challenge string) ([]byte, error) {
		c.writeReply(334, "", challenge)
		if err := c.nc.Flush(); err != nil {
			readErr = err
			return nil, err
		}
		line, err := c.nc.ReadLine(authLineMax, c.cfg.readTimeout)
		if err != nil {
			readErr = err
			return nil, err
		}
		c.nc.Trace("C", "<redacted>")
		return append([]byte(nil), line...), nil
	})
	if readErr != nil {
		switch {
		case errors.Is(readErr, wire.ErrLineTooLong):
			return c.fatal(reply{500, "5.5.6", "Authentication exchange line is too long"}, mailfront.ProtocolError)
		case errors.Is(readErr, netsrv.ErrTimeout):
			return c.fatal(replyTimeout, mailfront.IdleTimeout)
		}
		c.nc.SetCloseReason(mailfront.ReadError)
		return closeConn
	}
	switch {
	case err == nil:
		c.id = &id
		c.bad = 0
		c.reply(reply{235, "2.7.0", "Authentication successful"})
		return proceed
	case errors.Is(err, auth.ErrUnsupportedMechanism):
		return c.refused(reply{504, "5.5.4", "Unrecognized authentication mechanism"})
	case errors.Is(err, auth.ErrEncryptionRequired):
		if c.nc.CanStartTLS() {
			return c.refused(reply{530, "5.7.0", "Must issue a STARTTLS command first"})
		}
		return c.refused(reply{538, "5.7.11", "Encryption required for requested authentication mechanism"})
	case errors.Is(err, auth.ErrMalformed):
		c.reply(reply{501, "5.5.2", "Malformed authentication response"})
	case errors.Is(err, auth.ErrCanceled):
		c.reply(reply{501, "5.7.0", "Authentication cancelled"})
		return proceed
	case errors.Is(err, auth.ErrInvalidCredentials):
		c.reply(reply{535, "5.7.8", "Authentication credentials invalid"})
	case errors.Is(err, auth.ErrUnavailable):
		c.reply(reply{454, "4.7.0", "Temporary authentication failure, try again later"})
		return proceed
	case errors.Is(err, authsrv.ErrUserConnLimit):
		return c.fatal(reply{421, "4.7.0", "Too many connections for this user from this address"}, mailfront.LimitExceeded)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if c.nc.ShuttingDown() || c.nc.Ctx.Err() != nil {
			return c.fatal(replyShutdown, mailfront.Shutdown)
		}
		c.reply(reply{454, "4.7.0", "Temporary authentication failure, try again later"})
		return proceed
	default:
		c.nc.Logger.LogAttrs(c.nc.Ctx, slog.LevelError, "authentication error", slog.String("mech", mech), slog.Any("err", err))
		c.reply(reply{454, "4.7.0", "Temporary authentication failure, try again later"})
		return proceed
	}
	if c.auth.TooManyFailures() {
		return c.fatal(reply{421, "4.7.0", "Too many failed authentication attempts"}, mailfront.AuthFailures)
	}
	return proceed
}
