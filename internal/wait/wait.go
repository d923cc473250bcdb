// Package wait is the tests' one way to wait for something that happens
// on its own time: a connection closed, a run finished, a copy received.
// It polls the condition itself, never a fixed duration, so a test takes
// as long as the thing it waits for and no longer, and fails with what it
// was waiting for when that never comes. Only tests import it.
//
// Code that runs on timers and channels alone is better tested inside a
// testing/synctest bubble, where time passes without waiting at all;
// wait is for what a bubble cannot hold: sockets, processes, containers.
package wait

import (
	"testing"
	"time"
)

// For polls cond until it holds and fails the test, naming what, when
// within passes first. It must be called from the test's goroutine.
func For(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Until polls cond until it holds or within passes, and reports whether
// it held, for callers that go on (or say more) when it does not. cond is
// always called at least once, and once more after the deadline, so a
// condition that became true while the poller slept is not missed.
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for interval := time.Millisecond; ; interval = min(2*interval, 20*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
