package experiment

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/safety"
)

// DefaultGrace is safety.Limits.Grace when it is zero.
const DefaultGrace = 10 * time.Second

// abandonAfter is how long a capped run waits for the calls still in
// flight once it has cut what it can (its own proxy's connections): the
// calls of a run on an environment's data plane end only at their timeout,
// so the run ends without them.
const abandonAfter = 5 * time.Second

// RunCap is the wall-clock bound on a run's load, from its first call to
// the load generator's return, and how it is made up:
//
//	planned  the load's duration (5 s when it sets neither duration nor
//	         requests); for a count of requests, the time they take if
//	         every call waits its full timeout (ceil(requests/connections)
//	         × timeout), or requests/qps when the rate is slower, at most
//	         lim.MaxDuration
//	grace    the warm-up call before the load and the calls in flight at
//	         its end (2 × the load's timeout, 3 s when it sets none), and
//	         lim.Grace (DefaultGrace when zero) for the rest
//
// A run still loading at planned + grace is stopped: its calls in flight
// are cut, its report says so, and its run slot is free again.
func RunCap(l *scenarios.Load, lim safety.Limits) (planned, grace time.Duration) {
	timeout := loadgen.DefaultTimeout
	if l != nil && l.Timeout != nil {
		timeout = l.Timeout.D()
	}
	grace = lim.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	grace += 2 * timeout
	switch {
	case l == nil:
		planned = loadgen.DefaultDuration
	case l.Duration != nil:
		planned = l.Duration.D()
	case l.Requests > 0:
		planned = countBound(l, timeout)
		if lim.MaxDuration > 0 {
			planned = min(planned, lim.MaxDuration)
		}
	default:
		planned = loadgen.DefaultDuration
	}
	return planned, grace
}

// countBound is how long a count of requests takes at worst: each
// connection's share of the calls, each waiting its full timeout, or the
// paced rate's own length when that is longer.
func countBound(l *scenarios.Load, timeout time.Duration) time.Duration {
	conns := int64(l.Connections)
	if conns <= 0 {
		conns = loadgen.DefaultConnections
	}
	conns = min(conns, l.Requests)
	rounds := (l.Requests + conns - 1) / conns
	worst := saturatingMul(time.Duration(rounds), timeout)
	if l.QPS > 0 {
		paced := float64(l.Requests) / l.QPS * float64(time.Second)
		if paced >= math.MaxInt64 {
			return time.Duration(math.MaxInt64)
		}
		worst = max(worst, time.Duration(paced))
	}
	return worst
}

func saturatingMul(n, d time.Duration) time.Duration {
	if d != 0 && n > math.MaxInt64/d {
		return time.Duration(math.MaxInt64)
	}
	return n * d
}

// CapError is the cause of a run stopped at its wall-clock cap; its text
// is the run's reason.
type CapError struct {
	Planned, Grace time.Duration
}

func (e *CapError) Error() string {
	return fmt.Sprintf("stopped at the run's wall-clock cap of %s (its load's %s and a grace of %s): calls were still in flight; a delay or timeout that long needs a longer load",
		e.Planned+e.Grace, e.Planned, e.Grace)
}

// runCapped runs the load, and stops it (stop with cause capErr) when it
// passes its cap: the calls in flight are cut (dp.cut) and, if they still
// hold the load generator after abandonAfter, the run ends without them,
// with the counts its progress reported last. capped is capErr when the
// cap stopped the run.
//
// An abandoned load generator goroutine ends by itself when its calls
// time out (the load's timeout is within the ceilings); its result is
// dropped, and progress stops its callbacks from reaching the run.
func runCapped(ctx context.Context, runner loadgen.Runner, spec loadgen.Spec, capErr *CapError, stop context.CancelCauseFunc,
	dp dataPlane, progress *progressLog) (res *loadgen.Result, capped *CapError, err error) {
	type outcome struct {
		res *loadgen.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := runner.Run(ctx, spec)
		done <- outcome{res, err}
	}()
	timer := time.NewTimer(capErr.Planned + capErr.Grace)
	defer timer.Stop()
	select {
	case o := <-done:
		return o.res, nil, o.err
	case <-timer.C:
	}
	stop(capErr)
	if dp.cut != nil {
		dp.cut()
	}
	abandon := time.NewTimer(abandonAfter)
	defer abandon.Stop()
	select {
	case o := <-done:
		if o.err != nil {
			o.res, o.err = &loadgen.Result{}, nil
		}
		return o.res, capErr, nil
	case <-abandon.C:
		return progress.detach(), capErr, nil
	}
}

// progressLog keeps a run's progress: the timeline, one point a second,
// and the last snapshot. Once detached it takes no more.
type progressLog struct {
	mu       sync.Mutex
	timeline []report.Point
	last     loadgen.Progress
	detached bool
}

// add records p; false means the log is detached and p is dropped.
func (l *progressLog) add(p loadgen.Progress) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.detached {
		return false
	}
	l.timeline = appendPoint(l.timeline, p)
	l.last = p
	return true
}

func (l *progressLog) points() []report.Point {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.timeline
}

// detach stops the log and returns the last snapshot's counts as the
// load's result.
func (l *progressLog) detach() *loadgen.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.detached = true
	p := l.last
	return &loadgen.Result{Requests: p.Requests, Errors: p.Errors, Codes: p.Codes, ActualDuration: p.Elapsed,
		Latency: loadgen.Percentiles{P50: p.P50, P99: p.P99}}
}
