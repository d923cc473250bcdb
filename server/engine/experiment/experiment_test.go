package experiment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

const doc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: engine}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin, labels: {version: v1}}]
  load: {url: "http://httpbin:8000/status/200", connections: 2, requests: 20}
  hypothesis:
  - {metric: error_ratio, op: "==", value: 0}
`

func parse(t *testing.T, src string) *scenarios.Document {
	t.Helper()
	d, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestExecuteReportsTheRun(t *testing.T) {
	var progress []report.Progress
	r, err := experiment.Execute(context.Background(), parse(t, doc), experiment.Options{Seed: 42, OnProgress: func(p report.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runstatus.Succeeded || r.Verdict != report.VerdictPass || r.Requests != 20 || r.Codes["200"] != 20 || r.Seed != 42 {
		t.Errorf("report = %+v", r)
	}
	if r.Proxy.UpstreamRequests != 20 {
		t.Errorf("proxy upstream requests = %d, want 20", r.Proxy.UpstreamRequests)
	}
	if c, ok := r.Proxy.Cluster("outbound|8000||httpbin.default.svc.cluster.local"); !ok || c.UpstreamRqTotal != 20 {
		t.Errorf("cluster stats = %+v (found %v)", c, ok)
	}
	if n := len(r.Timeline); n == 0 || r.Timeline[n-1].Requests != 20 {
		t.Errorf("timeline = %+v", r.Timeline)
	}
	if len(progress) == 0 || progress[len(progress)-1].Requests != 20 {
		t.Errorf("progress = %+v", progress)
	}
}

func TestExecuteStoppedBeforeTheLoadIsAStoppedRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := experiment.Execute(ctx, parse(t, doc), experiment.Options{})
	if err != nil {
		t.Fatalf("a stopped run is not an error: %v", err)
	}
	if r.Status != runstatus.Stopped || r.Verdict != report.VerdictNone {
		t.Errorf("status %s verdict %s, want stopped/none", r.Status, r.Verdict)
	}
}

const abortDoc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: abort}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}
  load: {url: "http://httpbin:8000/get", connections: 2, qps: 100, duration: DURATION}
  abort:
  - {metric: error_ratio, op: ">", value: 0.5, window: 2s, for: 2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: PCT}}}
    route: [{destination: {host: httpbin}}]
`

func TestAbortConditionHaltsTheRun(t *testing.T) {
	src := strings.NewReplacer("DURATION", "30s", "PCT", "90").Replace(abortDoc)
	start := time.Now()
	r, err := experiment.Execute(context.Background(), parse(t, src), experiment.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runstatus.Stopped || r.Abort == nil || r.Abort.Index != 0 {
		t.Fatalf("status %s abort %+v reason %q", r.Status, r.Abort, r.Reason)
	}
	if !strings.Contains(r.Reason, "spec.abort[0] (error_ratio > 0.5 over 2s, 2 checks in a row)") {
		t.Errorf("reason = %q", r.Reason)
	}
	// Two consecutive checks, one a second: it fires after about 2 s, far
	// before the 30 s the load would have run.
	if r.Abort.AtMs < 1900 || time.Since(start) > 20*time.Second || r.Abort.Observed <= 0.5 {
		t.Errorf("fired at %.0f ms (observed %v) after %s", r.Abort.AtMs, r.Abort.Observed, time.Since(start))
	}
}

func TestAbortConditionThatNeverHoldsLetsTheRunFinish(t *testing.T) {
	src := strings.NewReplacer("DURATION", "3s", "PCT", "10").Replace(abortDoc)
	r, err := experiment.Execute(context.Background(), parse(t, src), experiment.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runstatus.Succeeded || r.Abort != nil {
		t.Errorf("status %s abort %+v reason %q", r.Status, r.Abort, r.Reason)
	}
}
