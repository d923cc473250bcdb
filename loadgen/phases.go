package loadgen

import (
	"maps"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// codeCounter counts calls by status code, lock-free for -1 to 999 and under
// a mutex for anything else fortio might report. The zero value is ready.
type codeCounter struct {
	slots [codeSlots]atomic.Int64

	mu    sync.Mutex    // guards other
	other map[int]int64 // codes outside [minCode, maxCode]; never seen in practice
}

// add counts one call with the given code.
func (c *codeCounter) add(code int) {
	if code >= minCode && code <= maxCode {
		c.slots[code-minCode].Add(1)
		return
	}
	c.mu.Lock()
	if c.other == nil {
		c.other = make(map[int]int64)
	}
	c.other[code]++
	c.mu.Unlock()
}

// snapshot returns a fresh copy of the counts.
func (c *codeCounter) snapshot() map[int]int64 {
	out := make(map[int]int64)
	for i := range c.slots {
		if n := c.slots[i].Load(); n > 0 {
			out[i+minCode] = n
		}
	}
	c.mu.Lock()
	maps.Copy(out, c.other)
	c.mu.Unlock()
	return out
}

// isError reports whether a call with this code counts in Errors.
func isError(code int) bool { return code < 200 || code > 299 }

// phaseCounts is what one phase records.
type phaseCounts struct {
	codes    codeCounter
	latency  durationStats
	intended durationStats
}

// phaseSet records the calls of a phased run by the phase and the series bin
// they started in.
type phaseSet struct {
	edges  []time.Duration
	phases []phaseCounts // len(edges)+1
	series *series
}

// newPhaseSet prepares a phased run of the planned duration.
func newPhaseSet(edges []time.Duration, planned time.Duration) *phaseSet {
	return &phaseSet{
		edges:  edges,
		phases: make([]phaseCounts, len(edges)+1),
		series: newSeries(planned),
	}
}

// record accounts for one call that started at offset from the counted
// start. intended < 0 means the run has no schedule.
func (p *phaseSet) record(offset, latency, intended time.Duration, code int) {
	k := 0
	for k < len(p.edges) && offset >= p.edges[k] {
		k++
	}
	ph := &p.phases[k]
	ph.codes.add(code)
	ph.latency.record(latency)
	if intended >= 0 {
		ph.intended.record(intended)
	}
	p.series.record(offset, latency, isError(code))
}

// results builds Result.Phases for a run that ended at end (an offset from
// the counted start); withIntended says whether the run had a schedule.
func (p *phaseSet) results(end time.Duration, withIntended bool) []PhaseResult {
	out := make([]PhaseResult, len(p.phases))
	for k := range p.phases {
		ph := &p.phases[k]
		r := PhaseResult{End: end, Codes: ph.codes.snapshot()}
		if k > 0 {
			r.Start = min(p.edges[k-1], end)
		}
		if k < len(p.edges) {
			r.End = min(p.edges[k], end)
		}
		for code, n := range r.Codes {
			r.Requests += n
			if isError(code) {
				r.Errors += n
			}
		}
		r.Latency = ph.latency.percentiles()
		r.Histogram = ph.latency.buckets()
		if withIntended {
			in := ph.intended.percentiles()
			r.Intended = &in
		}
		out[k] = r
	}
	return out
}

// The series' latency histogram is coarse: bucket 0 holds latencies below
// 2^10ns (about 1µs), bucket i >= 1 holds [2^(10+(i-1)/2), 2^(10+i/2))ns, and
// the last bucket also holds everything longer (from about 2^37ns, 137s).
const (
	coarseBuckets = 56
	coarseMinBits = 10
)

// coarseBucketOf maps a latency to its coarse bucket.
func coarseBucketOf(d time.Duration) int {
	if d < 1<<coarseMinBits {
		return 0
	}
	v := uint64(d)
	e := bits.Len64(v) - 1 // 2^e <= v < 2^(e+1)
	i := 2*(e-coarseMinBits) + 1
	if float64(v) >= math.Sqrt2*float64(uint64(1)<<e) {
		i++
	}
	return min(i, coarseBuckets-1)
}

// coarseBucketMid is a representative latency of coarse bucket i: the
// geometric middle of its bounds.
func coarseBucketMid(i int) time.Duration {
	if i == 0 {
		return 1 << (coarseMinBits - 1)
	}
	return time.Duration(math.Exp2(float64(coarseMinBits) + float64(i)/2 - 0.25))
}

// seriesBin counts the calls that started in one bin of time.
type seriesBin struct {
	requests, errors atomic.Int64
	latency          [coarseBuckets]atomic.Int64
}

// Series sizing: a bin is at least minSeriesBin wide, and a run has at most
// maxSeriesBins bins, so a series stays under about 1 MB (464 bytes a bin)
// whatever the duration.
const (
	minSeriesBin  = 100 * time.Millisecond
	maxSeriesBins = 2000
)

// series is a phased run's time series, preallocated from its planned
// duration; calls that start past the last bin count in the last bin.
type series struct {
	width time.Duration
	bins  []seriesBin
}

func newSeries(planned time.Duration) *series {
	width := max(minSeriesBin, planned/maxSeriesBins)
	n := max(int((planned+width-1)/width), 1)
	return &series{width: width, bins: make([]seriesBin, n)}
}

// record counts one call that started at offset from the counted start.
func (s *series) record(offset, latency time.Duration, failed bool) {
	j := min(max(int(offset/s.width), 0), len(s.bins)-1)
	b := &s.bins[j]
	b.requests.Add(1)
	if failed {
		b.errors.Add(1)
	}
	b.latency[coarseBucketOf(latency)].Add(1)
}

// window sums the bins that lie wholly inside [from, to).
func (s *series) window(from, to time.Duration) WindowStats {
	var w WindowStats
	var hist [coarseBuckets]int64
	for j := range s.bins {
		lo := time.Duration(j) * s.width
		if lo < from || lo+s.width > to {
			continue
		}
		b := &s.bins[j]
		w.Requests += b.requests.Load()
		w.Errors += b.errors.Load()
		for i := range hist {
			hist[i] += b.latency[i].Load()
		}
	}
	w.P50 = coarsePercentile(&hist, 50)
	w.P99 = coarsePercentile(&hist, 99)
	return w
}

// coarsePercentile returns the p-th percentile (0 < p <= 100) of a coarse
// histogram as its bucket's middle, or 0 when it is empty.
func coarsePercentile(h *[coarseBuckets]int64, p float64) time.Duration {
	var total int64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(p/100*float64(total))), 1)
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return coarseBucketMid(i)
		}
	}
	return coarseBucketMid(coarseBuckets - 1) // not reached
}

// Window summarises the calls of a phased run that started in the series
// bins lying wholly inside [from, to), both offsets from the counted run's
// start (see Result.CountedStart and [Result.SeriesBin]). Calls that started
// after the planned duration count in the last bin. It returns false when
// the run kept no series: it had no Spec.PhaseEdges, or was sent from
// agents.
func (r *Result) Window(from, to time.Duration) (WindowStats, bool) {
	if r.series == nil {
		return WindowStats{}, false
	}
	return r.series.window(from, to), true
}

// SeriesBin returns the width of the bins behind [Result.Window]: the larger
// of 100ms and the planned duration / 2000. It is 0 when the run kept no
// series.
func (r *Result) SeriesBin() time.Duration {
	if r.series == nil {
		return 0
	}
	return r.series.width
}

// runPhaseCalls calls onPhase(k+1) at base+edges[k] for each edge, where base
// is read once began is closed, until stop or abort is closed. It returns
// when every edge got its call or the run is over.
func runPhaseCalls(began <-chan struct{}, base func() time.Time, edges []time.Duration,
	onPhase func(int), stop, abort <-chan struct{},
) {
	select {
	case <-began:
	case <-stop:
		return
	case <-abort:
		return
	}
	start := base()
	timer := time.NewTimer(time.Until(start.Add(edges[0])))
	defer timer.Stop()
	for k, edge := range edges {
		if k > 0 {
			timer.Reset(time.Until(start.Add(edge)))
		}
		select {
		case <-timer.C:
		case <-stop:
			return
		case <-abort:
			return
		}
		// The timer and the end of the run may have fired together.
		select {
		case <-stop:
			return
		case <-abort:
			return
		default:
		}
		onPhase(k + 1)
	}
}
