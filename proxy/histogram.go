package proxy

import (
	"math"
	"sync/atomic"
	"time"
)

// Envoy's histograms of milliseconds (upstream_rq_time,
// downstream_rq_time): values are recorded as whole milliseconds into the
// bins of Envoy's log-linear histogram (libcircllhist), two significant
// digits each. For whole milliseconds these are [0], [1,1.1), [2,2.1) …
// [9,9.1), then [10,11) … [99,100), then [100,110) … [990,1000),
// [1000,1100) and so on up to 10⁸ ms (about 28 hours), with one bin
// above that. Recording is two atomic adds into a fixed array: no lock,
// no allocation.

const (
	histExact    = 100 // bins 0..99 hold one value each
	histDecades  = 6   // [10², 10⁸) in 90 bins a decade
	histOverflow = histExact + histDecades*90
	histBins     = histOverflow + 1
)

// histogram is one of Envoy's histograms of milliseconds.
type histogram struct {
	bins [histBins]atomic.Int64
	sum  atomic.Int64 // of the recorded values, ms
}

// record counts one value of ms milliseconds.
func (h *histogram) record(ms int64) {
	h.bins[histBin(ms)].Add(1)
	h.sum.Add(max(ms, 0))
}

// recordSince records the whole milliseconds elapsed since t.
func (h *histogram) recordSince(t time.Time) {
	h.record(time.Since(t).Milliseconds())
}

// histBin is the bin of a value of ms milliseconds.
func histBin(ms int64) int {
	if ms < histExact {
		return int(max(ms, 0))
	}
	i, d := histExact, int64(10)
	for ms >= d*100 {
		i += 90
		d *= 10
		if i == histOverflow {
			return histOverflow
		}
	}
	return i + int(ms/d) - 10
}

// histBinBounds are the lower bound and the width of bin i, as Envoy's
// histogram reports them.
func histBinBounds(i int) (lower, width float64) {
	switch {
	case i == 0:
		return 0, 0
	case i < 10:
		return float64(i), 0.1
	case i < histExact:
		return float64(i), 1
	case i < histOverflow:
		k := (i - histExact) / 90
		d := math.Pow10(k + 1)
		return float64((i-histExact)%90+10) * d, d
	}
	return math.Pow10(histDecades + 2), 0
}

// snapshot reads h into a Histogram.
func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.bins {
		n := h.bins[i].Load()
		if n == 0 {
			continue
		}
		lower, width := histBinBounds(i)
		s.Bins = append(s.Bins, HistogramBin{Lower: lower, Width: width, Count: n})
		s.Count += n
	}
	s.Sum = h.sum.Load()
	return s
}

// Histogram is a snapshot of one of Envoy's histograms of milliseconds:
// how many values were recorded, their sum, and the bins that hold them.
type Histogram struct {
	Count int64 `json:"count"`
	// Sum is the sum of the recorded values, in milliseconds.
	Sum int64 `json:"sum"`
	// Bins are the bins that hold values, lowest first.
	Bins []HistogramBin `json:"bins,omitempty"`
}

// HistogramBin is one bin of a Histogram: Count values in
// [Lower, Lower+Width) (Width 0: the value Lower).
type HistogramBin struct {
	Lower float64 `json:"lower"`
	Width float64 `json:"width"`
	Count int64   `json:"count"`
}

// SupportedQuantiles are the quantiles Envoy computes for its histograms,
// as fractions (/stats prints them as percentiles: P0, P25 … P99.9,
// P100).
var SupportedQuantiles = []float64{0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1}

// DefaultBuckets are the upper bounds (ms) of Envoy's default histogram
// buckets, the le labels of /stats/prometheus.
var DefaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Quantiles returns the value at each of SupportedQuantiles, NaN for all
// of them when h is empty. Within a bin the value is interpolated
// linearly: q=0 is the lower bound of the lowest bin, q=1 the upper bound
// of the highest, as Envoy's histogram computes them.
func (h Histogram) Quantiles() []float64 {
	out := make([]float64, len(SupportedQuantiles))
	if h.Count == 0 || len(h.Bins) == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	total := float64(h.Count)
	b := 0
	lowerCnt, upperCnt := 0.0, float64(h.Bins[0].Count)
	for i, q := range SupportedQuantiles {
		t := q * total
		for b < len(h.Bins)-1 && upperCnt < t {
			b++
			lowerCnt = upperCnt
			upperCnt += float64(h.Bins[b].Count)
		}
		bin := h.Bins[b]
		switch {
		case t <= lowerCnt:
			out[i] = bin.Lower
		case t >= upperCnt:
			out[i] = bin.Lower + bin.Width
		default:
			out[i] = bin.Lower + (t-lowerCnt)/(upperCnt-lowerCnt)*bin.Width
		}
	}
	return out
}

// Buckets returns the cumulative count at each of DefaultBuckets: the
// values in bins that lie wholly at or below the bound, as Envoy counts
// them (a value of 100 ms, in the bin [100,110), is not in le="100").
func (h Histogram) Buckets() []int64 {
	out := make([]int64, len(DefaultBuckets))
	for _, bin := range h.Bins {
		upper := bin.Lower + bin.Width
		for i, bound := range DefaultBuckets {
			if upper <= bound {
				out[i] += bin.Count
			}
		}
	}
	return out
}
