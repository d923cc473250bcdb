package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
)

// errAborted is the cancel cause of a run halted by an abort condition.
var errAborted = errors.New("abort condition fired")

// checkEvery is how often abort conditions are evaluated.
const checkEvery = time.Second

// abortWatch evaluates spec.abort on the live progress snapshots. It is fed
// from the load generator's single progress goroutine, so it needs no lock
// until it fires (fired is read after the load has returned).
type abortWatch struct {
	conds     []scenarios.AbortCondition
	cancel    context.CancelCauseFunc
	samples   []sample
	streaks   []int
	lastCheck time.Duration
	fired     *report.AbortFired
}

// sample is the cumulative progress at one moment.
type sample struct {
	at       time.Duration
	requests int64
	errors   int64
	codes    map[int]int64
}

func newAbortWatch(conds []scenarios.AbortCondition, cancel context.CancelCauseFunc) *abortWatch {
	return &abortWatch{conds: conds, cancel: cancel, streaks: make([]int, len(conds)),
		samples: []sample{{codes: map[int]int64{}}}}
}

// observe records a snapshot and, once a second, checks every condition.
func (w *abortWatch) observe(p loadgen.Progress) {
	if w.fired != nil || len(w.conds) == 0 {
		return
	}
	w.samples = append(w.samples, sample{at: p.Elapsed, requests: p.Requests, errors: p.Errors, codes: p.Codes})
	if p.Elapsed-w.lastCheck < checkEvery {
		return
	}
	w.lastCheck = p.Elapsed
	longest := time.Duration(0)
	for i, c := range w.conds {
		window := c.WindowOrDefault()
		longest = max(longest, window)
		observed, ok := w.value(c, window, p)
		if !ok {
			continue // nothing happened in the window: no evidence either way
		}
		if !report.Holds(observed, c.Op, c.Value.Value) {
			w.streaks[i] = 0
			continue
		}
		w.streaks[i]++
		if w.streaks[i] >= c.ForOrDefault() {
			w.fired = &report.AbortFired{Index: i, Condition: c.String(), AtMs: ms(p.Elapsed), Observed: math.Round(observed*1e4) / 1e4}
			w.cancel(errAborted)
			return
		}
	}
	w.trim(p.Elapsed - longest - checkEvery)
}

// value computes a condition's metric over its window, ending at p.
func (w *abortWatch) value(c scenarios.AbortCondition, window time.Duration, p loadgen.Progress) (float64, bool) {
	switch c.Metric {
	case "latency_p50":
		return ms(p.P50), p.Requests > 0
	case "latency_p99":
		return ms(p.P99), p.Requests > 0
	}
	from := w.samples[0]
	for _, s := range w.samples {
		if s.at > p.Elapsed-window {
			break
		}
		from = s
	}
	n := p.Requests - from.requests
	switch c.Metric {
	case "qps":
		span := p.Elapsed - from.at
		return float64(n) / span.Seconds(), span > 0
	case "error_ratio":
		return float64(p.Errors-from.errors) / float64(n), n > 0
	case "status_ratio":
		return float64(p.Codes[c.Status]-from.codes[c.Status]) / float64(n), n > 0
	}
	return 0, false
}

// trim drops samples older than needed, keeping one before the cut.
func (w *abortWatch) trim(before time.Duration) {
	i := 0
	for i+1 < len(w.samples) && w.samples[i+1].at <= before {
		i++
	}
	w.samples = w.samples[i:]
}

// reason says which condition halted the run.
func (w *abortWatch) reason() string {
	f := w.fired
	return "abort condition spec.abort[" + strconv.Itoa(f.Index) + "] (" + f.Condition + ") fired at " +
		fmt.Sprintf("%.1fs", f.AtMs/1000) + ", observed " + strconv.FormatFloat(f.Observed, 'g', -1, 64)
}
