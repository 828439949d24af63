// Package maildir is mailfront's durable mail store: standard Maildir++
// directories, one per user, served to the IMAP, POP3 and submission
// servers at once, and shared with other programs that deliver into or
// read the same directories (Postfix, procmail, an LMTP agent, mutt,
// mbsync).
//
// A [Store] with Root set implements [imap4.Backend] (with the optional
// [imap4.Mover] and [imap4.StructureCache] on its mailboxes),
// [pop3.Backend], [submission.Backend] (local delivery) and
// [submission.RecipientChecker]:
//
//	st := &maildir.Store{Root: "/var/lib/mailfront/mail"}
//	defer st.Close()
//	imapSrv := &imap4.Server{Backend: st, Authenticator: users}
//	popSrv := &pop3.Server{Backend: st, Authenticator: users}
//	subSrv := &submission.Server{Backend: st, Authenticator: users}
//
// # On-disk layout
//
//	ROOT/                              Store.Root
//	  alice@example.org/               a user's Maildir++ root (lower-cased user name)
//	    cur/ new/ tmp/                 INBOX
//	    .Sent/ .Drafts/ .Trash/ .Junk/ .Archive/   special-use folders, made for a new user
//	    .Work/ .Work.2024/             "Work" and "Work/2024"
//	      cur/ new/ tmp/ maildirfolder
//	      mailfront-specialuse         "\Sent", ... (special-use folders only)
//	    subscriptions                  subscribed names, one per line, "/" between levels
//	    mailfront-uidvalidity          last UIDVALIDITY handed out to a folder of the user
//	    mailfront-lock                 flock held by the process serving the user
//	  and in every folder directory (the user's root for INBOX):
//	    mailfront-uids                 UIDVALIDITY and the UID and modseq ceilings
//	    mailfront-index                index snapshot
//	    mailfront-index.log            index journal since the snapshot
//	    mailfront-cache                parsed message structure (imap4.StructureCache)
//
// User names: a user's directory is the user name lower-cased (so names are
// case-insensitive). Names that are not one safe path element are refused:
// empty, over 200 bytes, not UTF-8, holding "/", "\", ":", NUL, control
// characters or white space, or starting with ".". A user whose name is a
// prefix of another's has a sibling directory and cannot reach the other's
// files.
//
// Mailbox names: IMAP names use "/" between levels; on disk, each level is
// written in modified UTF-7 (RFC 3501 §5.1.3, as Courier and Dovecot store
// Maildir++ names), the levels joined with "." after a leading ".". A "."
// inside a level is written "&AC4-" (its modified UTF-7 form), so it cannot
// be taken for a separator. The encoding is deterministic and the decoder
// refuses every other spelling, so the mapping is reversible and
// injective; directories that do not decode (made by other programs with
// another scheme) are not shown. Names with empty, "." or ".." levels or
// control characters are refused, so no mailbox name reaches outside the
// user's root.
//
// Message files are named as maildir(5) describes:
//
//	1700000000.M123456P4242Q7R0123456789abcdef.host,S=1234,W=1260,MF=1700000000.42:2,FS
//
// S= is the file size and W= the size with CRLF line endings (Dovecot's
// fields); MF=UIDVALIDITY.UID is this store's UID tag; ":2," is followed by
// the flag letters every Maildir program understands: D (\Draft),
// F (\Flagged), P (passed: the $Forwarded keyword), R (\Answered),
// S (\Seen), T (\Deleted). Keywords are the letters a-z, as Dovecot
// writes them, mapped by the folder's dovecot-keywords file ("0 $Label1"
// makes "a" mean $Label1; the first 26 keywords of a folder get a letter,
// and $Forwarded gets one beside P, since Dovecot knows it only as a
// keyword). The index is the truth while it is there; the letters let an
// index rebuilt from the file names keep the keywords, and let Dovecot and
// this store read each other's Maildirs. Other letters are kept as they
// are.
//
// Line endings: messages the store writes (APPEND, submission) are stored
// and served exactly as received: with CRLF line endings, or binary
// content (BINARYMIME) that must not be touched. A file delivered by
// another program with bare LF line endings is left as it is: its CRLF
// size is computed once, when it is adopted, and its content is converted
// to CRLF while it is read (a reader with checkpoints every 64 KiB keeps
// ReadAt at any offset cheap).
//
// # The index
//
// Each folder's state — UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, every
// message's UID, modseq, flags, keywords, internal date (also the file's
// mtime), sizes and file name, and recent expunges for Sync(since) — is in
// the index: a snapshot replaced atomically (written, fsynced, renamed,
// directory fsynced) and a journal of checksummed records appended and
// fsynced before a change is acknowledged or shown to any session. The
// journal is folded into a new snapshot when it grows past half the
// snapshot (and 1 MiB), and when the user is unloaded if it is over
// 64 KiB.
// Expunge records beyond the last 100,000 are forgotten; a client syncing
// from before them is told every absent UID (a superset, as the imap4
// contract allows).
//
// Opening a mailbox reads the snapshot and the journal and stats new/ and
// cur/: if their mtimes are the ones recorded (and were old enough to be
// trusted when recorded), the directories are not read, so opening a large
// mailbox costs neither a readdir nor a stat per message.
//
// The index is never trusted blindly: a file that fails its checksum or
// its invariants, a journal that does not belong to the snapshot, or a
// snapshot whose UIDVALIDITY disagrees with mailfront-uids makes the
// folder be rebuilt from the directories. The rebuild keeps UIDs: every
// file this store names carries its UID (the MF tag), and mailfront-uids
// holds ceilings below which every UID and modseq ever handed out lies
// (raised, durably, in steps, before a number above is used), so a rebuilt
// folder keeps its UIDVALIDITY, gives tagged messages their UIDs back,
// gives other files new UIDs above every one ever used, and starts its
// modseqs above every one ever shown. Keywords, which only the index holds,
// are lost in a rebuild. Only when mailfront-uids is lost too does the
// folder get a new UIDVALIDITY. A truncated journal (a torn last record) is
// cut at its last whole record.
//
// # Durability
//
// A message is acknowledged (Append returns, Submit returns, which lets
// the servers answer OK and 250) only after its file was written in tmp/,
// fsynced, renamed (or, for copies and multi-recipient deliveries, hard
// linked) into cur/ under a name holding its UID, cur/ fsynced, and its
// index record fsynced. If the process dies at any instant, an
// acknowledged message is there after a restart, with its UID, and no
// partial message is ever visible (a message is in tmp/ until it is
// complete and synced; files in tmp/ are never shown). A message renamed
// into cur/ whose journal record did not make it is found by its name
// after a restart and keeps its UID. Flag changes rename the file (system
// flags) and are journaled, fsynced, before SetFlags returns; expunges
// remove the file, fsync cur/ and the journal. A move renames each file
// into the destination, then fsyncs the destination's cur/ before the
// source's: a process crash leaves the message in one mailbox or the
// other, and so does a power failure on file systems that commit a rename
// in one step (ext4, XFS, btrfs); elsewhere a power failure between the
// two fsyncs may leave it in both, never in neither.
//
// When the disk is full, the quota is exceeded or a write, fsync or rename
// fails, the operation returns an error (wrapping [imap4.ErrQuotaExceeded]
// or [submission.ErrQuotaExceeded] for ENOSPC and EDQUOT), the temporary
// file is removed, and the folder's in-memory state is dropped and
// reloaded from disk, so that nothing that failed to be made durable is
// ever shown. A failed append, delivery, copy or flag change is undone; an
// expunge or a move that fails half-way may have removed or moved some of
// its messages, which the reload then reports as such.
//
// # Other programs
//
// Messages that other programs put in new/ (or cur/) appear to IMAP and
// POP3 sessions without a restart: while a session has a mailbox open, a
// poller stats new/ and cur/ every [Store.PollInterval] (default 500 ms),
// and sessions' commands do the same at most as often. New files are
// adopted (read once for their CRLF size, given a UID, renamed into cur/
// with S=, W= and the MF tag), files renamed by another program (a flag
// change in the info suffix by mutt or mbsync, or a changed unique part
// that keeps the MF tag) keep their UIDs and get their new flags, and
// files that vanished are expunged. Watch channels are signalled.
//
// One process at a time serves a user: the process holding a user's
// mailfront-lock (flock) is the only one that changes the user's index.
// Another process using a Store on the same directory (a second server
// instance) gets an error for that user rather than corrupting it; other
// programs should deliver the Maildir way, into new/. Without flock
// (non-Unix systems) this is not enforced. A Store holds the lock from the
// user's first session or delivery until it unloads the user, idle users
// included (see Concurrency).
//
// # Concurrency
//
// Every session of a user in the process shares one state per folder,
// guarded by a mutex, so changes made by one session, a POP3 QUIT or a
// delivery are seen by the others at once and signalled on their Watch
// channels. POP3 takes an exclusive per-user lock ([pop3.ErrMaildropLocked]
// for a second session); IMAP sessions may use the INBOX meanwhile, and a
// message they expunge is reported gone to POP3 (and skipped by its
// Delete).
//
// When a user's last session ends (or a delivery is done), the user stays
// loaded, idle: the folders it used keep their index in memory and their
// journal open, so that a client that polls (connects, selects, logs out,
// again and again) or the next delivery does not read the index again. Up
// to [Store.MaxIdleUsers] users (default 64) stay idle, each at most
// [Store.IdleUnload] (default 10 minutes), the least recently used
// unloaded first. There is no timer: the bounds are applied whenever the
// store is used (a session opens or ends, a delivery, a poller's tick),
// and [Store.Close] unloads every user.
//
// An idle user keeps its mailfront-lock: its in-memory index is valid only
// as long as no other process changes the index files, and the lock is what
// keeps a second server instance out. So a second process cannot use a
// user until this Store unloads it (at the latest IdleUnload after its
// last session, if the store is used meanwhile) or closes. Set
// MaxIdleUsers negative to release a user's lock with its last session.
//
// Other programs may change the directories while a user is idle. The
// next session (or delivery) checks, before using the cached state, that
// the user's lock file is still the one it holds (else the directory was
// removed or replaced and the user is loaded afresh) and that each folder's
// journal is the open file, of the length written, and its snapshot of the
// length written (else the folder reloads its index); a session's first
// command then stats new/ and cur/ and reads them if their mtimes moved,
// as it does every PollInterval. These checks cost a few stat calls. A
// delivery does not look at the directories (it adds a message whatever
// else is there), so a stream of deliveries does not read a large cur/
// whose mtime each of them moves.
package maildir
