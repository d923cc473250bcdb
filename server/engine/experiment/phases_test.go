package experiment_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

const phasedDoc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: phased}
spec:
  seed: 7
  services:
  - {host: backend, port: 8000, endpoints: [{address: "ADDR"}]}
  load: {url: "http://backend:8000/", connections: 2, qps: 100}
  phases: {baseline: 2s, fault: 2s, recovery: 4s}
  hypothesis:
  - {metric: error_ratio, op: "==", value: 0, phase: baseline}
  - {metric: status_ratio, status: 503, op: ">", value: 0.95, phase: fault}
  - {metric: latency_p99, op: "<", value: 1s, phase: recovery}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: backend}
spec:
  hosts: [backend]
  http:
  - fault: {abort: {percentage: {value: 100}, httpStatus: 503}}
    route: [{destination: {host: backend}}]
`

// sickAfterGap is a dependency that comes back sick: once requests resume
// after a silence (the fault phase aborts every request before it leaves
// the proxy), it answers 500 for sickFor, then 200 again. It records when
// the silence began and ended.
type sickAfterGap struct {
	sickFor time.Duration

	mu                sync.Mutex
	last              time.Time
	gapFrom, gapTo    time.Time
	sickUntil         time.Time
	requestsInSilence int
}

func (s *sickAfterGap) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	s.mu.Lock()
	if !s.last.IsZero() && now.Sub(s.last) > 500*time.Millisecond && s.gapTo.IsZero() {
		s.gapFrom, s.gapTo = s.last, now
		s.sickUntil = now.Add(s.sickFor)
	}
	s.last = now
	sick := now.Before(s.sickUntil)
	s.mu.Unlock()
	if sick {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestPhasedRunSwitchesFaultsAndMeasuresRecovery(t *testing.T) {
	dep := &sickAfterGap{sickFor: 1500 * time.Millisecond}
	srv := httptest.NewServer(dep)
	defer srv.Close()
	d := parse(t, strings.Replace(phasedDoc, "ADDR", strings.TrimPrefix(srv.URL, "http://"), 1))

	var phases []string
	r, err := experiment.Execute(context.Background(), d, experiment.Options{OnProgress: func(p report.Progress) {
		if n := len(phases); p.Phase != "" && (n == 0 || phases[n-1] != p.Phase) {
			phases = append(phases, p.Phase)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 3 {
		t.Fatalf("phases = %+v", r.Phases)
	}
	base, fault, recovery := r.Phases[0], r.Phases[1], r.Phases[2]
	for _, p := range r.Phases {
		t.Logf("%s: %.0f–%.0f ms, %d requests, codes %v", p.Name, p.StartMs, p.EndMs, p.Requests, p.Codes)
	}
	if r.Schedule != nil {
		t.Logf("schedule %+v", *r.Schedule)
	}
	if r.TimeToRecoverMs != nil {
		t.Logf("time to recover %.0f ms (%+v)", *r.TimeToRecoverMs, *r.Recovery)
	}

	// The switches happened where the phases say: the dependency saw no
	// request for the fault phase's 2 s, give or take 100 ms.
	dep.mu.Lock()
	gap := dep.gapTo.Sub(dep.gapFrom)
	dep.mu.Unlock()
	if gap < 1900*time.Millisecond || gap > 2100*time.Millisecond {
		t.Errorf("the dependency was spared for %v, want the fault phase's 2s within 100ms", gap)
	}
	for i, want := range []float64{2000, 2000, 4000} {
		if got := r.Phases[i].EndMs - r.Phases[i].StartMs; got < want-100 || got > want+150 {
			t.Errorf("phase %s lasted %.0f ms, want %.0f", r.Phases[i].Name, got, want)
		}
	}
	if base.Codes["503"] > 2 || fault.Codes["503"] < fault.Requests-2 || recovery.Codes["503"] > 2 {
		t.Errorf("503s by phase: %d of %d, %d of %d, %d of %d", base.Codes["503"], base.Requests, fault.Codes["503"], fault.Requests, recovery.Codes["503"], recovery.Requests)
	}
	if base.Requests < 150 || fault.Requests < 150 || recovery.Requests < 300 {
		t.Errorf("requests by phase %d %d %d, want about 200 200 400", base.Requests, fault.Requests, recovery.Requests)
	}
	if fault.Delta == nil || !fault.Delta.ErrorRatio.Significant || base.Delta != nil {
		t.Errorf("fault delta %+v, baseline delta %+v", fault.Delta, base.Delta)
	}
	// The dependency stayed sick for 1.5 s after the faults went: the
	// time to recover is that, within one window.
	if r.TimeToRecoverMs == nil || r.Recovery == nil {
		t.Fatalf("no time to recover: %+v", r.Recovery)
	}
	if ttr := *r.TimeToRecoverMs; ttr < 1500-r.Recovery.StepMs || ttr > 1500+r.Recovery.WindowMs {
		t.Errorf("time to recover %.0f ms, want 1500 within one window (%v ms)", ttr, r.Recovery.WindowMs)
	}
	if r.Verdict != report.VerdictPass || r.Status != runstatus.Succeeded {
		t.Errorf("verdict %s status %s: %+v", r.Verdict, r.Status, r.Hypothesis)
	}
	if strings.Join(phases, ",") != "baseline,fault,recovery" {
		t.Errorf("live progress went through %v", phases)
	}
	// The report's injection accounting still counts the fault phase's
	// aborts against the rule.
	if len(r.Injection) != 1 || r.Injection[0].Injected != fault.Codes["503"]+base.Codes["503"]+recovery.Codes["503"] {
		t.Errorf("injection = %+v", r.Injection)
	}
}
