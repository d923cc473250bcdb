package wait_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// Until returns as soon as the condition holds, and gives up only after
// the whole time it was given (the bubble's clock makes both exact).
func TestUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		if !wait.Until(time.Second, func() bool { calls++; return calls == 3 }) {
			t.Fatal("Until gave up on a condition that came to hold")
		}
		if got, want := time.Since(start), 3*time.Millisecond; got != want {
			t.Errorf("held after %v, want %v (polls at 0, 1 and 3 ms)", got, want)
		}

		start = time.Now()
		if wait.Until(100*time.Millisecond, func() bool { return false }) {
			t.Fatal("Until reported a condition that never held")
		}
		if got := time.Since(start); got < 100*time.Millisecond || got > 120*time.Millisecond {
			t.Errorf("gave up after %v, want 100 ms to 120 ms (one poll interval past)", got)
		}
	})
}
