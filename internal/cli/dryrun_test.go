package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/report"
)

// TestRunDryRunPrintsTheRouteTableAndSendsNothing dry-runs an experiment
// whose service is a real HTTP server of the test's: the command prints
// the targets, the route table and the predictions, dials the server
// once (the preflight) and sends it no request.
func TestRunDryRunPrintsTheRouteTableAndSendsNothing(t *testing.T) {
	var requests, conns atomic.Int64
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upstream.Start()
	defer upstream.Close()
	addr := strings.TrimPrefix(upstream.URL, "http://")
	doc := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dry}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: "` + addr + `"}]
  - host: ratings
    port: 9080
    endpoints: [{demo: ratings}]
  load: {url: "http://httpbin:8000/get", connections: 4, qps: 0, requests: 100000}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: httpbin}}]
  - name: all
    route: [{destination: {host: httpbin}}]
    timeout: 2s
  - name: never
    match: [{uri: {prefix: /get}}]
    route: [{destination: {host: httpbin}}]
`
	path := filepath.Join(t.TempDir(), "dry.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := runCommand()
	cmd.SetArgs([]string{"--dry-run", path})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	t.Log(out)
	for _, want := range []string{
		"dry run of dry",
		addr, "reachable",
		"ratings", "demo, started by the run",
		"load", "GET http://httpbin:8000/get", "httpbin/1 (all)", "outbound|8000||httpbin.default.svc.cluster.local",
		"httpbin/0", "end-user=jason", "abort 503 50%",
		"httpbin/2", "SHADOWED",
		"latency_max",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run's output lacks %q", want)
		}
	}
	if !strings.Contains(out, "spec.http[2]") || !strings.Contains(out, "is shadowed") {
		t.Errorf("no warning about the shadowed rule spec.http[2]")
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the upstream got %d requests from a dry run, want none", n)
	}
	// The server counts a connection once it has accepted it, a moment
	// after the preflight's dial returned.
	wait.For(t, 5*time.Second, "the preflight's connection", func() bool { return conns.Load() >= 1 })
	if n := conns.Load(); n != 1 {
		t.Errorf("the upstream saw %d connections, want the preflight's one", n)
	}
}

// TestRunDryRunJSONOfAShippedScenario dry-runs a shipped example with
// --json: the DryRun JSON, the load's row first, the demo target not
// started, and the predictions.
func TestRunDryRunJSONOfAShippedScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := runCommand()
	cmd.SetArgs([]string{"--dry-run", "--json", filepath.Join("..", "..", "scenarios", "httpbin-abort.yaml")})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr.String())
	}
	var d report.DryRun
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatalf("not the DryRun JSON: %v\n%s", err, stdout.String())
	}
	if !d.DryRun || d.Experiment != "httpbin-abort" {
		t.Errorf("dryRun %v, experiment %q", d.DryRun, d.Experiment)
	}
	if len(d.Targets) != 1 || d.Targets[0].Status != report.TargetDemoStarted {
		t.Errorf("targets %+v, want the httpbin demo, started by the run", d.Targets)
	}
	if len(d.Routes) == 0 || d.Routes[0].Source != "load" || d.Routes[0].Hit.VirtualService != "httpbin" || d.Routes[0].Hit.Rule != 0 {
		t.Errorf("routes %+v, want the load's request hitting httpbin/0 first", d.Routes)
	}
	var er *report.Prediction
	for i := range d.Predictions {
		if d.Predictions[i].Metric == report.PredictErrorRatio {
			er = &d.Predictions[i]
		}
	}
	if er == nil || er.Predicted != 0.5 || er.Observed != nil || er.Low >= 0.5 || er.High <= 0.5 {
		t.Errorf("error_ratio prediction %+v, want 0.5 in an interval around it, unobserved", er)
	}
}

// TestRunDryRunRefusesWhatRunRefuses: a load above the ceilings exits 2,
// as run does.
func TestRunDryRunRefusesWhatRunRefuses(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "httpbin-abort.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, bytes.Replace(src, []byte("connections: 4"), []byte("connections: 100000"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dryRunFile(t.Context(), path, experimentOptions{runOptions: runOptions{Stdout: &stdout, Stderr: &stderr}})
	if code != ExitInvalid {
		t.Errorf("exit %d, want %d (invalid input); stderr: %s", code, ExitInvalid, stderr.String())
	}
}
