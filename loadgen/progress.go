package loadgen

import (
	"context"
	"strconv"
	"sync"
	"time"

	"fortio.org/fortio/periodic"
)

// Status codes -1 (socket error) to 999 get a lock-free counter each; anything
// else fortio might report goes to a mutex-guarded map.
const (
	minCode   = -1
	maxCode   = 999
	codeSlots = maxCode - minCode + 1
)

// tracker counts completed calls as they happen. fortio calls Report from
// every connection's goroutine, so the hot path is a few atomic adds (and,
// for a rate-limited run, a CAS or two and the connection's own state).
// It implements periodic.AccessLogger.
type tracker struct {
	codes   codeCounter
	latency latencyCounts

	// warmedUp (Spec.OnWarmedUp) runs once, before the first counted call.
	warmedUp func()
	once     sync.Once
	// countedStart is the first counted call's start, set under once: every
	// connection passes once in Start before its first Report, which orders
	// the write before every read.
	countedStart time.Time
	// began is closed once countedStart is set and warmedUp has returned.
	began chan struct{}

	lags   *lagTracker // nil when the run has no schedule (max speed)
	phases *phaseSet   // nil when the run has no phases

	// afterReport, if set, runs at the end of every Report, on the
	// connection's goroutine. It lets tests slow the generator down.
	afterReport func()
}

// newTracker prepares the tracker of a run with the given (defaulted) spec,
// whose rate-limited pacing is sched (nil at max speed).
func newTracker(spec Spec, sched *schedule) *tracker {
	t := &tracker{warmedUp: spec.OnWarmedUp, began: make(chan struct{})}
	if sched != nil {
		t.lags = newLagTracker(sched)
	}
	if len(spec.PhaseEdges) > 0 {
		t.phases = newPhaseSet(spec.PhaseEdges, spec.Duration)
	}
	return t
}

// Start is called by fortio before each counted call (never before a
// warm-up call); the context passes through. The first call records the
// counted start and runs warmedUp, and every connection's first call waits
// for it to return.
func (t *tracker) Start(ctx context.Context, _ periodic.ThreadID, _ int64, startTime time.Time) context.Context {
	t.once.Do(func() {
		t.countedStart = startTime
		if t.warmedUp != nil {
			t.warmedUp()
		}
		close(t.began)
	})
	return ctx
}

// Report is called by fortio after each call with its latency in seconds and
// its status code as text ("200", "-1").
func (t *tracker) Report(_ context.Context, thread periodic.ThreadID, iter int64, startTime time.Time,
	latencySec float64, _ bool, details string,
) {
	code, err := strconv.Atoi(details)
	if err != nil {
		code = -1 // fortio always reports a number; count anything else as a socket error
	}
	latency := time.Duration(latencySec * float64(time.Second))
	t.latency.record(latency)
	t.codes.add(code)
	intended := time.Duration(-1)
	if t.lags != nil {
		intended = t.lags.record(t.countedStart, int(thread), iter, startTime, latency)
	}
	if t.phases != nil {
		t.phases.record(startTime.Sub(t.countedStart), latency, intended, code)
	}
	if t.afterReport != nil {
		t.afterReport()
	}
}

// Info describes the logger in fortio's text report.
func (t *tracker) Info() string { return "loadgen progress tracker" }

// codeCounts returns a fresh copy of the per-code counts.
func (t *tracker) codeCounts() map[int]int64 {
	return t.codes.snapshot()
}

// counted reports whether the counted run began, and when.
func (t *tracker) counted() (time.Time, bool) {
	select {
	case <-t.began:
		return t.countedStart, true
	default:
		return time.Time{}, false
	}
}

// pastCounts is the latency histogram as it was at one progress tick.
type pastCounts struct {
	at     time.Time
	counts *[latencyBuckets]int64
}

// progressWindow is how far back Progress.P50 and P99 look.
const progressWindow = time.Second

// reporter turns tracker counters into Progress snapshots. It is used by one
// goroutine at a time: the ticker loop, then Run for the final snapshot.
type reporter struct {
	t        *tracker
	start    time.Time
	planned  time.Duration
	plannedN int64

	prevAt       time.Time
	prevRequests int64
	past         []pastCounts // oldest first; past[0] is the window's base
}

func newReporter(t *tracker, spec Spec, start time.Time) *reporter {
	r := &reporter{t: t, start: start, prevAt: start, plannedN: spec.Requests}
	if spec.Requests == 0 {
		r.planned = spec.Duration
	}
	r.past = []pastCounts{{at: start, counts: new([latencyBuckets]int64)}}
	return r
}

// snapshot builds the Progress at now and advances the rate and window state.
func (r *reporter) snapshot(now time.Time) Progress {
	codes := r.t.codeCounts()
	var requests, errs int64
	for code, n := range codes {
		requests += n
		if code < 200 || code > 299 {
			errs += n
		}
	}
	p := Progress{
		Elapsed:         now.Sub(r.start),
		Planned:         r.planned,
		Requests:        requests,
		PlannedRequests: r.plannedN,
		Errors:          errs,
		Codes:           codes,
	}
	if dt := now.Sub(r.prevAt); dt > 0 {
		p.QPS = float64(requests-r.prevRequests) / dt.Seconds()
	}
	r.prevAt, r.prevRequests = now, requests

	cur := new([latencyBuckets]int64)
	r.t.latency.snapshot(cur)
	// The window base is the newest past snapshot at least progressWindow
	// old, or the oldest one kept while the run is younger than that.
	base := 0
	for i := range r.past {
		if now.Sub(r.past[i].at) >= progressWindow {
			base = i
		}
	}
	r.past = r.past[base:]
	p.P50 = windowPercentile(cur, r.past[0].counts, 50)
	p.P99 = windowPercentile(cur, r.past[0].counts, 99)
	r.past = append(r.past, pastCounts{at: now, counts: cur})
	return p
}

// tick calls emit with a snapshot every interval until stop is closed.
func (r *reporter) tick(stop <-chan struct{}, interval time.Duration, emit func(Progress)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-ticker.C:
			emit(r.snapshot(now))
		}
	}
}

var _ periodic.AccessLogger = (*tracker)(nil)
