package loadgen_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/loadgen"
)

// A target slow for a stretch holds back the calls behind it: their latency
// from when they were meant to start is far above their own, the lag is the
// target's (not Behind: the run caught up), and the generator's own lag
// stays small.
func TestIntendedLatencyCountsTheWaitBehindASlowTarget(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if i := n.Add(1); i >= 50 && i <= 55 {
			time.Sleep(200 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{URL: srv.URL, QPS: 100, Connections: 1, Requests: 400})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Intended == nil || res.Schedule == nil {
		t.Fatalf("a rate-limited run has no Intended (%v) or Schedule (%v)", res.Intended, res.Schedule)
	}
	in, lat, sch := *res.Intended, res.Latency, res.Schedule
	t.Logf("latency %+v\nintended %+v\nschedule %+v", lat, in, *sch)
	// 6 calls of 200ms push the calls behind them up to 1.2s behind their
	// slots; the run catches up before its 400th call.
	if in.P99 < 3*lat.P99 || in.P99 < 700*time.Millisecond {
		t.Errorf("intended p99 %v, latency p99 %v: want intended over 3x latency and 700ms", in.P99, lat.P99)
	}
	if in.Max < lat.Max || in.Min < lat.Min {
		t.Errorf("intended latency %+v below the latency %+v", in, lat)
	}
	if sch.StartLag.Max < 150*time.Millisecond {
		t.Errorf("start lag max %v, want at least 150ms", sch.StartLag.Max)
	}
	// Own lag is timer and scheduler noise here: a few ms on a busy machine.
	if sch.Behind || sch.OwnLag.P99 > sch.StartLag.Max/10 {
		t.Errorf("Behind %v, own lag %+v, bound %v, start lag %+v: the lag is the target's, not the generator's", sch.Behind, sch.OwnLag, sch.Bound, sch.StartLag)
	}
	if sch.QPS != 100 || sch.Bound != 50*time.Millisecond || sch.AchievedRatio < 0.9 || sch.AchievedRatio > 1.05 {
		t.Errorf("QPS %v, Bound %v, AchievedRatio %v; want 100, 50ms, about 1", sch.QPS, sch.Bound, sch.AchievedRatio)
	}
	if res.Phases != nil {
		t.Errorf("a run without PhaseEdges has Phases: %+v", res.Phases)
	}
	if _, ok := res.Window(0, time.Second); ok || res.SeriesBin() != 0 {
		t.Error("a run without PhaseEdges has a time series")
	}
}

// A run on time has start lag near zero: the schedule is fortio's.
func TestIntendedMatchesAServiceThatKeepsUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{URL: srv.URL, QPS: 200, Connections: 2, Uniform: true, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Timer and scheduler slack alone reach a few ms on a busy machine.
	if sch := res.Schedule; sch == nil || sch.StartLag.P50 > 20*time.Millisecond || sch.Behind {
		t.Errorf("schedule %+v: want start lag p50 under 20ms, not behind", sch)
	}
	res, err = loadgen.NewFortio().Run(t.Context(), loadgen.Spec{URL: srv.URL, Requests: 20})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Intended != nil || res.Schedule != nil {
		t.Errorf("a max-speed run has Intended %v, Schedule %v; want nil", res.Intended, res.Schedule)
	}
}

// OnPhase marks each edge as it passes; the target fails during phase 1 only,
// and the phases and windows split the calls accordingly.
func TestPhasesFollowTheEdges(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	const qps = 200
	edges := []time.Duration{500 * time.Millisecond, time.Second}
	var mu sync.Mutex
	var calls []int
	spec := loadgen.Spec{
		URL: srv.URL, QPS: qps, Duration: 1500 * time.Millisecond, StdClient: true,
		PhaseEdges: edges,
		OnPhase: func(k int) {
			failing.Store(k == 1)
			mu.Lock()
			calls = append(calls, k)
			mu.Unlock()
		},
	}
	res, err := loadgen.NewFortio().Run(t.Context(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	if len(calls) != 2 || calls[0] != 1 || calls[1] != 2 {
		t.Errorf("OnPhase calls %v, want [1 2]", calls)
	}
	mu.Unlock()
	if len(res.Phases) != 3 {
		t.Fatalf("%d phases, want 3", len(res.Phases))
	}
	// A call that started just before an edge may reach the target after
	// OnPhase ran, and one just after before it: allow qps × 50ms an edge
	// (the callback's goroutine may wait that long on a busy machine).
	const straddlers = qps * 50 / 1000
	var requests, errs int64
	codes := map[int]int64{}
	for k, p := range res.Phases {
		t.Logf("phase %d: [%v, %v) %d calls, codes %v, latency p50 %v", k, p.Start, p.End, p.Requests, p.Codes, p.Latency.P50)
		requests += p.Requests
		errs += p.Errors
		for c, n := range p.Codes {
			codes[c] += n
		}
		if sum(p.Codes) != p.Requests || p.Codes[503] != p.Errors {
			t.Errorf("phase %d: %d requests, %d errors, codes %v", k, p.Requests, p.Errors, p.Codes)
		}
		if p.Requests < 80 {
			t.Errorf("phase %d: %d requests, want about 100", k, p.Requests)
		}
		var inHist int64
		for _, b := range p.Histogram {
			inHist += b.Count
		}
		if inHist != p.Requests || p.Intended == nil || p.Latency.Max == 0 {
			t.Errorf("phase %d: histogram holds %d calls of %d; intended %v; latency %+v", k, inHist, p.Requests, p.Intended, p.Latency)
		}
	}
	if p := res.Phases[1]; p.Errors < p.Requests-2*straddlers {
		t.Errorf("phase 1: %d errors of %d calls, want all but %d", p.Errors, p.Requests, 2*straddlers)
	}
	for _, k := range []int{0, 2} {
		if p := res.Phases[k]; p.Errors > straddlers {
			t.Errorf("phase %d: %d errors, want at most %d", k, p.Errors, straddlers)
		}
	}
	if requests != res.Requests || errs != res.Errors || !mapsEqual(codes, res.Codes) {
		t.Errorf("phases add up to %d requests, %d errors, codes %v; the result has %d, %d, %v", requests, errs, codes, res.Requests, res.Errors, res.Codes)
	}
	wantBounds := [][2]time.Duration{{0, edges[0]}, {edges[0], edges[1]}, {edges[1], res.ActualDuration}}
	for k, p := range res.Phases {
		if p.Start != wantBounds[k][0] || p.End != wantBounds[k][1] {
			t.Errorf("phase %d: [%v, %v), want [%v, %v)", k, p.Start, p.End, wantBounds[k][0], wantBounds[k][1])
		}
	}
	if end := res.Phases[2].End; end < 1450*time.Millisecond || end > 1700*time.Millisecond {
		t.Errorf("the last phase ends at %v, want about 1.5s", end)
	}
	if res.CountedStart <= 0 || res.CountedStart > time.Second {
		t.Errorf("CountedStart %v, want the warm-up's few ms", res.CountedStart)
	}

	// Windows: the series bins are 100ms, so the edges fall on bin bounds.
	if got := res.SeriesBin(); got != 100*time.Millisecond {
		t.Errorf("SeriesBin %v, want 100ms", got)
	}
	w1, ok := res.Window(edges[0], edges[1])
	if !ok {
		t.Fatal("a phased run has no series")
	}
	if w1.Requests < 80 || float64(w1.Errors) < 0.9*float64(w1.Requests) {
		t.Errorf("window over phase 1: %+v, want about 100 calls, nearly all errors", w1)
	}
	w0, _ := res.Window(0, edges[0])
	if w0.Requests < 80 || float64(w0.Errors) > 0.1*float64(w0.Requests) {
		t.Errorf("window over phase 0: %+v, want about 100 calls, nearly no errors", w0)
	}
	if w0.P50 <= 0 || w0.P99 < w0.P50 {
		t.Errorf("window over phase 0: p50 %v, p99 %v", w0.P50, w0.P99)
	}
	all, _ := res.Window(0, time.Hour)
	if all.Requests != res.Requests || all.Errors != res.Errors {
		t.Errorf("window over everything: %+v; the result has %d requests, %d errors", all, res.Requests, res.Errors)
	}
	if none, _ := res.Window(120*time.Millisecond, 190*time.Millisecond); none.Requests != 0 || none.P50 != 0 {
		t.Errorf("a window holding no whole bin: %+v, want empty", none)
	}
}

// An edge the run does not reach gets no OnPhase call, and Run does not
// wait for it.
func TestOnPhaseSkipsEdgesTheRunDoesNotReach(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var calls []int // OnPhase calls are sequential and end before Run returns
	spec := loadgen.Spec{
		URL: srv.URL, QPS: 50, Connections: 1, Duration: 10 * time.Second,
		PhaseEdges: []time.Duration{200 * time.Millisecond, 8 * time.Second},
		OnPhase: func(k int) {
			calls = append(calls, k)
			if k == 1 {
				cancel()
			}
		},
	}
	began := time.Now()
	res, err := loadgen.NewFortio().Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Run took %v after the cancel at 200ms", took)
	}
	if len(calls) != 1 || calls[0] != 1 {
		t.Errorf("OnPhase calls %v, want [1]", calls)
	}
	if len(res.Phases) != 3 {
		t.Fatalf("%d phases, want 3", len(res.Phases))
	}
	if p := res.Phases[2]; p.Requests != 0 || p.Start != p.End {
		t.Errorf("the unreached phase: %+v, want empty with Start == End", p)
	}
	if res.Phases[0].Requests == 0 {
		t.Errorf("phase 0 is empty: %+v", res.Phases[0])
	}
}

func TestPhaseEdgesValidation(t *testing.T) {
	srv, served := countingEcho(t)
	ms := time.Millisecond
	cases := []struct {
		name string
		spec loadgen.Spec
	}{
		{name: "zero edge", spec: loadgen.Spec{URL: srv.URL, PhaseEdges: []time.Duration{0, 100 * ms}}},
		{name: "negative edge", spec: loadgen.Spec{URL: srv.URL, PhaseEdges: []time.Duration{-ms}}},
		{name: "decreasing", spec: loadgen.Spec{URL: srv.URL, PhaseEdges: []time.Duration{200 * ms, 100 * ms}}},
		{name: "repeated", spec: loadgen.Spec{URL: srv.URL, PhaseEdges: []time.Duration{100 * ms, 100 * ms}}},
		{name: "count-bound", spec: loadgen.Spec{URL: srv.URL, Requests: 10, PhaseEdges: []time.Duration{100 * ms}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadgen.NewFortio().Run(t.Context(), tc.spec)
			var se *loadgen.SpecError
			if !errors.As(err, &se) || se.Field != "phaseEdges" || !strings.HasPrefix(err.Error(), "loadgen: spec.phaseEdges: ") {
				t.Errorf("Run: error %v, want a *SpecError for phaseEdges", err)
			}
		})
	}
	if err := (loadgen.Spec{URL: srv.URL, Duration: time.Second, PhaseEdges: []time.Duration{ms, 2 * ms}}).Validate(); err != nil {
		t.Errorf("valid edges: %v", err)
	}
	_, err := loadgen.NewAgents([]string{"http://" + deadAddr(t)}).Run(t.Context(), loadgen.Spec{URL: srv.URL, PhaseEdges: []time.Duration{ms}})
	var se *loadgen.SpecError
	if !errors.As(err, &se) || se.Field != "phaseEdges" {
		t.Errorf("Agents.Run with PhaseEdges: error %v, want a *SpecError for phaseEdges", err)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the target saw %d requests, want none", n)
	}
}
