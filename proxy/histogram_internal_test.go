package proxy

import (
	"math"
	"testing"
)

func TestHistogramBins(t *testing.T) {
	for _, tc := range []struct {
		ms           int64
		lower, width float64
	}{
		{-3, 0, 0}, {0, 0, 0}, {1, 1, 0.1}, {9, 9, 0.1}, {10, 10, 1}, {99, 99, 1},
		{100, 100, 10}, {109, 100, 10}, {110, 110, 10}, {999, 990, 10},
		{1000, 1000, 100}, {2599, 2500, 100}, {3_600_000, 3_600_000, 100_000},
		{99_999_999, 99_000_000, 1_000_000}, {100_000_000, 100_000_000, 0}, {1 << 40, 100_000_000, 0},
	} {
		lower, width := histBinBounds(histBin(tc.ms))
		if lower != tc.lower || width != tc.width {
			t.Errorf("%d ms: bin [%g, +%g), want [%g, +%g)", tc.ms, lower, width, tc.lower, tc.width)
		}
	}
	// Every bin's bounds map back to it, and bins are in increasing order.
	prev := -1.0
	for i := 0; i < histBins; i++ {
		lower, _ := histBinBounds(i)
		if got := histBin(int64(lower)); got != i {
			t.Errorf("bin %d: its lower bound %g falls in bin %d", i, lower, got)
		}
		if lower <= prev {
			t.Errorf("bin %d: lower bound %g after %g", i, lower, prev)
		}
		prev = lower
	}
}

func TestHistogramQuantilesAndBuckets(t *testing.T) {
	var h histogram
	if q := h.snapshot().Quantiles(); !math.IsNaN(q[0]) || !math.IsNaN(q[9]) {
		t.Errorf("empty: %v, want NaN", q)
	}
	h.record(5)
	s := h.snapshot()
	want := []float64{5, 5.025, 5.05, 5.075, 5.09, 5.095, 5.099, 5.0995, 5.0999, 5.1}
	for i, q := range s.Quantiles() {
		if math.Abs(q-want[i]) > 1e-9 {
			t.Errorf("one value of 5: P%g = %g, want %g", SupportedQuantiles[i]*100, q, want[i])
		}
	}
	h.record(100)
	h.record(100)
	h.record(0)
	s = h.snapshot()
	if s.Count != 4 || s.Sum != 205 {
		t.Errorf("count %d sum %d, want 4 and 205", s.Count, s.Sum)
	}
	q := s.Quantiles()
	if q[0] != 0 || q[9] != 110 || q[2] != 5.1 {
		t.Errorf("P0 %g P50 %g P100 %g, want 0, 5.1 and 110", q[0], q[2], q[9])
	}
	// 0 is in le=0.5; 5 (bin [5,5.1)) from le=10; 100 (bin [100,110))
	// from le=250.
	b := s.Buckets()
	for i, want := range []int64{1, 1, 1, 2, 2, 2, 2, 4, 4} {
		if b[i] != want {
			t.Errorf("le=%g: %d, want %d", DefaultBuckets[i], b[i], want)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.record(int64(i % 5000))
	}
}
