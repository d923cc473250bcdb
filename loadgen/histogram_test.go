package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestBucketBoundsContainValue(t *testing.T) {
	values := []time.Duration{0, 1, 15, 31, 32, 33, 63, 64, 1000, 999_999, time.Millisecond, 3 * time.Second, time.Hour, math.MaxInt64}
	for v := time.Duration(1); v < time.Hour; v = v*7/5 + 1 {
		values = append(values, v)
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= latencyBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", v, i, latencyBuckets)
		}
		lo, hi := bucketBounds(i)
		if v < lo || (v >= hi && hi > lo) { // hi wraps for the very last bucket
			t.Errorf("bucketOf(%d) = %d with bounds [%d, %d)", v, i, lo, hi)
		}
		if lo >= exactBelow {
			if width := float64(hi-lo) / float64(lo); width > 1.0/subBuckets {
				t.Errorf("bucket %d [%d, %d) is %.3f wide, want <= 1/16", i, lo, hi, width)
			}
		}
	}
}

func TestWindowPercentile(t *testing.T) {
	var h latencyCounts
	var before, after [latencyBuckets]int64
	for range 1000 {
		h.record(time.Hour) // before the window: must not count
	}
	h.snapshot(&before)
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	h.snapshot(&after)

	cases := []struct {
		name string
		p    float64
		want time.Duration
	}{
		{name: "median of 1..100ms", p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 1..100ms", p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the max", p: 100, want: 100 * time.Millisecond},
		{name: "tiny p is the min", p: 0.001, want: time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := windowPercentile(&after, &before, tc.p)
			if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 1.0/subBuckets {
				t.Errorf("got %v, want %v within 1/16", got, tc.want)
			}
		})
	}
	if got := windowPercentile(&before, &before, 50); got != 0 {
		t.Errorf("empty window: got %v, want 0", got)
	}
}
