package experiment_test

import (
	"context"
	"testing"

	"github.com/faultline/faultline/server/engine/experiment"
)

const durationBound = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: warm}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 3, qps: 100, duration: 300ms}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {delay: {fixedDelay: 1ms, percentage: {value: 50}}}
    route: [{destination: {host: httpbin}}]
`

// fortio sends one uncounted warm-up call per connection before a
// duration-bound run. They reach the target through the proxy, but they
// are not the run's: the proxy's counters, the injection accounting and
// retry amplification leave them out, as fortio's counts do (1.007×
// amplification without a single retry, before).
func TestWarmUpCallsAreNotTheRuns(t *testing.T) {
	var targets *experiment.DemoTargets
	r, err := experiment.Execute(context.Background(), parse(t, durationBound), experiment.Options{
		OnTargets: func(d *experiment.DemoTargets) { targets = d },
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Warmup != 3 || r.Requests == 0 {
		t.Fatalf("warm-up %d, requests %d; want 3 warm-up calls and a run", r.Warmup, r.Requests)
	}
	httpbin, _ := targets.Target("httpbin", 0)
	if got, want := httpbin.Requests(), r.Requests+r.Warmup; got != want {
		t.Errorf("httpbin served %d calls, want the %d counted plus the %d warm-up calls", got, r.Requests, r.Warmup)
	}
	if got, want := r.Proxy.UpstreamRequests, r.Requests; got != want {
		t.Errorf("upstream requests %d, want the run's %d calls", got, want)
	}
	if r.RetryAmplification != 1 {
		t.Errorf("retry amplification %v, want 1 (no retries)", r.RetryAmplification)
	}
	if l, _ := r.Proxy.Listener("mesh"); l.Requests != r.Requests {
		t.Errorf("the mesh listener counted %d requests, want %d", l.Requests, r.Requests)
	}
	if len(r.Injection) != 1 || r.Injection[0].Matched != r.Requests {
		t.Errorf("injection accounting %+v: want the fault drawn for the %d calls of the run", r.Injection, r.Requests)
	}
	if got, want := r.Proxy.FaultsDelayed, r.Injection[0].Injected; got != want {
		t.Errorf("delayed %d, injected %d: the same calls", got, want)
	}
}

const durationBoundOnStaging = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: warm-on-staging}
spec:
  environment: staging
  load: {url: "http://httpbin:8000/get", connections: 2, qps: 100, duration: 200ms}
`

// On an environment the run's window starts after the warm-up, too.
func TestWarmUpCallsAreNotTheRunsOnAnEnvironment(t *testing.T) {
	plane, doc := newPlane(t, durationBoundOnStaging)
	for range 5 {
		getThrough(t, plane) // before the run: not the run's either
	}
	r, err := experiment.Execute(context.Background(), doc, experiment.Options{Plane: plane})
	if err != nil {
		t.Fatal(err)
	}
	if r.Warmup != 2 || r.Requests == 0 {
		t.Fatalf("warm-up %d, requests %d; want 2 warm-up calls and a run", r.Warmup, r.Requests)
	}
	if l, _ := r.Proxy.Listener("mesh"); l.Requests != r.Requests || r.Proxy.UpstreamRequests != r.Requests {
		t.Errorf("the run's window counted %d requests, %d upstream; want the run's %d calls", l.Requests, r.Proxy.UpstreamRequests, r.Requests)
	}
	if r.RetryAmplification != 1 {
		t.Errorf("retry amplification %v, want 1", r.RetryAmplification)
	}
}
