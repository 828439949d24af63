package imap4

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mailfront/mailfront/auth"
)

// A Backend gives the IMAP server access to users' mailboxes. The frontend
// owns the protocol — sequence numbers, FETCH rendering, SEARCH, IDLE,
// unilateral responses — so a backend deals only in mailboxes, UIDs, flags
// and message bytes. A Backend must be safe for concurrent use.
//
// # Optional interfaces
//
// A backend can do more by implementing optional interfaces on its
// [Mailbox]; the frontend detects them once per opened mailbox, looking
// through wrappers that have an Unwrap() Mailbox method (so logging and
// metrics wrappers keep working):
//
//   - [Mover]: atomic MOVE. Without it, MOVE is COPY, then flag \Deleted,
//     then EXPUNGE of the moved UIDs.
//   - [StructureCache]: keeps the parsed MIME structure of each message, so
//     ENVELOPE, BODYSTRUCTURE and section fetches do not re-read and
//     re-parse the message. Without it, the frontend parses on each use
//     (and caches within the session).
//   - [Searcher]: answers the text criteria of SEARCH (HEADER, FROM, TO,
//     CC, BCC, SUBJECT, BODY, TEXT) with an index, one [SearchQuery] at a
//     time; the frontend evaluates the rest (flags, dates, sizes, sets,
//     NOT/OR) from its view. Without it, or for a query it declines with
//     [ErrCannot], the frontend reads the messages and matches them itself.
type Backend interface {
	// OpenUser opens the mail store of an authenticated user. It is called
	// once per session, after login; the server calls User.Close when the
	// session ends.
	OpenUser(ctx context.Context, id auth.Identity) (User, error)
}

// BackendFunc adapts a function to the [Backend] interface.
type BackendFunc func(ctx context.Context, id auth.Identity) (User, error)

// OpenUser calls f(ctx, id).
func (f BackendFunc) OpenUser(ctx context.Context, id auth.Identity) (User, error) {
	return f(ctx, id)
}

// Mailbox names.
//
// Names given to and returned by a backend are UTF-8 with "/" as the
// hierarchy delimiter (the frontend converts from and to modified UTF-7 for
// IMAP4rev1 clients). The frontend validates names before the backend sees
// them: no empty levels, no "." or ".." levels, no control characters, no
// "*" or "%", bounded length and depth. "INBOX" (in any case from the
// client) always reaches the backend spelled "INBOX". A backend must still
// not trust a name to be a safe path.
const Delimiter = '/'

// MailboxInfo describes one mailbox in a listing.
type MailboxInfo struct {
	// Name is the full name, with "/" between levels.
	Name string
	// SpecialUse is the mailbox's special use attribute (RFC 6154):
	// "\Drafts", "\Sent", "\Trash", "\Junk", "\Archive", "\All",
	// "\Flagged", or empty.
	SpecialUse string
	// Subscribed reports whether the user is subscribed to the mailbox.
	Subscribed bool
	// NonExistent marks a subscription to a mailbox that does not exist
	// (RFC 5258 \NonExistent); such an entry has Subscribed set.
	NonExistent bool
	// NoSelect marks a name that exists only as a level of the hierarchy
	// and holds no messages (\Noselect).
	NoSelect bool
}

// CreateOptions are the options of CREATE.
type CreateOptions struct {
	// SpecialUse is the special use requested with CREATE-SPECIAL-USE
	// (RFC 6154 §3), or empty. A backend that cannot honour it returns an
	// error wrapping [ErrCannot] ("NO [USEATTR]").
	SpecialUse string
}

// A User is one user's mail store, opened for one session. Its methods are
// called from one goroutine at a time.
type User interface {
	// ListMailboxes returns every mailbox of the user, including INBOX,
	// plus subscriptions to mailboxes that do not exist (NonExistent).
	// Order does not matter; the frontend matches LIST patterns.
	ListMailboxes(ctx context.Context) ([]MailboxInfo, error)

	// Status returns the counters of a mailbox without opening it, for
	// STATUS and LIST-STATUS. A missing mailbox is [ErrNoSuchMailbox].
	Status(ctx context.Context, name string) (MailboxStatus, error)

	// CreateMailbox creates a mailbox, and the levels above it as needed.
	// An existing name is [ErrMailboxExists].
	CreateMailbox(ctx context.Context, name string, opts *CreateOptions) error

	// DeleteMailbox deletes a mailbox and its messages. The frontend never
	// asks to delete INBOX. A mailbox with children becomes NoSelect
	// instead, as RFC 9051 §6.3.9 describes; a NoSelect name with children
	// cannot be deleted ([ErrHasChildren]).
	DeleteMailbox(ctx context.Context, name string) error

	// RenameMailbox renames a mailbox and everything below it. Renaming
	// INBOX moves its messages to the new mailbox and leaves INBOX empty
	// (RFC 9051 §6.3.10). A missing source is [ErrNoSuchMailbox]; an
	// existing target is [ErrMailboxExists]. The renamed mailbox gets a new
	// UIDVALIDITY unless the backend keeps its UIDs.
	RenameMailbox(ctx context.Context, oldName, newName string) error

	// SetSubscribed adds or removes a subscription. Subscribing to a
	// mailbox that does not exist is allowed.
	SetSubscribed(ctx context.Context, name string, subscribed bool) error

	// OpenMailbox opens a mailbox for SELECT or EXAMINE (and for APPEND,
	// COPY targets are named by string). A missing mailbox is
	// [ErrNoSuchMailbox]. The server calls Mailbox.Close.
	OpenMailbox(ctx context.Context, name string) (Mailbox, error)

	// Close ends the session's use of the store.
	Close() error
}

// UID is a message's unique identifier in its mailbox (RFC 9051 §2.3.1.1):
// assigned in ascending order, never reused while UIDVALIDITY stays the same.
type UID uint32

// ModSeq is a modification sequence (RFC 7162): every change to a message
// (its arrival, a flag change, its expunge) gets a number greater than any
// before it in the mailbox.
type ModSeq uint64

// Flags used by IMAP. Keywords are any other atom without a backslash.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// MessageMeta is what the frontend needs to know about a message without
// reading it.
type MessageMeta struct {
	// UID is the message's UID.
	UID UID
	// Flags are the message's flags and keywords. System flags are spelled
	// as the Flag constants; keywords as they were first stored. The
	// frontend never modifies the slice, so a backend may share it between
	// messages with the same flags.
	Flags []string
	// ModSeq is the message's modification sequence, > 0.
	ModSeq ModSeq
	// Size is the message's size in octets (RFC822.SIZE), as Open returns
	// it: with CRLF line endings.
	Size int64
	// InternalDate is when the message arrived (or the date given to
	// APPEND).
	InternalDate time.Time
}

// MailboxStatus holds a mailbox's counters.
type MailboxStatus struct {
	// UIDValidity is never 0, and changes when UIDs of the mailbox may have
	// been reassigned (a mailbox deleted and created again).
	UIDValidity uint32
	// UIDNext is the UID the next message will get; it never decreases.
	UIDNext UID
	// HighestModSeq is the highest ModSeq of the mailbox, including
	// expunges (RFC 7162).
	HighestModSeq ModSeq
	// Messages, Unseen (messages without \Seen) and Deleted (messages with
	// \Deleted) count the messages.
	Messages, Unseen, Deleted uint32
	// Size is the total size of the messages in octets (STATUS=SIZE).
	Size int64
}

// SyncData is a mailbox's state, or what changed in it, as [Mailbox.Sync]
// returns it.
type SyncData struct {
	MailboxStatus
	// Messages are the metadata of the messages, in ascending UID order:
	// every message when Sync was called with 0, otherwise only the
	// messages added or changed after the given ModSeq.
	Messages []MessageMeta
	// Expunged are the UIDs of messages expunged after the given ModSeq,
	// in ascending order (empty when Sync was called with 0). A backend
	// that does not remember every expunge may return a superset: UIDs
	// that were never in the mailbox are harmless.
	Expunged []UID
}

// StoreOp is how [Mailbox.SetFlags] changes flags.
type StoreOp int

// Store operations (STORE FLAGS, +FLAGS, -FLAGS).
const (
	StoreReplace StoreOp = iota
	StoreAdd
	StoreRemove
)

// StoreOptions are the options of [Mailbox.SetFlags].
type StoreOptions struct {
	// UnchangedSince, when non-zero, applies the change only to messages
	// whose ModSeq is not greater (RFC 7162 UNCHANGEDSINCE); the others
	// are reported in StoreResult.Modified. The frontend answers
	// UNCHANGEDSINCE 0 (which always fails) itself and never passes 0 in
	// a non-nil StoreOptions.
	UnchangedSince ModSeq
}

// StoreResult is the outcome of [Mailbox.SetFlags].
type StoreResult struct {
	// Updated holds the new metadata of every message whose flags
	// changed. A message whose flags did not change keeps its ModSeq and
	// is not listed.
	Updated []MessageMeta
	// Modified lists the UIDs not changed because of UnchangedSince.
	Modified []UID
}

// AppendOptions are the options of [Mailbox.Append].
type AppendOptions struct {
	// Flags to set on the new message.
	Flags []string
	// InternalDate is the date to record; zero means now.
	InternalDate time.Time
}

// AppendResult is the outcome of [Mailbox.Append]: what APPENDUID
// reports (RFC 4315).
type AppendResult struct {
	// UIDValidity is the mailbox's UIDVALIDITY.
	UIDValidity uint32
	// UID is the new message's UID.
	UID UID
}

// CopyResult is the outcome of a copy or move: what COPYUID reports
// (RFC 4315). Source[i] was copied to Dest[i].
type CopyResult struct {
	// UIDValidity is the destination mailbox's UIDVALIDITY.
	UIDValidity uint32
	// Source holds the UIDs copied, in the source mailbox.
	Source []UID
	// Dest holds the UIDs of the copies, in the destination mailbox.
	Dest []UID
}

// A Message is the content of one message, opened for reading. Content
// uses CRLF line endings and is exactly Size() bytes long.
type Message interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// A Mailbox is an opened mailbox. The server calls its methods from one
// goroutine at a time, and calls Close exactly once. Every method may be
// called on a mailbox opened by several sessions at once (and changed by
// other programs); the backend keeps them consistent.
type Mailbox interface {
	// Sync returns the mailbox's counters and its messages changed after
	// since: all of them (since == 0, at SELECT), or the ones added or
	// whose flags changed, plus the UIDs expunged (since > 0, when [Watch]
	// has signalled or before a command's response). A message appended
	// and expunged after since may appear in Expunged only.
	//
	// The frontend never modifies the returned SyncData or its slices, so
	// a backend may hand the same SyncData to several callers, for
	// instance one result of Sync(0) to every SELECT until the mailbox
	// changes (store/maildir does).
	Sync(ctx context.Context, since ModSeq) (*SyncData, error)

	// Watch returns a channel that receives a value whenever the mailbox
	// may have changed — through another Mailbox of any session, a POP3
	// deletion, a delivery, or another program writing the store — at
	// most a second or so after the change. Sends never block: a pending
	// value stands for any number of changes. The channel is the same on
	// every call and is closed by Close.
	Watch() <-chan struct{}

	// Open opens a message's content. A message that has been expunged is
	// [ErrNoSuchMessage].
	Open(ctx context.Context, uid UID) (Message, error)

	// Append adds a message, reading its content (CRLF line endings) from
	// r until EOF. If reading r fails, Append must leave nothing behind.
	// The message is durable when Append returns nil: the server then
	// answers OK.
	Append(ctx context.Context, r io.Reader, opts *AppendOptions) (AppendResult, error)

	// SetFlags changes the flags of messages; UIDs that no longer exist
	// are ignored. The backend assigns a new ModSeq to every message whose
	// flags change.
	SetFlags(ctx context.Context, uids []UID, op StoreOp, flags []string, opts *StoreOptions) (*StoreResult, error)

	// Expunge removes the given messages permanently and returns the UIDs
	// it removed, in ascending order. The frontend passes only messages it
	// saw flagged \Deleted; a backend may leave out those whose \Deleted
	// flag another session has removed since (RFC 9051 §6.4.3 expunges
	// what is flagged at the time), and UIDs no longer in the mailbox.
	Expunge(ctx context.Context, uids []UID) ([]UID, error)

	// CopyTo copies messages, with their flags and internal dates, to the
	// mailbox named dest, and returns the UID mapping. A missing dest is
	// [ErrNoSuchMailbox] (the client sees NO [TRYCREATE]).
	CopyTo(ctx context.Context, uids []UID, dest string) (*CopyResult, error)

	// Close releases the mailbox.
	Close() error
}

// A Mover is a [Mailbox] that can move messages atomically (RFC 6851).
// Without it MOVE is done as CopyTo, SetFlags \Deleted and Expunge.
type Mover interface {
	MoveTo(ctx context.Context, uids []UID, dest string) (*CopyResult, error)
}

// A StructureCache is a [Mailbox] that stores, for each message, the parsed
// structure the frontend computes (an opaque, versioned byte string), so
// that ENVELOPE, BODYSTRUCTURE and section fetches need not re-parse the
// message. Without it the frontend parses on each use, keeping results only
// for the session.
type StructureCache interface {
	// CachedStructure returns the stored structure of a message, or
	// ok false.
	CachedStructure(ctx context.Context, uid UID) (data []byte, ok bool)
	// CacheStructure stores a message's structure. Errors are ignored by
	// the frontend; a backend may drop entries at will.
	CacheStructure(ctx context.Context, uid UID, data []byte)
}

// SearchKind is what a [SearchQuery] looks at.
type SearchKind int

// Kinds of text criteria (RFC 9051 §6.4.4).
const (
	// SearchHeader matches a header field of the message (SEARCH HEADER,
	// FROM, TO, CC, BCC, SUBJECT).
	SearchHeader SearchKind = iota + 1
	// SearchBody matches the text of the message's body (SEARCH BODY).
	SearchBody
	// SearchText matches the header or the body (SEARCH TEXT).
	SearchText
)

// A SearchQuery is one text criterion of SEARCH, as a [Searcher] sees it.
type SearchQuery struct {
	// Kind says which text the query searches.
	Kind SearchKind
	// Field is the header field name of a SearchHeader query, as the
	// client spelled it ("Subject"); compare it case-insensitively.
	Field string
	// Value is the text to find, in UTF-8: a case-insensitive substring
	// of the decoded text (RFC 2047 encoded words, transfer encodings and
	// charsets decoded). An empty Value matches every message that has
	// the field (SearchHeader) or every message.
	Value string
}

// A Searcher is a [Mailbox] that evaluates the text criteria of SEARCH
// with an index. The frontend evaluates everything else (flags, dates,
// sizes, sets, and the boolean structure) from its view, and asks the
// Searcher once per text criterion of a SEARCH command. Without it, or when
// Search returns an error wrapping [ErrCannot], the frontend reads the
// messages and matches them itself.
type Searcher interface {
	// Search returns the UIDs among uids (ascending) of the messages that
	// match q, in ascending order.
	Search(ctx context.Context, q SearchQuery, uids []UID) ([]UID, error)
}

// An Unwrapper is a [Mailbox] wrapper that gives access to the mailbox it
// wraps, so the frontend can find optional interfaces through it.
type Unwrapper interface {
	Unwrap() Mailbox
}

// Sentinel errors a backend returns (wrapped with %w as it likes). The
// frontend maps them to response codes (RFC 5530); any other error is
// "NO [SERVERBUG]" on the wire and logged.
var (
	// ErrNoSuchMailbox: "NO [NONEXISTENT]", or "NO [TRYCREATE]" for APPEND,
	// COPY and MOVE targets.
	ErrNoSuchMailbox = errors.New("imap4: no such mailbox")
	// ErrMailboxExists: "NO [ALREADYEXISTS]".
	ErrMailboxExists = errors.New("imap4: mailbox already exists")
	// ErrHasChildren: "NO [HASCHILDREN]" (deleting a \Noselect name with
	// children).
	ErrHasChildren = errors.New("imap4: mailbox has children")
	// ErrNoSuchMessage: the message was expunged.
	ErrNoSuchMessage = errors.New("imap4: no such message")
	// ErrReadOnly: "NO [READ-ONLY]".
	ErrReadOnly = errors.New("imap4: mailbox is read-only")
	// ErrQuotaExceeded: "NO [OVERQUOTA]".
	ErrQuotaExceeded = errors.New("imap4: quota exceeded")
	// ErrMessageTooLarge: "NO [TOOBIG]".
	ErrMessageTooLarge = errors.New("imap4: message too large")
	// ErrCannot: "NO [CANNOT]", an operation the backend cannot perform.
	ErrCannot = errors.New("imap4: operation not possible")
	// ErrMailboxInUse: "NO [INUSE]".
	ErrMailboxInUse = errors.New("imap4: mailbox in use")
)
