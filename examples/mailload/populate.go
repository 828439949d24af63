package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// populateOptions is the command line of "mailload populate".
type populateOptions struct {
	dir   string // the Maildir (cur/ new/ tmp/) to fill
	n     int
	seed  uint64
	lf    bool // bare LF line endings, as Postfix and Dovecot's LDA write
	inNew bool // into new/ without flags, as just delivered
	start int  // index of the first message
}

// populateCmd implements "mailload populate".
func populateCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("mailload populate", flag.ContinueOnError)
	fs.SetOutput(out)
	var o populateOptions
	maildir := fs.String("maildir", "", "Maildir `directory` to fill (the one holding cur/ new/ tmp/; created when missing)")
	data := fs.String("data", "", "examples/mailserver data `directory`: fills DIR/mail/USER (with -user)")
	user := fs.String("user", "", "user `address` whose INBOX to fill under -data")
	folder := fs.String("folder", "", "Maildir++ `folder` instead of INBOX (\"Archive\" is DIR/.Archive)")
	fs.IntVar(&o.n, "n", 10000, "number of messages")
	fs.Uint64Var(&o.seed, "seed", 1, "seed: the same seed writes the same messages")
	fs.IntVar(&o.start, "start", 0, "index of the first message (to add messages to a population made with the same seed)")
	fs.BoolVar(&o.lf, "lf", false, "write bare LF line endings (as Postfix, procmail and Dovecot write Maildirs) instead of CRLF")
	fs.BoolVar(&o.inNew, "new", false, "write into new/ without flags (just delivered) instead of cur/ with flags (90% seen)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailload populate (-maildir DIR | -data DIR -user ADDRESS) [flags]\n\n"+
			"Writes N generated messages of realistic shape into a Maildir, deterministically from\n"+
			"the seed: 55%% text/plain, 30%% multipart/alternative, 15%% with an attachment; about 1%%\n"+
			"hold the word %q. Message files are named as maildir(5) says, with the S= and W=\n"+
			"sizes Dovecot reads, and their mtime is the message's date.\n\nflags:\n", searchNeedle)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *maildir != "" && *data != "":
		return errors.New("-maildir and -data are exclusive")
	case *maildir != "":
		o.dir = *maildir
	case *data != "" && *user != "":
		if strings.ContainsAny(*user, `/\`) || strings.HasPrefix(*user, ".") {
			return fmt.Errorf("-user: %q is not a user name", *user)
		}
		o.dir = filepath.Join(*data, "mail", strings.ToLower(*user))
	default:
		return errors.New("give -maildir DIR, or -data DIR and -user ADDRESS")
	}
	if *folder != "" {
		if strings.ContainsAny(*folder, "/.") {
			return errors.New("-folder: one level without dots, please")
		}
		o.dir = filepath.Join(o.dir, "."+*folder)
	}
	if o.n < 0 || o.start < 0 {
		return errors.New("-n and -start must not be negative")
	}
	t0 := time.Now()
	total, err := populate(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d messages (%s) into %s in %.1fs\n", o.n, humanBytes(float64(total)), o.dir, time.Since(t0).Seconds())
	return nil
}

// populate writes the messages and returns the octets written.
func populate(o populateOptions) (int64, error) {
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o700); err != nil {
			return 0, err
		}
	}
	if filepath.Base(o.dir)[0] == '.' {
		// A Maildir++ folder is marked as such.
		f, err := os.OpenFile(filepath.Join(o.dir, "maildirfolder"), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return 0, err
		}
		f.Close()
	}
	var total int64
	for i := o.start; i < o.start+o.n; i++ {
		msg, date, flags := genMessage(o.seed, i)
		vsize := len(msg)
		if o.lf {
			msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
		}
		name := maildirName(o.seed, i, date, len(msg), vsize)
		sub := "cur"
		if o.inNew {
			sub = "new"
		} else {
			name += ":2," + flags
		}
		path := filepath.Join(o.dir, sub, name)
		if err := os.WriteFile(path, msg, 0o600); err != nil {
			return total, err
		}
		if err := os.Chtimes(path, date, date); err != nil {
			return total, err
		}
		total += int64(len(msg))
	}
	return total, nil
}

// maildirName is the unique part of message i's file name, as maildir(5)
// describes it, with Dovecot's S= (file size) and W= (size with CRLF).
func maildirName(seed uint64, i int, date time.Time, size, vsize int) string {
	return fmt.Sprintf("%d.M%dP%dQ%d.mailload,S=%d,W=%d", date.Unix(), i%1000000, 1000+seed%60000, i, size, vsize)
}
