package loadgen

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
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
// every connection's goroutine, so the hot path is a few atomic adds.
// It implements periodic.AccessLogger.
type tracker struct {
	codes   [codeSlots]atomic.Int64
	latency latencyCounts

	mu    sync.Mutex    // guards other
	other map[int]int64 // codes outside [minCode, maxCode]; never seen in practice

	// warmedUp (Spec.OnWarmedUp) runs once, before the first counted call.
	warmedUp func()
	once     sync.Once
}

// Start is called by fortio before each counted call (never before a
// warm-up call); the context passes through. The first call runs warmedUp,
// and every connection's first call waits for it to return.
func (t *tracker) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	if t.warmedUp != nil {
		t.once.Do(t.warmedUp)
	}
	return ctx
}

// Report is called by fortio after each call with its latency in seconds and
// its status code as text ("200", "-1").
func (t *tracker) Report(_ context.Context, _ periodic.ThreadID, _ int64, _ time.Time,
	latencySec float64, _ bool, details string,
) {
	code, err := strconv.Atoi(details)
	if err != nil {
		code = -1 // fortio always reports a number; count anything else as a socket error
	}
	t.latency.record(time.Duration(latencySec * float64(time.Second)))
	if code >= minCode && code <= maxCode {
		t.codes[code-minCode].Add(1)
		return
	}
	t.mu.Lock()
	if t.other == nil {
		t.other = make(map[int]int64)
	}
	t.other[code]++
	t.mu.Unlock()
}

// Info describes the logger in fortio's text report.
func (t *tracker) Info() string { return "loadgen progress tracker" }

// codeCounts returns a fresh copy of the per-code counts.
func (t *tracker) codeCounts() map[int]int64 {
	out := make(map[int]int64)
	for i := range t.codes {
		if n := t.codes[i].Load(); n > 0 {
			out[i+minCode] = n
		}
	}
	t.mu.Lock()
	maps.Copy(out, t.other)
	t.mu.Unlock()
	return out
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
