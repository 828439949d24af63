package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// imapSession is the part every IMAP worker client shares: a logged-in
// session with the mailbox selected.
type imapSession struct {
	cfg    *config
	env    *runEnv
	i      int
	c      *imapConn
	exists int64
}

func (s *imapSession) open(ctx context.Context, rec *recorder) error {
	c, err := dialIMAP(ctx, s.env.imap, s.i, rec)
	if err != nil {
		return err
	}
	if err := c.login(ctx, s.cfg.user(s.i), rec); err != nil {
		c.close()
		return err
	}
	s.c = c
	return nil
}

func (s *imapSession) selectMailbox(rec *recorder) error {
	n, err := s.c.selectMailbox(s.cfg.mailbox, rec)
	s.exists = n
	return err
}

func (s *imapSession) close(rec *recorder) {
	if s.c == nil {
		return
	}
	if rec != nil {
		s.c.logout(rec)
	} else {
		s.c.close()
	}
	s.c = nil
}

// fetchClient is imap-flags and imap-sync: a client that opens the mailbox
// and fetches something of every message.
type fetchClient struct {
	imapSession
	cmd   string
	phase string
}

func newFlagsClient(cfg *config, env *runEnv, i int) client {
	return &fetchClient{imapSession: imapSession{cfg: cfg, env: env, i: i}, cmd: "UID FETCH 1:* (UID FLAGS)", phase: "fetch-flags"}
}

func newSyncClient(cfg *config, env *runEnv, i int) client {
	return &fetchClient{imapSession: imapSession{cfg: cfg, env: env, i: i}, cmd: "FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)", phase: "fetch-sync"}
}

func (f *fetchClient) open(ctx context.Context, rec *recorder) error {
	if err := f.imapSession.open(ctx, rec); err != nil {
		return err
	}
	return f.selectMailbox(rec)
}

func (f *fetchClient) op(ctx context.Context, rec *recorder) error {
	if f.exists == 0 {
		return errors.New("the mailbox is empty: populate it first")
	}
	t0 := time.Now()
	var n int64
	if _, err := f.c.command(f.cmd, func(line []byte) {
		if isFetch(line) {
			n++
		}
	}); err != nil {
		return err
	}
	rec.add(f.phase, time.Since(t0))
	if n < f.exists {
		return fmt.Errorf("%s: %d FETCH responses for %d messages", f.cmd, n, f.exists)
	}
	rec.info["messages"] = n
	return nil
}

// searchClient is imap-search.
type searchClient struct {
	imapSession
	cmd string
}

func newSearchClient(cfg *config, env *runEnv, i int) client {
	q, _ := quote(cfg.word)
	return &searchClient{imapSession: imapSession{cfg: cfg, env: env, i: i}, cmd: "UID SEARCH TEXT " + q}
}

func (s *searchClient) open(ctx context.Context, rec *recorder) error {
	if _, ok := quote(s.cfg.word); !ok {
		return errors.New("-word: only ASCII words without CR or LF")
	}
	if err := s.imapSession.open(ctx, rec); err != nil {
		return err
	}
	return s.selectMailbox(rec)
}

func (s *searchClient) op(ctx context.Context, rec *recorder) error {
	t0 := time.Now()
	var matches int64
	if _, err := s.c.command(s.cmd, func(line []byte) {
		if rest, ok := bytes.CutPrefix(line, []byte("* SEARCH")); ok {
			matches += int64(len(bytes.Fields(rest)))
		}
	}); err != nil {
		return err
	}
	rec.add("search", time.Since(t0))
	rec.info["matches"] = matches
	return nil
}

// appendClient is imap-append.
type appendClient struct {
	imapSession
	seq *atomic.Int64
}

var appendSeq atomic.Int64

func newAppendClient(cfg *config, env *runEnv, i int) client {
	return &appendClient{imapSession: imapSession{cfg: cfg, env: env, i: i}, seq: &appendSeq}
}

func (a *appendClient) open(ctx context.Context, rec *recorder) error {
	if err := a.imapSession.open(ctx, rec); err != nil {
		return err
	}
	caps, err := a.c.capabilities()
	if err != nil {
		return err
	}
	if !caps["UIDPLUS"] && !caps["IMAP4REV2"] {
		return errors.New("the server offers neither UIDPLUS nor IMAP4rev2: APPENDUID cannot be checked")
	}
	if !strings.EqualFold(a.cfg.mailbox, "INBOX") {
		q, _ := quote(a.cfg.mailbox)
		a.c.command("CREATE "+q, nil) // NO [ALREADYEXISTS] is fine
	}
	return nil
}

func (a *appendClient) op(ctx context.Context, rec *recorder) error {
	u := a.cfg.user(a.i).user
	msg := sizedMessage(u, u, a.cfg.size, fmt.Sprintf("append-%d-%d", time.Now().UnixNano(), a.seq.Add(1)))
	t0 := time.Now()
	st, err := a.c.appendMessage(a.cfg.mailbox, `(\Seen)`, msg)
	if err != nil {
		return err
	}
	rec.add("append", time.Since(t0))
	if _, ok := st.code("APPENDUID "); !ok {
		return fmt.Errorf("IMAP APPEND: no APPENDUID in %q", st.line)
	}
	return nil
}
