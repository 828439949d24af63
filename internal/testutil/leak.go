package testutil

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// MainWithLeakCheck runs the tests of a package and then fails the run if
// goroutines started by mailfront code are still running, the way net/http's
// main_test.go does. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { testutil.MainWithLeakCheck(m) }
func MainWithLeakCheck(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(5 * time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "goroutines leaked after the tests:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks returns the interesting goroutines still alive after waiting
// up to d for them to finish.
func waitForLeaks(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		leaked := interestingGoroutines()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interestingGoroutines lists goroutines whose stack includes mailfront code,
// other than the test runner itself.
func interestingGoroutines() []string {
	buf := make([]byte, 2<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var gs []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		_, stack, ok := strings.Cut(g, "\n")
		if !ok {
			continue
		}
		if !strings.Contains(stack, "github.com/mailfront/mailfront") ||
			strings.Contains(stack, "testutil.interestingGoroutines") ||
			strings.Contains(stack, "testing.(*M)") {
			continue
		}
		gs = append(gs, strings.TrimSpace(g))
	}
	sort.Strings(gs)
	return gs
}
