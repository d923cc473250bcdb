package live_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/faultline/faultline/server/manager/live"
)

// set makes the state n and sends n.
func set(n int) func(*int) (int, bool) {
	return func(s *int) (int, bool) { *s = n; return n, true }
}

func TestSubscribeGetsTheStateThenTheEvents(t *testing.T) {
	_, r := live.New[int, int](context.Background(), 1, 4)
	r.Publish(set(2))
	state, events, cancel, ok := r.Subscribe()
	defer cancel()
	if !ok || state != 2 {
		t.Fatalf("Subscribe = %d, ok %v; want 2, true", state, ok)
	}
	r.Publish(set(3))
	r.Publish(func(s *int) (int, bool) { *s = 4; return 0, false }) // a state change without an event
	r.End(set(5))
	var got []int
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != 2 || got[0] != 3 || got[1] != 5 {
		t.Errorf("events = %v, want [3 5]", got)
	}
	if s := r.State(); s != 5 {
		t.Errorf("State = %d, want 5", s)
	}
}

func TestSubscribeAfterEndIsRefused(t *testing.T) {
	_, r := live.New[string, string](context.Background(), "queued", 4)
	r.End(func(s *string) (string, bool) { *s = "succeeded"; return *s, true })
	state, events, cancel, ok := r.Subscribe()
	cancel() // harmless
	if ok || events != nil {
		t.Fatalf("Subscribe after End: ok %v, events %v; want false, nil", ok, events)
	}
	if state != "succeeded" {
		t.Errorf("state = %q, want the last state", state)
	}
}

func TestASlowSubscriberMissesEventsAndNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, r := live.New[int, int](context.Background(), 0, 2)
		_, slow, cancel, _ := r.Subscribe()
		defer cancel()
		published := make(chan struct{})
		go func() {
			for i := 1; i <= 10; i++ {
				r.Publish(set(i))
			}
			close(published)
		}()
		synctest.Wait()
		select {
		case <-published:
		default:
			t.Fatal("Publish blocked on a subscriber that reads nothing")
		}
		if a, b := <-slow, <-slow; a != 1 || b != 2 {
			t.Errorf("the slow subscriber got %d, %d; want the first two events", a, b)
		}
		select {
		case ev := <-slow:
			t.Errorf("the slow subscriber got %d beyond its buffer", ev)
		default:
		}
	})
}

func TestDoneIsClosedOnceByEnd(t *testing.T) {
	_, r := live.New[int, int](context.Background(), 0, 1)
	select {
	case <-r.Done():
		t.Fatal("Done closed before End")
	default:
	}
	_, events, _, _ := r.Subscribe()
	r.End(nil)
	r.End(set(1)) // a second End does nothing
	<-r.Done()
	if _, open := <-events; open {
		t.Error("the subscription is still open after End")
	}
	if s := r.State(); s != 0 {
		t.Errorf("State = %d after a second End; want 0", s)
	}
}

func TestUnsubscribeClosesTheChannel(t *testing.T) {
	_, r := live.New[int, int](context.Background(), 0, 1)
	_, events, cancel, _ := r.Subscribe()
	cancel()
	cancel() // twice is harmless
	if _, open := <-events; open {
		t.Fatal("the channel is open after cancel")
	}
	r.Publish(set(1)) // no send on the closed channel
	r.End(nil)
}

func TestCancelCarriesTheCause(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	ctx, r := live.New[int, int](parent, 0, 1)
	if ctx.Err() != nil {
		t.Fatal("the run's context ended at once")
	}
	cause := errors.New("stopped by request")
	r.Cancel(cause)
	<-ctx.Done()
	if got := context.Cause(ctx); got != cause {
		t.Errorf("Cause = %v, want %v", got, cause)
	}

	ctx, _ = live.New[int, int](parent, 0, 1)
	stop()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Errorf("the run's context outlived its parent: cause %v", context.Cause(ctx))
	}
}
