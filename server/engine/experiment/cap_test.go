package experiment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
)

func TestRunCapIsTheLoadsLengthAndAGrace(t *testing.T) {
	load := func(y string) *scenarios.Load {
		t.Helper()
		return parse(t, strings.Replace(doc, "{url: \"http://httpbin:8000/status/200\", connections: 2, requests: 20}", y, 1)).Experiment.Spec.Load
	}
	lim := safety.Limits{MaxDuration: 10 * time.Minute}
	for _, tc := range []struct {
		name           string
		load           *scenarios.Load
		lim            safety.Limits
		planned, grace time.Duration
	}{
		{name: "a duration: the duration, two default timeouts (warm-up, last calls) and the grace",
			load: load(`{url: "http://httpbin:8000/", duration: 2s}`), lim: lim, planned: 2 * time.Second, grace: 16 * time.Second},
		{name: "a longer timeout lengthens the grace",
			load: load(`{url: "http://httpbin:8000/", duration: 2s, timeout: 15s}`), lim: lim, planned: 2 * time.Second, grace: 40 * time.Second},
		{name: "a count: each connection's calls at their full timeout",
			load: load(`{url: "http://httpbin:8000/", requests: 2, timeout: 15s}`), lim: lim, planned: 15 * time.Second, grace: 40 * time.Second},
		{name: "a count paced slower than its timeouts",
			load: load(`{url: "http://httpbin:8000/", requests: 100, qps: 10, connections: 50}`), lim: lim, planned: 10 * time.Second, grace: 16 * time.Second},
		{name: "a count that could outlast the longest load is bounded by it",
			load: load(`{url: "http://httpbin:8000/", requests: 10000000, qps: 1}`), lim: lim, planned: 10 * time.Minute, grace: 16 * time.Second},
		{name: "the grace is the server's to set",
			load: load(`{url: "http://httpbin:8000/", duration: 2s, timeout: 1s}`), lim: safety.Limits{Grace: time.Second}, planned: 2 * time.Second, grace: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			planned, grace := experiment.RunCap(tc.load, tc.lim)
			if planned != tc.planned || grace != tc.grace {
				t.Errorf("got %s + %s, want %s + %s", planned, grace, tc.planned, tc.grace)
			}
		})
	}
}

// stuckRunner is a load generator whose calls hang past their timeout and
// past cancellation, as calls held by an environment's data plane do; it
// reports progress once, then returns only when released.
type stuckRunner struct{ release chan struct{} }

func (r stuckRunner) Run(ctx context.Context, spec loadgen.Spec) (*loadgen.Result, error) {
	spec.OnProgress(loadgen.Progress{Elapsed: 10 * time.Millisecond, Requests: 3, Codes: map[int]int64{200: 3}})
	<-r.release
	spec.OnProgress(loadgen.Progress{Elapsed: time.Hour, Requests: 1000}) // dropped: the run has ended
	return &loadgen.Result{Requests: 1000}, nil
}

func TestARunThatOutlastsItsCapIsStopped(t *testing.T) {
	d := parse(t, strings.Replace(doc, "connections: 2, requests: 20", "duration: 100ms, timeout: 50ms", 1))
	runner := stuckRunner{release: make(chan struct{})}
	defer close(runner.release)
	start := time.Now()
	r, err := experiment.Execute(context.Background(), d, experiment.Options{Runner: runner, Limits: safety.Limits{Grace: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	// The cap is 100ms + 2×50ms + 100ms; the calls that cannot be cut are
	// left after five seconds more.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s", took)
	}
	if r.Status != runstatus.Stopped || r.Verdict != report.VerdictNone || !strings.Contains(r.Reason, "wall-clock cap of 300ms") {
		t.Errorf("status %s, verdict %s, reason %q; want stopped at the cap", r.Status, r.Verdict, r.Reason)
	}
	if r.Requests != 3 || r.Codes["200"] != 3 {
		t.Errorf("requests %d, codes %v: want the last progress (3 × 200)", r.Requests, r.Codes)
	}
}

func TestARunWithinItsCapIsNotStopped(t *testing.T) {
	// A real load of 20 calls on loopback ends long before its cap.
	r, err := experiment.Execute(context.Background(), parse(t, doc), experiment.Options{Limits: safety.Limits{Grace: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runstatus.Succeeded || r.Requests != 20 {
		t.Errorf("status %s (%s), %d requests", r.Status, r.Reason, r.Requests)
	}
}

func TestCheckLimitsBoundsTheLoadTimeout(t *testing.T) {
	d := parse(t, strings.Replace(doc, "requests: 20", "requests: 20, timeout: 2m", 1))
	err := safety.CheckLimits(d.Experiment.Spec.Load, safety.Limits{MaxDuration: time.Minute})
	if le, ok := err.(*safety.LimitError); !ok || le.FieldPath() != "spec.load.timeout" {
		t.Errorf("err = %v, want a LimitError at spec.load.timeout", err)
	}
}
