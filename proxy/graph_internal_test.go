package proxy

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A retry after a timed-out try carries the same x-request-id while the
// abandoned try may still be in flight to the same service: the caller is
// the service that is still waiting, not the abandoned try, nor a request
// whose client has gone.
func TestInflightSkipsAbandonedTries(t *testing.T) {
	g := newGraph(func() time.Duration { return 0 })
	productpage, reviews := g.node("productpage"), g.node("reviews")
	page := &exchange{requestID: "r"}
	g.inflight.register(page, productpage)
	gone, cancel := context.WithCancel(context.Background())
	firstTry := &exchange{requestID: "r", r: httptest.NewRequest("GET", "/", nil).WithContext(gone)}
	g.inflight.register(firstTry, reviews)

	retry := &exchange{requestID: "r", r: httptest.NewRequest("GET", "/", nil)}
	retry.r.Header.Set("X-Request-Id", "r")
	retry.graphSrc = g.inflight.lookup("r", nil) // as at arrival: the newest in flight
	if retry.graphSrc != reviews {
		t.Fatalf("the newest in flight is %v", retry.graphSrc)
	}
	g.routed(retry, reviews)
	if retry.graphSrc != productpage {
		t.Errorf("the retry's caller: %s, want productpage", retry.graphSrc.name)
	}
	g.inflight.unregister(retry)
	cancel() // the first try's client went away
	if got := g.inflight.lookup("r", nil); got != productpage {
		t.Errorf("with the first try's client gone, the caller is %v, want productpage", got)
	}
}

// The in-flight map answers with the newest request of an id, forgets a
// request when it ends, wherever it sits in its id's list, and tracks no
// new id past its limit.
func TestInflightRequestIDs(t *testing.T) {
	g := newGraph(func() time.Duration { return 0 })
	g.inflight.limit = 2
	a, b, c := g.node("a"), g.node("b"), g.node("c")
	reg := func(id string, dst *graphNode) *exchange {
		x := &exchange{requestID: id}
		g.inflight.register(x, dst)
		return x
	}
	lookup := func(id string) string {
		if n := g.inflight.lookup(id, nil); n != nil {
			return n.name
		}
		return "-"
	}

	x1 := reg("r1", a)
	x2 := reg("r1", b) // the callee of x1, same id: newest first
	if got := lookup("r1"); got != "b" {
		t.Errorf("r1 -> %s, want b (the newest)", got)
	}
	y := reg("r2", c)
	if over := reg("r3", a); over.graphID != "" || lookup("r3") != "-" {
		t.Errorf("a third id was tracked past the limit of 2")
	}
	x3 := reg("r1", c) // an id already tracked is not a new one
	if got := lookup("r1"); got != "c" || x3.graphID == "" {
		t.Errorf("r1 -> %s, want c", got)
	}

	cases := []struct {
		name string
		end  *exchange
		id   string
		want string
	}{
		{"the middle of a list ends", x2, "r1", "c"},
		{"the newest ends", x3, "r1", "a"},
		{"the last one ends", x1, "r1", "-"},
		{"another id ends", y, "r2", "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.inflight.unregister(tc.end)
			if got := lookup(tc.id); got != tc.want {
				t.Errorf("%s -> %s, want %s", tc.id, got, tc.want)
			}
		})
	}
	if n := g.inflight.n.Load(); n != 0 {
		t.Errorf("%d ids still tracked", n)
	}
	if x := reg("r4", a); x.graphID == "" {
		t.Error("room freed by ended requests is not reused")
	}
}

// Latency buckets are log-spaced, contiguous and hold what they are
// given; percentiles interpolate within them.
func TestLatencyHistogram(t *testing.T) {
	prevHi := 0.0
	for i := 0; i < latencyBuckets; i++ {
		lo, hi := latencyBounds(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d [%v, %v) after %v", i, lo, hi, prevHi)
		}
		prevHi = hi
	}
	for _, d := range []time.Duration{0, 63 * time.Microsecond, 64 * time.Microsecond, 100 * time.Microsecond,
		time.Millisecond, 1234 * time.Millisecond, 5 * time.Minute} {
		i := latencyBucket(d)
		lo, hi := latencyBounds(i)
		if us := float64(d.Microseconds()); us < lo || us >= hi {
			t.Errorf("%v in bucket %d [%v, %v) µs", d, i, lo, hi)
		}
	}
	if i := latencyBucket(time.Hour); i != latencyBuckets-1 {
		t.Errorf("an hour in bucket %d, want the last", i)
	}

	var h [latencyBuckets]int64
	i := latencyBucket(10 * time.Millisecond)
	h[i] = 100
	lo, hi := latencyBounds(i)
	if got, want := percentile(&h, 100, 0.5), (lo+hi)/2/1000; math.Abs(got-want) > 1e-9 {
		t.Errorf("p50 %v ms, want %v", got, want)
	}
	if got := percentile(&h, 0, 0.5); got != 0 {
		t.Errorf("p50 of nothing %v", got)
	}
}

// A bucket counts its own slot, is cleared by a later one, and ignores a
// request of an older slot.
func TestGraphBucketRotation(t *testing.T) {
	var b graphBucket
	b.add(3, false, 1)
	b.add(3, true, 2)
	if b.requests.Load() != 2 || b.errors.Load() != 1 || b.latency[2].Load() != 1 {
		t.Fatalf("slot 3: %d requests, %d errors", b.requests.Load(), b.errors.Load())
	}
	b.add(13, false, 5)
	if b.slot.Load() != 13 || b.requests.Load() != 1 || b.errors.Load() != 0 || b.latency[2].Load() != 0 || b.latency[5].Load() != 1 {
		t.Errorf("slot 13 after 3: slot %d, %d requests, %d errors", b.slot.Load(), b.requests.Load(), b.errors.Load())
	}
	b.add(3, true, 1)
	if b.requests.Load() != 1 || b.errors.Load() != 0 {
		t.Errorf("a request of an older slot was counted")
	}
}

// BenchmarkGraphPerRequest is the service graph's own work for one routed
// request, in isolation: the caller's lookup, the registration of its
// x-request-id while in flight, and the count on its edge at the end
// (BenchmarkServiceGraph measures it inside the whole request).
func BenchmarkGraphPerRequest(b *testing.B) {
	start := time.Now()
	g := newGraph(func() time.Duration { return time.Since(start) })
	t := &Table{}
	dst := g.node("reviews")
	var worker atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		ids := make([]string, 64)
		for i := range ids {
			ids[i] = fmt.Sprintf("id-%d-%d", w, i)
		}
		r := httptest.NewRequest("GET", "http://reviews:9080/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		x := &exchange{r: r, dest: &destination{node: dst}, code: 200}
		for i := 0; pb.Next(); i++ {
			x.start, x.requestID = time.Now(), ids[i%len(ids)]
			x.graphSrc = g.source(t, r)
			g.inflight.register(x, dst)
			g.finish(x)
		}
	})
}
