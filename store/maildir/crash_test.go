package maildir_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailfront/mailfront/imap4"
	"github.com/mailfront/mailfront/store/maildir"
)

const (
	crashEnv  = "MAILDIR_CRASH_CHILD"
	crashUser = "kim@example.org"
)

// crashBody is a message that proves its own integrity: its last header
// holds a digest of everything else, so a partial message is recognised.
func crashBody(id int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.org\r\nSubject: crash %d\r\n", id)
	body := strings.Repeat(fmt.Sprintf("line of message %d\r\n", id), 1+id%50*20)
	sum := sha256.Sum256([]byte(b.String() + body))
	fmt.Fprintf(&b, "X-Digest: %s\r\n\r\n%s", hex.EncodeToString(sum[:]), body)
	return b.String()
}

// parseCrashBody returns the id of a complete message, or -1.
func parseCrashBody(s string) int {
	var id int
	if _, err := fmt.Sscanf(s, "From: a@example.org\r\nSubject: crash %d\r\n", &id); err != nil {
		return -1
	}
	if crashBody(id) != s {
		return -1
	}
	return id
}

// TestHelperCrashChild is the child process of TestCrashKill: it appends,
// delivers and flags messages in a loop and prints an acknowledgement line
// after each operation returns, until it is killed.
func TestHelperCrashChild(t *testing.T) {
	root := os.Getenv(crashEnv)
	if root == "" {
		t.Skip("run by TestCrashKill")
	}
	first, _ := strconv.Atoi(os.Getenv(crashEnv + "_FIRST"))
	s := &maildir.Store{Root: root}
	u, err := s.OpenUser(ctx, ident(crashUser))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	inbox, err := u.OpenMailbox(ctx, "INBOX")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	out := os.Stdout // unbuffered: a line is written when Println returns
	rng := rand.New(rand.NewPCG(uint64(first), 7))
	var mine []imap4.UID
	for id := first; ; id++ {
		switch {
		case id%3 == 2:
			err = s.Submit(ctx, envelope(crashUser), strings.NewReader(crashBody(id)))
		default:
			var res imap4.AppendResult
			res, err = inbox.Append(ctx, strings.NewReader(crashBody(id)), nil)
			if err == nil {
				mine = append(mine, res.UID)
			}
		}
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			os.Exit(2)
		}
		fmt.Fprintln(out, "ACK", id)
		if len(mine) > 0 && rng.IntN(3) == 0 {
			uid := mine[rng.IntN(len(mine))]
			if _, err := inbox.SetFlags(ctx, []imap4.UID{uid}, imap4.StoreAdd, []string{imap4.FlagSeen, "Crash"}, nil); err != nil {
				fmt.Fprintln(out, "ERR", err)
				os.Exit(2)
			}
			fmt.Fprintln(out, "SEEN", uid)
		}
	}
}

// M1: a process appending and delivering in a loop is killed with SIGKILL
// at random moments; after each kill the store is opened again: every
// acknowledged message is there, once, with its exact bytes and the UID
// it had; acknowledged flags are there; no partial or unknown message is
// visible; UIDVALIDITY never changes.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	root := t.TempDir()
	acked := map[int]bool{}
	seen := map[imap4.UID]bool{}
	uidOf := map[int]imap4.UID{}
	var validity uint32
	rng := rand.New(rand.NewPCG(3, 4))
	next := 0
	for round := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+root, crashEnv+"_FIRST="+strconv.Itoa(next))
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := bufio.NewScanner(stdout)
		want := 5 + rng.IntN(40)
		n := 0
		killed := false
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "ACK":
				id, _ := strconv.Atoi(f[1])
				acked[id] = true
				next = max(next, id+1)
				n++
			case "SEEN":
				uid, _ := strconv.Atoi(f[1])
				seen[imap4.UID(uid)] = true
			case "ERR":
				t.Fatalf("child: %s", lines.Text())
			}
			if n >= want && !killed {
				// The child keeps working while the signal is sent: it
				// dies at an arbitrary point of its loop. The jitter
				// spreads the kills over the loop (it synchronises
				// nothing).
				time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
				require.NoError(t, cmd.Process.Kill())
				killed = true
			}
		}
		cmd.Wait()
		require.True(t, killed, "child ended by itself")
		next += 10 // ids of operations possibly in flight are not reused

		s := &maildir.Store{Root: root, PollInterval: -1}
		u, err := s.OpenUser(ctx, ident(crashUser))
		require.NoError(t, err, "round %d", round)
		mb, err := u.OpenMailbox(ctx, "INBOX")
		require.NoError(t, err)
		sd := syncAll(t, mb)
		if validity == 0 {
			validity = sd.UIDValidity
		}
		assert.Equal(t, validity, sd.UIDValidity, "round %d: UIDVALIDITY changed", round)
		present := map[int]imap4.UID{}
		for _, m := range sd.Messages {
			content := readMsg(t, mb, m.UID)
			id := parseCrashBody(content)
			if !assert.GreaterOrEqual(t, id, 0, "round %d: UID %d holds a partial or unknown message (%d bytes)", round, m.UID, len(content)) {
				continue
			}
			_, dup := present[id]
			assert.False(t, dup, "round %d: message %d twice", round, id)
			present[id] = m.UID
			if seen[m.UID] {
				assert.True(t, slices.Contains(m.Flags, imap4.FlagSeen) && slices.Contains(m.Flags, "Crash"),
					"round %d: acknowledged flags of UID %d lost: %v", round, m.UID, m.Flags)
			}
		}
		for id := range acked {
			uid, ok := present[id]
			if assert.True(t, ok, "round %d: acknowledged message %d missing", round, id) {
				if prev, had := uidOf[id]; had {
					assert.Equal(t, prev, uid, "round %d: message %d renumbered", round, id)
				}
				uidOf[id] = uid
			}
		}
		t.Logf("round %d: %d acknowledged, %d messages, %d left in tmp/", round, len(acked), len(sd.Messages), len(listDir(t, filepath.Join(root, crashUser, "tmp"))))
		require.NoError(t, mb.Close())
		require.NoError(t, u.Close())
		require.NoError(t, s.Close())
	}
}
