package loadgen

import (
	"math"
	"sync/atomic"
	"time"

	"fortio.org/fortio/periodic"
)

// schedule is fortio's pacing of a rate-limited run, reproduced from
// periodic.runQPSSetup and periodic.runOne (fortio v1.75.3): how many
// connections ("threads") fortio really uses, how many calls each makes, and
// when each call is due relative to the run's start. Jitter is not modelled.
type schedule struct {
	qps          float64
	threads      int // after fortio lowered it
	perThreadQPS float64
	hasDuration  bool            // fortio's Duration > 0 (always, as this package calls it)
	numCalls     []int64         // per thread; thread 0 also makes a count-bound run's leftover calls
	delay        []time.Duration // per thread: the Uniform stagger, 0 without Uniform
}

// newSchedule computes fortio's schedule for the given options as fortio
// sees them (QPS > 0, NumThreads, Exactly, Duration, Uniform). It returns nil
// when qps <= 0: a max-speed run has no schedule.
func newSchedule(qps float64, threads int, exactly int64, duration time.Duration, uniform bool) *schedule {
	if qps <= 0 {
		return nil
	}
	// periodic.RunnerOptions.Normalize.
	if duration == 0 {
		duration = periodic.DefaultRunnerOptions.Duration
	}
	if threads < 1 {
		threads = 1
	}
	hasDuration := duration > 0
	useExactly := exactly > 0
	// periodic.runQPSSetup.
	var numCalls, leftOver int64
	if hasDuration || useExactly {
		numCalls = int64(qps * duration.Seconds())
		if useExactly {
			numCalls = exactly
		}
		if numCalls < 2 {
			numCalls = 2
			threads = 1
		}
		if int64(2*threads) > numCalls {
			threads = int(numCalls / 2)
		}
		numCalls /= int64(threads)
		if useExactly {
			leftOver = exactly - numCalls*int64(threads)
		}
	}
	s := &schedule{
		qps:          qps,
		threads:      threads,
		perThreadQPS: qps / float64(threads),
		hasDuration:  hasDuration,
		numCalls:     make([]int64, threads),
		delay:        make([]time.Duration, threads),
	}
	// periodic.periodicRunner.Run and runOne.
	for t := range threads {
		s.numCalls[t] = numCalls
		if t == 0 && leftOver > 0 {
			s.numCalls[t] += leftOver
		}
		if uniform {
			delayBetweenRequest := 1. / s.perThreadQPS
			delaySeconds := delayBetweenRequest - (delayBetweenRequest / float64(threads) * float64(threads-t))
			s.delay[t] = time.Duration(delaySeconds * float64(time.Second))
		}
	}
	return s
}

// due returns when call i of thread t is due, relative to the run's start:
// the thread's Uniform stagger plus fortio's targetElapsedInSec for i.
// t must be < s.threads.
func (s *schedule) due(t int, i int64) time.Duration {
	var sec float64
	if n := s.numCalls[t]; s.hasDuration && n >= 2 {
		// fortio: "for 2s duration and 1qps there is 1 sleep of 2s
		// between the 2 calls": the last call lands at the end.
		sec = (float64(i) + float64(i)/float64(n-1)) / s.perThreadQPS
	} else {
		sec = float64(i) / s.perThreadQPS
	}
	return s.delay[t] + time.Duration(int64(sec*1e9))
}

// period is one connection's interval between calls.
func (s *schedule) period() time.Duration {
	return time.Duration(float64(time.Second) / s.perThreadQPS)
}

// minBehindBound is the least own lag that makes a run Behind: below it,
// lag is timer and scheduler noise (up to about 20 ms seen on a busy
// two-core machine).
const minBehindBound = 50 * time.Millisecond

// minAchievedRatio is the least share of its rate a run must achieve not
// to be Behind.
const minAchievedRatio = 0.9

// behindBound is ScheduleResult.Bound.
func (s *schedule) behindBound() time.Duration {
	return max(minBehindBound, s.period())
}

// threadState is what one connection remembers between its calls. fortio
// calls Start and Report for a connection from that connection's goroutine
// only, so it needs no synchronisation. It is padded to a cache line so that
// connections do not share one.
type threadState struct {
	prevEnd time.Time // end of the connection's previous counted call
	seen    bool      // prevEnd is set
	_       [64 - 32]byte
}

// lagTracker derives intended latency, start lag and own lag from each call's
// start, latency and fortio's schedule.
type lagTracker struct {
	sched    *schedule
	threads  []threadState
	intended durationStats
	startLag durationStats
	ownLag   durationStats
}

func newLagTracker(s *schedule) *lagTracker {
	return &lagTracker{sched: s, threads: make([]threadState, s.threads)}
}

// record accounts for call iter of thread, which started at start (fortio's
// time) and took latency, in a run whose counted part began at base. It
// returns the call's intended latency, or -1 when the thread is not in the
// schedule (never, unless fortio's pacing changed).
func (l *lagTracker) record(base time.Time, thread int, iter int64, start time.Time, latency time.Duration) time.Duration {
	if thread < 0 || thread >= len(l.threads) {
		return -1
	}
	due := base.Add(l.sched.due(thread, iter))
	end := start.Add(latency)
	intended := max(end.Sub(due), latency)
	ref := due
	st := &l.threads[thread]
	if st.seen && st.prevEnd.After(ref) {
		ref = st.prevEnd
	}
	st.prevEnd, st.seen = end, true
	l.intended.record(intended)
	l.startLag.record(max(start.Sub(due), 0))
	l.ownLag.record(max(start.Sub(ref), 0))
	return intended
}

// result builds Result.Schedule for a run that achieved actualQPS.
func (l *lagTracker) result(actualQPS float64) *ScheduleResult {
	r := &ScheduleResult{
		QPS:           l.sched.qps,
		AchievedRatio: actualQPS / l.sched.qps,
		StartLag:      l.startLag.lag(),
		OwnLag:        l.ownLag.lag(),
		Bound:         l.sched.behindBound(),
	}
	r.Behind = r.OwnLag.P99 > r.Bound || r.AchievedRatio < minAchievedRatio
	return r
}

// durationStats is a lock-free latencyCounts plus an exact count, sum, min
// and max. The zero value is empty and ready to use.
type durationStats struct {
	counts latencyCounts
	n, sum atomic.Int64
	max    atomic.Int64
	invMin atomic.Int64 // math.MaxInt64 - min, so that the zero value works
}

// record counts one value; negative values count as 0.
func (s *durationStats) record(d time.Duration) {
	d = max(d, 0)
	s.counts.record(d)
	s.n.Add(1)
	s.sum.Add(int64(d))
	storeMax(&s.max, int64(d))
	storeMax(&s.invMin, math.MaxInt64-int64(d))
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// percentiles summarises the values recorded so far: Min, Avg and Max
// exact, the rest the midpoint of the bucket holding the rank, kept within
// [Min, Max]. All zero when nothing was recorded.
func (s *durationStats) percentiles() Percentiles {
	n := s.n.Load()
	if n == 0 {
		return Percentiles{}
	}
	var counts, none [latencyBuckets]int64
	s.counts.snapshot(&counts)
	lo := time.Duration(math.MaxInt64 - s.invMin.Load())
	hi := time.Duration(s.max.Load())
	q := func(p float64) time.Duration {
		return min(max(windowPercentile(&counts, &none, p), lo), hi)
	}
	return Percentiles{
		Min:  lo,
		Avg:  time.Duration(s.sum.Load() / n),
		P50:  q(50),
		P75:  q(75),
		P90:  q(90),
		P99:  q(99),
		P999: q(99.9),
		Max:  hi,
	}
}

// lag summarises the values recorded so far as LagStats.
func (s *durationStats) lag() LagStats {
	p := s.percentiles()
	return LagStats{P50: p.P50, P99: p.P99, Max: p.Max}
}

// buckets returns the non-empty buckets, in increasing order.
func (s *durationStats) buckets() []Bucket {
	var counts [latencyBuckets]int64
	s.counts.snapshot(&counts)
	var out []Bucket
	for i, c := range counts {
		if c > 0 {
			lo, hi := bucketBounds(i)
			out = append(out, Bucket{Start: lo, End: hi, Count: c})
		}
	}
	return out
}
