package experiment_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/runstatus"
)

// proxyPlane is an environment's data plane made of a real proxy at its
// baseline, as server/manager/environments leases one to a run; it records what
// the run did to it.
type proxyPlane struct {
	px       *proxy.Proxy
	baseline *scenarios.Document

	mu       sync.Mutex
	applied  int
	reverted int
	inForce  bool
}

func (p *proxyPlane) Proxy() (*proxy.Proxy, error) { return p.px, nil }

func (p *proxyPlane) Apply(doc *scenarios.Document) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applied++
	p.inForce = true
	return p.px.Apply(doc)
}

func (p *proxyPlane) Revert() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inForce {
		return
	}
	p.inForce = false
	p.reverted++
	if err := p.px.Apply(p.baseline); err != nil {
		panic(err)
	}
}

func (p *proxyPlane) Entry(via, host string, port uint32) (string, error) {
	return p.px.MeshAddr(), nil
}

// newPlane starts an environment's data plane over a demo httpbin and
// returns it with the experiment src parsed on its baseline.
func newPlane(t *testing.T, src string) (*proxyPlane, *scenarios.Document) {
	t.Helper()
	target := httptest.NewServer(demo.NewHTTPBin(demo.HTTPBinOptions{}))
	t.Cleanup(target.Close)
	env, err := scenarios.ParseEnvironment([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:15001
  services:
  - {host: httpbin, port: 8000, endpoints: [{address: ` + strings.TrimPrefix(target.URL, "http://") + `}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.Start(context.Background(), env, "127.0.0.1:0", nil, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	doc, err := scenarios.ParseOn([]byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	return &proxyPlane{px: px, baseline: env}, doc
}

const onStaging = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: abort-on-staging}
spec:
  environment: staging
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 30}
  hypothesis:
  - {metric: status_ratio, status: 503, op: "==", value: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`

// getThrough sends one request through the plane's egress.
func getThrough(t *testing.T, plane *proxyPlane) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+plane.px.MeshAddr()+"/get", nil)
	req.Host = "httpbin:8000"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunOnAnEnvironmentReportsItsWindowAndReverts(t *testing.T) {
	plane, doc := newPlane(t, onStaging)
	// Traffic before the run is not the run's.
	for range 5 {
		if code := getThrough(t, plane); code != 200 {
			t.Fatalf("baseline: %d", code)
		}
	}
	r, err := experiment.Execute(context.Background(), doc, experiment.Options{Plane: plane})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runstatus.Succeeded || r.Environment != "staging" || r.Codes["503"] != 30 {
		t.Errorf("report: %s %s codes %v", r.Status, r.Reason, r.Codes)
	}
	if r.Proxy.FaultsAborted != 30 {
		t.Errorf("faults aborted in the run's window: %d, want 30", r.Proxy.FaultsAborted)
	}
	if l, _ := r.Proxy.Listener("mesh"); l.Requests != 30 {
		t.Errorf("requests in the run's window: %d, want 30 (the 5 before are not the run's)", l.Requests)
	}
	if len(r.Injection) != 1 || r.Injection[0].Injected != 30 {
		t.Errorf("injection accounting: %+v", r.Injection)
	}
	if plane.applied != 1 || plane.reverted != 1 {
		t.Errorf("applied %d, reverted %d", plane.applied, plane.reverted)
	}
	if code := getThrough(t, plane); code != 200 {
		t.Errorf("after the run: %d, want the baseline's 200", code)
	}
}

// failingRunner is a load generator that cannot run.
type failingRunner struct{}

func (failingRunner) Run(context.Context, loadgen.Spec) (*loadgen.Result, error) {
	return nil, errors.New("the load generator broke")
}

func TestRunOnAnEnvironmentRevertsWhenTheRunFails(t *testing.T) {
	plane, doc := newPlane(t, onStaging)
	_, err := experiment.Execute(context.Background(), doc, experiment.Options{Plane: plane, Runner: failingRunner{}})
	if err == nil || !strings.Contains(err.Error(), "the load generator broke") {
		t.Fatalf("err = %v", err)
	}
	if plane.applied != 1 || plane.reverted != 1 {
		t.Errorf("applied %d, reverted %d", plane.applied, plane.reverted)
	}
	if code := getThrough(t, plane); code != 200 {
		t.Errorf("after the error: %d, want the baseline's 200", code)
	}
}

func TestAnExperimentOnAnEnvironmentNeedsItsPlane(t *testing.T) {
	doc := parse(t, onStaging)
	if _, err := experiment.Execute(context.Background(), doc, experiment.Options{}); err == nil || !strings.Contains(err.Error(), "environment staging") {
		t.Errorf("err = %v", err)
	}
}
