package pop3

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mailfront/mailfront/auth"
)

// A Backend gives the POP3 server access to maildrops. It is the only
// interface a host must implement; it must be safe for concurrent use.
//
// Every context the server passes is cancelled when the client's connection
// ends (including [Server.Close]); it carries the connection's facts
// ([github.com/mailfront/mailfront.ConnInfoFromContext]).
type Backend interface {
	// OpenMaildrop opens, and locks for exclusive access, the maildrop of
	// an authenticated user (RFC 1939 §8). It is called once per session,
	// after a successful login. If another session holds the lock it
	// returns an error wrapping [ErrMaildropLocked], which the client sees as
	// "-ERR [IN-USE]". A backend may instead give each session a snapshot
	// (so that deletions in one never renumber another); it must then
	// tolerate Delete of messages already gone.
	OpenMaildrop(ctx context.Context, id auth.Identity) (Maildrop, error)
}

// BackendFunc adapts a function to the [Backend] interface.
type BackendFunc func(ctx context.Context, id auth.Identity) (Maildrop, error)

// OpenMaildrop calls f(ctx, id).
func (f BackendFunc) OpenMaildrop(ctx context.Context, id auth.Identity) (Maildrop, error) {
	return f(ctx, id)
}

// MessageInfo describes one message in a maildrop.
type MessageInfo struct {
	// UID is the message's unique id (RFC 1939 §7 UIDL): 1 to 70
	// characters in the range 0x21 to 0x7E, never reused for another
	// message in the maildrop, stable across sessions.
	UID string
	// Size is the message's size in octets as RETR sends it: with CRLF
	// line endings, before dot-stuffing (RFC 1939 §11). A backend that
	// stores bare LF line endings counts each as two octets
	// (wire-level helpers in stores use the same rule).
	//
	// The server reports Size in STAT, LIST and the "+OK n octets" line of
	// RETR, and trusts it: it does not read a message to measure it. If
	// Size is wrong, RETR still sends the message's real content (with CRLF
	// line endings) and the client sees a count that differs from what it
	// received; RFC 1939 §11 allows for that, but a backend should not rely
	// on it.
	Size int64
}

// A Maildrop is the locked maildrop of one session. The server calls its
// methods from one goroutine at a time, and calls Close exactly once.
//
// Optional interfaces ([TopOpener], [PolicyProvider]) are detected once, when
// OpenMaildrop returns, by type assertion on the Maildrop and then on what
// its Unwrap method returns, if it has one (Unwrap() Maildrop), so that
// logging or metrics wrappers need not re-implement them.
type Maildrop interface {
	// Messages lists the messages at the start of the session, in a stable
	// order (oldest first, as message numbers are assigned in this order).
	// It is called once per session.
	Messages(ctx context.Context) ([]MessageInfo, error)

	// Open returns the content of a message, with CRLF line endings (or
	// bare LF, which the server converts). The server reads it as it sends
	// it, so a large message costs no memory, and closes it. A message
	// that is gone returns an error wrapping [ErrNoSuchMessage]. An error
	// from Read after the server has begun to answer cannot be reported:
	// the server closes the connection without the terminating line, so
	// the client knows the message is incomplete.
	Open(ctx context.Context, uid string) (io.ReadCloser, error)

	// Delete removes messages permanently. It is called at most once, in
	// the UPDATE state after QUIT (RFC 1939 §6), never when the client
	// drops the connection. It should delete all or report an error; the
	// server then answers -ERR with [CodeSysTemp] as RFC 1939 §6 asks, and the
	// messages not deleted stay. A message already gone (an IMAP session
	// expunged it meanwhile) is not an error: the lock is on POP3 sessions
	// only, so every backend that also serves IMAP must tolerate it.
	Delete(ctx context.Context, uids []string) error

	// Close releases the lock. It is called when the session ends, however
	// it ends: QUIT, a dropped connection, a timeout, a shutdown, a panic.
	Close() error
}

// A TopOpener is a [Maildrop] that can return the header and the first
// lines of a message's body without reading the rest, for TOP (RFC 1939
// §7). Without it, the server reads the message from Open and stops after
// the requested lines, which is already streaming: implement TopOpener only
// if the storage can do better (a header cache, say).
type TopOpener interface {
	// OpenTop returns the header, the blank line after it, and at most
	// lines lines of the body, with CRLF line endings.
	OpenTop(ctx context.Context, uid string, lines int) (io.ReadCloser, error)
}

// A PolicyProvider is a [Maildrop] that states per-user POP3 policy, which
// the server announces in CAPA after login (RFC 2449 EXPIRE and
// LOGIN-DELAY) and enforces for LOGIN-DELAY. Without it, the server's own
// fields ([Server.ExpireDays], [Server.LoginDelay]) apply to every user.
type PolicyProvider interface {
	// Policy returns the user's policy. Zero fields fall back to the
	// server's settings. It is called once, right after Messages.
	Policy() MaildropPolicy
}

// MaildropPolicy is the per-user policy of a [PolicyProvider].
type MaildropPolicy struct {
	// ExpireDays is how many days the host keeps a message after the
	// client has retrieved it (RFC 2449 §6.7), announced as EXPIRE: 0
	// means the server's setting, [ExpireNever] "NEVER", and
	// [ExpireOnRetrieval] "0" (the client may not leave mail on the
	// server). The server only announces it; expiring messages is the
	// host's business (a backend sees every Open and can act on Close).
	ExpireDays int
	// LoginDelay is the minimum time between two logins of the user
	// (RFC 2449 §6.5), announced as LOGIN-DELAY in whole seconds and
	// enforced by the server: a login sooner than that after the previous
	// one is refused with "-ERR [LOGIN-DELAY]". 0 means the server's
	// setting, a negative value none.
	LoginDelay time.Duration
}

// Special values of [MaildropPolicy.ExpireDays] and [Server.ExpireDays].
const (
	// ExpireNever announces "EXPIRE NEVER": the host never expires
	// retrieved messages.
	ExpireNever = -1
	// ExpireOnRetrieval announces "EXPIRE 0": retrieved messages are
	// removed at the end of the session whether or not the client
	// deletes them.
	ExpireOnRetrieval = -2
)

// Sentinel errors a Backend returns (wrapped with %w as it likes). The
// server maps them to RFC 2449 / RFC 3206 response codes.
var (
	// ErrMaildropLocked means another session holds the maildrop:
	// "-ERR [IN-USE]".
	ErrMaildropLocked = errors.New("pop3: maildrop in use")
	// ErrNoSuchMessage means the message is gone.
	ErrNoSuchMessage = errors.New("pop3: no such message")
	// ErrLoginDelay means the user logged in too recently:
	// "-ERR [LOGIN-DELAY]". OpenMaildrop may return it to enforce a delay
	// that outlives the server process; the server's own check
	// ([MaildropPolicy.LoginDelay]) remembers logins in memory only.
	ErrLoginDelay = errors.New("pop3: login too soon after the previous one")
	// ErrPermanent marks a backend failure that will not go away by
	// retrying (a disabled mailbox): -ERR with [CodeSysPerm]. Other
	// unknown errors are reported with [CodeSysTemp].
	ErrPermanent = errors.New("pop3: permanent failure")
)
