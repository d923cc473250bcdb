package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency buckets are log-linear, as in HdrHistogram: values below 32ns get a
// bucket each, and every power of two above that is split into 16 equal
// buckets, so a bucket is at most 1/16 (6.25%) wide relative to its lower
// bound. Any non-negative int64 nanosecond value fits.
const (
	subBucketBits  = 4
	subBuckets     = 1 << subBucketBits                           // 16
	exactBelow     = 2 * subBuckets                               // values < 32 map to themselves
	latencyBuckets = (63-subBucketBits-1)*subBuckets + exactBelow // max int64 is 63 bits long
)

// bucketOf maps a latency to its bucket index.
func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < exactBelow {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1 // >= 1; keeps the top 5 bits
	return shift*subBuckets + int(v>>shift)
}

// bucketBounds returns the [lo, hi) latency range of bucket i.
func bucketBounds(i int) (lo, hi time.Duration) {
	if i < exactBelow {
		return time.Duration(i), time.Duration(i + 1)
	}
	shift := i/subBuckets - 1
	m := uint64(i - shift*subBuckets) // in [16, 32)
	return time.Duration(m << shift), time.Duration((m + 1) << shift)
}

// latencyCounts is a lock-free cumulative latency histogram: Record is safe
// from any number of goroutines, snapshot copies it for a reader.
type latencyCounts struct {
	counts [latencyBuckets]atomic.Int64
}

// record counts one call of latency d.
func (h *latencyCounts) record(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
}

// snapshot copies the current counts into dst.
func (h *latencyCounts) snapshot(dst *[latencyBuckets]int64) {
	for i := range h.counts {
		dst[i] = h.counts[i].Load()
	}
}

// windowPercentile returns the p-th percentile (0 < p <= 100) of the calls
// counted in now but not yet in then: the distribution of the window between
// two snapshots. It returns the midpoint of the bucket holding that rank, or 0
// when the window is empty.
func windowPercentile(now, then *[latencyBuckets]int64, p float64) time.Duration {
	var total int64
	for i := range now {
		total += now[i] - then[i]
	}
	if total <= 0 {
		return 0
	}
	rank := int64(p / 100 * float64(total))
	if float64(rank) < p/100*float64(total) {
		rank++ // ceil, so p=100 is the last call and p>0 is at least the first
	}
	rank = max(rank, 1)
	var seen int64
	for i := range now {
		seen += now[i] - then[i]
		if seen >= rank {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)/2
		}
	}
	return 0 // not reached: seen ends at total >= rank
}
