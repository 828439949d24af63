package mailtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// A FakeTB is a testing.TB that records failures instead of failing a
// test, for tests of the test servers' own failure reporting. Fatalf (and
// FailNow) end the calling goroutine with runtime.Goexit, as testing does;
// run the code under test with FakeTB.Run. Methods the servers do not use
// panic.
type FakeTB struct {
	testing.TB // nil: the methods not implemented below panic

	mu       sync.Mutex
	errors   []string
	cleanups []func()
	out      bytes.Buffer
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewFakeTB returns a FakeTB whose Context is live until Finish.
func NewFakeTB() *FakeTB {
	f := &FakeTB{}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// Run calls fn(f) in a new goroutine and waits for it to return or to call
// Fatalf. It reports whether fn returned normally.
func (f *FakeTB) Run(fn func(t testing.TB)) (completed bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
		completed = true
	}()
	<-done
	return completed
}

// Finish cancels the context and runs the registered cleanups, last first,
// as testing does when a test ends.
func (f *FakeTB) Finish() {
	f.cancel()
	f.mu.Lock()
	fns := slices.Clone(f.cleanups)
	f.cleanups = nil
	f.mu.Unlock()
	for _, fn := range slices.Backward(fns) {
		fn()
	}
}

// Failures returns the messages of Errorf and Fatalf calls so far.
func (f *FakeTB) Failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errors)
}

// Failed reports whether Errorf or Fatalf was called.
func (f *FakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0
}

// Logged returns what was written to Output.
func (f *FakeTB) Logged() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

// Helper does nothing.
func (f *FakeTB) Helper() {}

// Name returns "FakeTB".
func (f *FakeTB) Name() string { return "FakeTB" }

// Context returns a context cancelled by Finish.
func (f *FakeTB) Context() context.Context { return f.ctx }

// Cleanup registers fn for Finish.
func (f *FakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// Logf writes to Output.
func (f *FakeTB) Logf(format string, args ...any) {
	fmt.Fprintf(f.Output(), format+"\n", args...)
}

// Output returns a writer into the buffer Logged returns.
func (f *FakeTB) Output() io.Writer { return fakeOutput{f} }

type fakeOutput struct{ f *FakeTB }

func (o fakeOutput) Write(p []byte) (int, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	return o.f.out.Write(p)
}

// Errorf records a failure.
func (f *FakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// Fatalf records a failure and ends the calling goroutine.
func (f *FakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// FailNow records a failure and ends the calling goroutine.
func (f *FakeTB) FailNow() { f.Fatalf("FailNow") }

// MustFail runs fn with a new FakeTB, finishes it, and returns the one
// failure fn reported. It fails t unless fn stopped at that failure (a
// Fatalf) having reported no other: the check every test of the test
// servers' failure reporting makes.
func MustFail(t testing.TB, fn func(tb testing.TB)) string {
	t.Helper()
	f := NewFakeTB()
	defer f.Finish()
	if f.Run(fn) {
		t.Fatalf("the function completed; want it stopped at a failure (failures: %q)", f.Failures())
	}
	failures := f.Failures()
	if len(failures) != 1 {
		t.Fatalf("got %d failures %q; want 1", len(failures), failures)
	}
	return failures[0]
}
