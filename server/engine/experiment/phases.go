package experiment

import (
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
)

// phaser switches a phased run's data plane between its document without
// faults (baseline and recovery) and the document itself (the fault
// phase), at the edges the load generator times.
type phaser struct {
	calm, full *scenarios.Document
	// apply lays a document on the run's data plane, atomically.
	apply func(*scenarios.Document) error
	// stats reads the data plane's counters; nil where there are none.
	stats func() proxy.Stats
	// edgeStats are the counters as the fault phase began and ended.
	edgeStats [2]atomic.Pointer[proxy.Stats]
	log       *slog.Logger
	// phase is the index of the phase the run is in.
	phase atomic.Int32
	// failed holds the first switch that could not be made.
	failed atomic.Pointer[error]
}

// newPhaser returns the phaser of doc, or nil when doc is not phased.
func newPhaser(doc *scenarios.Document, log *slog.Logger) *phaser {
	if doc.Experiment.Spec.Phases == nil {
		return nil
	}
	return &phaser{calm: doc.WithoutFaults(), full: doc, log: log}
}

// first is the document the data plane serves as the run starts: the
// calm one for a phased run, doc otherwise.
func (ph *phaser) first(doc *scenarios.Document) *scenarios.Document {
	if ph == nil {
		return doc
	}
	return ph.calm
}

// edges are the offsets from the counted load's start where the fault
// phase begins and ends.
func (ph *phaser) edges() []time.Duration {
	l := ph.full.Experiment.Spec.Phases.Lengths()
	return []time.Duration{l[0], l[0] + l[1]}
}

// enter switches the data plane at edge index (1: into the fault phase,
// 2: into recovery). A switch that fails leaves the run on the table it
// had, and the run ends as an error naming it.
func (ph *phaser) enter(index int) {
	doc := ph.calm
	if index == 1 {
		doc = ph.full
	}
	ph.phase.Store(int32(index))
	if index == 1 {
		ph.snapshot(0)
	}
	if err := ph.apply(doc); err != nil {
		err = fmt.Errorf("engine: entering the %s phase: %w", scenarios.PhaseNames()[index], err)
		ph.failed.CompareAndSwap(nil, &err)
		ph.log.Error("phase switch", "err", err)
	}
	if index == 2 {
		ph.snapshot(1)
	}
}

// snapshot keeps the counters at one edge of the fault phase.
func (ph *phaser) snapshot(edge int) {
	if ph.stats != nil {
		s := ph.stats()
		ph.edgeStats[edge].Store(&s)
	}
}

// faultStats are the counters of the fault phase alone; nil when the run
// did not get through it or has no counters.
func (ph *phaser) faultStats() *proxy.Stats {
	if ph == nil {
		return nil
	}
	from, to := ph.edgeStats[0].Load(), ph.edgeStats[1].Load()
	if from == nil || to == nil {
		return nil
	}
	s := to.Sub(*from)
	return &s
}

// account sets the report's injection accounting. A phased run's is on
// the fault phase's counters: the faults act there only, so the requests
// matched outside it would dilute the realised rates. The retry
// amplification stays the whole run's.
func (ph *phaser) account(doc *scenarios.Document, r *report.Report) {
	kept := len(r.Warnings)
	report.Account(doc, r)
	fs := ph.faultStats()
	if fs == nil {
		return
	}
	fault := report.Report{Proxy: *fs}
	report.Account(doc, &fault)
	r.Injection = fault.Injection
	r.Warnings = append(r.Warnings[:kept], fault.Warnings...)
}

// name is the phase the run is in.
func (ph *phaser) name() string {
	if ph == nil {
		return ""
	}
	return scenarios.PhaseNames()[ph.phase.Load()]
}

// err is the first switch that failed, if any.
func (ph *phaser) err() error {
	if ph == nil {
		return nil
	}
	if e := ph.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// Recovery windows: a run has recovered at the start of the first window
// after the fault phase that is back within the baseline's bounds.
const (
	recoveryWindow = time.Second
	// minWindowRequests is the fewest requests a window must hold to be
	// judged at all.
	minWindowRequests = 5
	// p50Allowance widens the baseline's p99 for a window's median, which
	// comes from a coarser histogram.
	p50Allowance = 1.5
)

// fillPhases sets the report's phases, their deltas against the baseline
// and the time to recover, from the load's per-phase results.
func fillPhases(r *report.Report, res *loadgen.Result) {
	if len(res.Phases) == 0 {
		return
	}
	base := ms(res.CountedStart)
	for i, p := range res.Phases {
		if i >= len(scenarios.PhaseNames()) {
			break
		}
		ph := report.Phase{
			Name:      scenarios.PhaseNames()[i],
			StartMs:   base + ms(p.Start),
			EndMs:     base + ms(p.End),
			Requests:  p.Requests,
			Errors:    p.Errors,
			Codes:     codesOf(p.Codes),
			LatencyMs: latencyOf(p.Latency),
			Histogram: bucketsOf(p.Histogram),
		}
		if p.Requests > 0 {
			ph.ErrorRatio = roundRatio(float64(p.Errors) / float64(p.Requests))
		}
		if d := p.End - p.Start; d > 0 {
			ph.QPS = math.Round(float64(p.Requests)/d.Seconds()*10) / 10
		}
		if p.Intended != nil {
			l := latencyOf(*p.Intended)
			ph.IntendedLatencyMs = &l
		}
		r.Phases = append(r.Phases, ph)
	}
	for i := 1; i < len(r.Phases); i++ {
		r.Phases[i].Delta = report.ComparePhase(&r.Phases[0], &r.Phases[i])
	}
	if len(res.Phases) == 3 {
		r.Recovery, r.TimeToRecoverMs = timeToRecover(res, &r.Phases[0])
	}
}

// timeToRecover slides a window over the recovery phase, one series bin
// at a time, and returns how long after the fault phase the first window
// within the baseline's bounds starts: an error ratio the baseline could
// have shown (the upper end of its 95 % Wilson interval, plus the
// window's own binomial spread) and a median no slower than the
// baseline's 99th percentile. Nil when no window recovered.
func timeToRecover(res *loadgen.Result, base *report.Phase) (*report.Recovery, *float64) {
	recovery := res.Phases[2]
	faultEnd := res.Phases[1].End
	step := res.SeriesBin()
	window := min(recoveryWindow, (recovery.End-recovery.Start)/2)
	if step <= 0 || window < step {
		return nil, nil
	}
	window = window / step * step
	_, pHi := report.Wilson(base.Errors, base.Requests)
	maxP50 := base.LatencyMs.P99*p50Allowance + 0.5
	rec := &report.Recovery{WindowMs: ms(window), StepMs: ms(step), MaxErrorRatio: roundRatio(pHi), MaxP50Ms: maxP50}
	for from := faultEnd; from+window <= recovery.End; from += step {
		w, ok := res.Window(from, from+window)
		if !ok {
			return rec, nil
		}
		if w.Requests < minWindowRequests {
			continue
		}
		n := float64(w.Requests)
		allowed := pHi + 1.96*math.Sqrt(max(pHi, 1/n)*(1-pHi)/n)
		if float64(w.Errors)/n <= allowed && ms(w.P50) <= maxP50 {
			ttr := ms(from - faultEnd)
			return rec, &ttr
		}
	}
	return rec, nil
}

func roundRatio(f float64) float64 { return math.Round(f*1e4) / 1e4 }

func latencyOf(l loadgen.Percentiles) report.Latency {
	return report.Latency{Min: ms(l.Min), Avg: ms(l.Avg), P50: ms(l.P50), P75: ms(l.P75), P90: ms(l.P90), P99: ms(l.P99), P999: ms(l.P999), Max: ms(l.Max)}
}

func bucketsOf(h []loadgen.Bucket) []report.Bucket {
	out := make([]report.Bucket, len(h))
	for i, b := range h {
		out[i] = report.Bucket{StartMs: ms(b.Start), EndMs: ms(b.End), Count: b.Count}
	}
	return out
}

// fillSchedule sets the report's intended latency and how well the load
// kept its rate.
func fillSchedule(r *report.Report, res *loadgen.Result) {
	if res.Intended != nil {
		l := latencyOf(*res.Intended)
		r.IntendedLatencyMs = &l
	}
	s := res.Schedule
	if s == nil {
		return
	}
	lag := func(l loadgen.LagStats) report.LagMs {
		return report.LagMs{P50: ms(l.P50), P99: ms(l.P99), Max: ms(l.Max)}
	}
	r.Schedule = &report.Schedule{QPS: s.QPS, AchievedRatio: roundRatio(s.AchievedRatio), StartLagMs: lag(s.StartLag), OwnLagMs: lag(s.OwnLag), BoundMs: ms(s.Bound)}
	r.GeneratorBehind = s.Behind
	if s.Behind {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the load generator fell behind its schedule: requests started %.1f ms late at the 99th percentile although their connection was free (bound %.1f ms); its latency checks are not gradable", ms(s.OwnLag.P99), ms(s.Bound)))
	}
}
