package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/demo"
)

// serve starts a real server with cfg and returns a client of it and its
// URL.
func serve(t *testing.T, cfg server.Config, opts ...client.Option) (*client.Client, string) {
	t.Helper()
	base, _ := testserver.Start(t, cfg)
	c, err := client.New(base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, base
}

// testContext bounds a test's calls: a wait that never ends fails the
// test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// abortExperiment aborts every call to the demo httpbin with 503 and
// expects exactly that; load is its spec.load.
func abortExperiment(name, load string) string {
	return fmt.Sprintf(`# kept verbatim
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: %s
  description: every call aborted with 503
spec:
  seed: 7
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load: {url: "http://httpbin:8000/get", connections: 2, %s}
  hypothesis:
  - {metric: status_ratio, status: 503, op: "==", value: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault:
      abort: {httpStatus: 503, percentage: {value: 100}}
    route:
    - destination: {host: httpbin}
`, name, load)
}

// steadyExperiment is healthy traffic to the demo httpbin, no fault.
const steadyExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 10}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`

func mustApply(t *testing.T, c *client.Client, src string) *client.Applied {
	t.Helper()
	a, err := c.Apply(testContext(t), []byte(src))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return a
}

func TestApplyCreatesThenLeavesAnUnchangedDocumentAlone(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	src := []byte(abortExperiment("apply-me", "requests: 10"))

	first, outcome, err := c.Experiments.Apply(ctx, src)
	if err != nil || outcome != client.Created || first.Version != 1 {
		t.Fatalf("first apply: %+v %s %v", first, outcome, err)
	}
	again, outcome, err := c.Experiments.Apply(ctx, src)
	if err != nil || outcome != client.Unchanged || again.ID != first.ID || again.Version != 1 {
		t.Fatalf("second apply: %+v %s %v, want the same experiment unchanged at version 1", again, outcome, err)
	}
	_, err = c.Experiments.Create(ctx, src)
	var e *client.Error
	if !client.IsConflict(err) || !errors.As(err, &e) || e.Field != "metadata.name" {
		t.Errorf("Create of a stored name: %v, want 409 at metadata.name", err)
	}

	changed := []byte(strings.Replace(string(src), "requests: 10", "requests: 12", 1))
	updated, outcome, err := c.Experiments.Apply(ctx, changed)
	if err != nil || outcome != client.Updated || updated.ID != first.ID || updated.Version != 2 {
		t.Fatalf("apply of a change: %+v %s %v", updated, outcome, err)
	}
	list, err := c.Experiments.List(ctx, client.ListOptions{})
	if err != nil || list.Total != 1 || list.Items[0].Source != "" || list.Items[0].Version != 2 {
		t.Fatalf("list: %+v %v, want one experiment at version 2 without its source", list, err)
	}
	got, err := c.Experiments.Get(ctx, first.ID)
	if err != nil || got.Source != string(changed) || got.Format != "yaml" {
		t.Fatalf("get: %+v %v, want the source verbatim", got, err)
	}

	// A JSON envelope applies through the generic Apply, by kind.
	envelope, _ := json.Marshal(map[string]string{"source": steadyExperiment})
	for i, want := range []client.ApplyOutcome{client.Created, client.Unchanged} {
		a := mustApply(t, c, string(envelope))
		if a.Kind != client.KindExperiment || a.Name != "steady" || a.Outcome != want || a.Version != 1 {
			t.Errorf("generic apply %d: %+v, want %s", i+1, a, want)
		}
	}
	// A document of another kind is not an experiment.
	if _, _, err := c.Experiments.Apply(ctx, []byte("kind: GameDay\nmetadata: {name: x}\n")); err == nil {
		t.Error("Experiments.Apply took a GameDay")
	}

	if err := c.Experiments.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Experiments.Get(ctx, first.ID); !client.IsNotFound(err) {
		t.Errorf("get after delete: %v, want 404", err)
	}
}

func TestStartAndWaitForTheVerdict(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	exp := mustApply(t, c, abortExperiment("verdict", "requests: 40"))

	started, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{})
	if err != nil || started.Status != client.StatusQueued || started.ExperimentID != exp.ID {
		t.Fatalf("start: %+v %v", started, err)
	}
	run, err := c.Runs.Wait(ctx, started.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != client.StatusSucceeded || run.Verdict != client.VerdictPass || run.Seed != 7 || run.EndedAt.IsZero() {
		t.Fatalf("run = %+v", run)
	}
	rep := run.Report
	if rep == nil || rep.Requests != 40 || rep.Codes["503"] != 40 || rep.Proxy.FaultsAborted != 40 || rep.Proxy.ByFlag["FI"] != 40 {
		t.Fatalf("report = %+v", rep)
	}
	if len(rep.Hypothesis) != 1 || !rep.Hypothesis[0].Pass || rep.Hypothesis[0].Observed != 1 {
		t.Errorf("hypothesis = %+v", rep.Hypothesis)
	}
	if len(rep.Injection) != 1 || rep.Injection[0].Kind != "abort" || rep.Injection[0].Injected != 40 {
		t.Errorf("injection = %+v", rep.Injection)
	}
	if rep.LatencyMs.Max <= 0 || !strings.Contains(string(rep.Raw), `"fortio"`) {
		t.Errorf("latency %+v, raw report %d bytes", rep.LatencyMs, len(rep.Raw))
	}
	if len(run.Transitions) < 3 || run.Transitions[len(run.Transitions)-1].Status != client.StatusSucceeded {
		t.Errorf("transitions = %+v", run.Transitions)
	}

	runs, err := c.Runs.List(ctx, client.RunListOptions{Experiment: exp.ID, Status: client.StatusSucceeded})
	if err != nil || runs.Total != 1 || runs.Items[0].ID != run.ID || runs.Items[0].Report != nil {
		t.Errorf("runs: %+v %v", runs, err)
	}
	junit, err := c.Runs.JUnit(ctx, run.ID)
	if err != nil || !strings.Contains(string(junit), "<testsuite") {
		t.Errorf("junit: %v %.200s", err, junit)
	}
	csv, err := c.Runs.HistogramCSV(ctx, run.ID)
	if err != nil || len(strings.Split(strings.TrimSpace(string(csv)), "\n")) < 2 {
		t.Errorf("csv: %v %q", err, csv)
	}
	fortio, err := c.Runs.FortioJSON(ctx, run.ID)
	if err != nil || !json.Valid(fortio) || !strings.Contains(string(fortio), "RetCodes") {
		t.Errorf("fortio: %v %.200s", err, fortio)
	}

	// A replay: the same version and seed, compared with the first.
	replay, err := c.Runs.Rerun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if replay, err = c.Runs.Wait(ctx, replay.ID); err != nil || replay.Seed != run.Seed || replay.Verdict != client.VerdictPass {
		t.Fatalf("replay: %+v %v", replay, err)
	}
	cmp, err := c.Runs.Compare(ctx, run.ID, replay.ID)
	if err != nil || cmp.A.RunID != run.ID || cmp.B.RunID != replay.ID || cmp.ErrorRatio.Delta != 0 || len(cmp.Codes) == 0 {
		t.Errorf("compare: %+v %v", cmp, err)
	}

	// A run that ended neither stops nor has a live proxy.
	if err := c.Runs.Stop(ctx, run.ID); !client.IsConflict(err) {
		t.Errorf("stop of an ended run: %v, want 409", err)
	}
	if _, err := c.Runs.LiveProxy(ctx, run.ID); !client.IsConflict(err) {
		t.Errorf("live proxy of an ended run: %v, want 409", err)
	}
}

func TestEventsFollowARunToItsEnd(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	exp := mustApply(t, c, abortExperiment("followed", "qps: 20, duration: 2s"))
	run, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.Runs.Events(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var progress []client.Progress
	var end *client.Run
	for ev := range events {
		switch {
		case ev.Progress != nil:
			progress = append(progress, *ev.Progress)
		case ev.End != nil:
			end = ev.End
		}
	}
	if end == nil || end.Status != client.StatusSucceeded || end.Seed != 42 {
		t.Fatalf("end event: %+v", end)
	}
	if len(progress) < 2 {
		t.Fatalf("%d progress events in a 2 s run", len(progress))
	}
	if last := progress[len(progress)-1]; last.Requests == 0 || last.Codes["503"] == 0 {
		t.Errorf("last progress: %+v", last)
	}
	// The stream of an ended run is its end at once.
	again, err := c.Runs.Events(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := <-again; !ok || ev.End == nil {
		t.Errorf("events of an ended run: %+v", ev)
	}
}

func TestStopARunningRun(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	exp := mustApply(t, c, abortExperiment("long", "qps: 50, duration: 30s"))
	run, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Follow the run until its load flows (its proxy is up then), and
	// stop following there.
	follow, stopFollowing := context.WithCancel(ctx)
	events, err := c.Runs.Events(follow, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if ev.Progress != nil && ev.Progress.Requests > 0 {
			break
		}
	}
	stopFollowing()
	live, err := c.Runs.LiveProxy(ctx, run.ID)
	if err != nil || len(live.Listeners) == 0 || live.Listeners[0].Kind != "mesh" || live.RunID != run.ID {
		t.Fatalf("live proxy: %+v %v", live, err)
	}
	if err := c.Runs.Stop(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	stopped, err := c.Runs.Wait(ctx, run.ID)
	if err != nil || stopped.Status != client.StatusStopped || stopped.Reason != "stopped by request" {
		t.Fatalf("after stop: %+v %v", stopped, err)
	}
}

func TestLeverRefusesStarts(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	exp := mustApply(t, c, abortExperiment("held", "requests: 4"))

	var e *client.Error
	if _, err := c.Lever.Engage(ctx, ""); !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || e.Field != "reason" {
		t.Errorf("engage without a reason: %v, want 400 at reason", err)
	}
	lever, err := c.Lever.Engage(ctx, "incident 4711")
	if err != nil || !lever.Engaged || lever.Reason != "incident 4711" || lever.Since.IsZero() {
		t.Fatalf("engage: %+v %v", lever, err)
	}
	_, err = c.Runs.Start(ctx, exp.ID, client.StartOptions{})
	if client.Code(err) != client.CodeLever || !client.IsConflict(err) {
		t.Fatalf("start under the lever: %v, want 409 code lever", err)
	}
	if got, err := c.Lever.Get(ctx); err != nil || !got.Engaged {
		t.Errorf("lever: %+v %v", got, err)
	}
	if lever, err = c.Lever.Release(ctx, "resolved"); err != nil || lever.Engaged {
		t.Fatalf("release: %+v %v", lever, err)
	}
	run, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if run, err = c.Runs.Wait(ctx, run.ID); err != nil || run.Status != client.StatusSucceeded {
		t.Errorf("run after release: %+v %v", run, err)
	}
}

func TestValidateAndRefusedDocumentsNameTheField(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	good := abortExperiment("valid", "requests: 4")
	bad := strings.Replace(good, "httpStatus: 503", "httpStatus: 700", 1)

	v, err := c.Validate(ctx, []byte(good))
	if err != nil || !v.Valid || len(v.Errors()) != 0 {
		t.Errorf("validate good: %+v %v", v, err)
	}
	v, err = c.Validate(ctx, []byte(bad))
	if err != nil || v.Valid || len(v.Errors()) == 0 {
		t.Fatalf("validate bad: %+v %v", v, err)
	}
	if p := v.Errors()[0]; !strings.Contains(p.Path, "spec.http[0].fault.abort") || p.Line == 0 || p.Document != "VirtualService httpbin" {
		t.Errorf("problem: %+v (%s)", p, p)
	}

	_, err = c.Experiments.Create(ctx, []byte(bad))
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(e.Field, "spec.http[0].fault.abort") || len(e.Problems) == 0 {
		t.Fatalf("create bad: %v", err)
	}
	_, err = c.Runs.List(ctx, client.RunListOptions{Status: "nope"})
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || e.Field != "status" {
		t.Errorf("list with a bad status: %v, want 400 at status", err)
	}
	if _, err := c.Runs.Get(ctx, 999); !client.IsNotFound(err) {
		t.Errorf("get of no run: %v, want 404", err)
	}
}

// freeAddr returns a loopback address that was free a moment ago, for an
// environment's fixed listeners.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// viaEgress gets http://httpbin:8000/get through the egress, as a service
// with HTTP_PROXY does, and returns the status code.
func viaEgress(t *testing.T, egress string) int {
	t.Helper()
	proxyURL, _ := url.Parse("http://" + egress)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://httpbin:8000/get")
	if err != nil {
		t.Fatalf("through the egress: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

const teapotOverlay = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`

func TestEnvironmentWithAnOverlay(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	target := httptest.NewServer(demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	t.Cleanup(target.Close)
	egress := freeAddr(t)
	envSrc := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: %s
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: %s}]
`, egress, strings.TrimPrefix(target.URL, "http://"))

	env, outcome, err := c.Environments.Apply(ctx, []byte(envSrc))
	if err != nil || outcome != client.Created || env.Plane == nil || !env.Plane.Listening || env.Plane.Listeners[0].Addr != egress {
		t.Fatalf("apply environment: %+v %s %v", env, outcome, err)
	}
	if again, outcome, err := c.Environments.Apply(ctx, []byte(envSrc)); err != nil || outcome != client.Unchanged || again.Version != 1 {
		t.Fatalf("apply again: %+v %s %v", again, outcome, err)
	}
	if code := viaEgress(t, egress); code != http.StatusOK {
		t.Fatalf("baseline through the egress: %d", code)
	}

	var e *client.Error
	if _, err := c.Overlays.Add(ctx, env.ID, 2*time.Hour, []byte(teapotOverlay)); !errors.As(err, &e) || e.StatusCode != http.StatusUnprocessableEntity || e.Field != "ttl" {
		t.Errorf("an overlay for 2 h: %v, want 422 at ttl", err)
	}
	ov, err := c.Overlays.Add(ctx, env.ID, 30*time.Second, []byte(teapotOverlay))
	if err != nil || ov.TTL() != 30*time.Second || ov.Remaining() <= 0 || len(ov.Resources) != 1 || ov.Environment != "staging" {
		t.Fatalf("add overlay: %+v %v", ov, err)
	}
	if code := viaEgress(t, egress); code != http.StatusTeapot {
		t.Errorf("under the overlay: %d, want 418", code)
	}
	if list, err := c.Overlays.List(ctx, env.ID); err != nil || len(list) != 1 || list[0].ID != ov.ID {
		t.Errorf("overlays: %+v %v", list, err)
	}
	if got, err := c.Environments.Get(ctx, env.ID); err != nil || got.Plane.Holder == nil || got.Plane.Holder.Kind != "overlay" || got.Source != envSrc {
		t.Errorf("environment under the overlay: %+v %v", got, err)
	}

	// While the overlay holds the environment, another overlay and a run
	// that will not queue are refused as busy.
	if _, err := c.Overlays.Add(ctx, env.ID, time.Minute, []byte(teapotOverlay)); client.Code(err) != client.CodeBusy {
		t.Errorf("a second overlay: %v, want code busy", err)
	}
	onEnv := mustApply(t, c, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: on-staging}
spec:
  environment: staging
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 5}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`)
	if _, err := c.Runs.Start(ctx, onEnv.ID, client.StartOptions{NoQueue: true}); client.Code(err) != client.CodeBusy || !client.IsConflict(err) {
		t.Errorf("a run that will not queue: %v, want 409 code busy", err)
	}

	if err := c.Overlays.Remove(ctx, env.ID, ov.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Overlays.Remove(ctx, env.ID, ov.ID); !client.IsNotFound(err) {
		t.Errorf("removing it twice: %v, want 404", err)
	}
	if code := viaEgress(t, egress); code != http.StatusOK {
		t.Errorf("after the overlay: %d, want the baseline's 200", code)
	}

	run, err := c.Runs.Start(ctx, onEnv.ID, client.StartOptions{NoQueue: true})
	if err != nil {
		t.Fatal(err)
	}
	if run, err = c.Runs.Wait(ctx, run.ID); err != nil || run.Status != client.StatusSucceeded || run.Environment != "staging" {
		t.Fatalf("run on the environment: %+v %v", run, err)
	}
	if runs, err := c.Environments.Runs(ctx, env.ID, client.ListOptions{}); err != nil || runs.Total != 1 || runs.Items[0].ID != run.ID {
		t.Errorf("runs of the environment: %+v %v", runs, err)
	}
	graph, err := c.Environments.Graph(ctx, env.ID)
	if err != nil || len(graph.Edges) == 0 || graph.Edges[0].Destination != "httpbin" || graph.Edges[0].Requests == 0 {
		t.Errorf("graph: %+v %v", graph, err)
	}
	// The access log is flushed shortly after the requests.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines, err := c.Environments.AccessLog(ctx, env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) > 0 && strings.Contains(strings.Join(lines, "\n"), `"GET /get HTTP/1.1" 418`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log: %q", lines)
		}
	}
	if err := c.Environments.Delete(ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := c.Environments.List(ctx, client.ListOptions{}); err != nil || list.Total != 0 {
		t.Errorf("environments after delete: %+v %v", list, err)
	}
}

func TestGameDayRunsToItsEnd(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	mustApply(t, c, steadyExperiment)
	mustApply(t, c, abortExperiment("abort", "requests: 10"))
	day := `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: client-day}
spec:
  steadyState: steady
  steps:
  - experiment: abort
  - parallel: [{experiment: abort}, {steadyState: {}}]
`
	gd, outcome, err := c.GameDays.Apply(ctx, []byte(day))
	if err != nil || outcome != client.Created {
		t.Fatalf("apply game day: %+v %s %v", gd, outcome, err)
	}
	if again := mustApply(t, c, day); again.Outcome != client.Unchanged || again.Kind != client.KindGameDay || again.Version != 1 {
		t.Errorf("apply again: %+v", again)
	}
	bad := strings.Replace(day, "experiment: abort\n", "experiment: nowhere\n", 1)
	if _, err := c.GameDays.Update(ctx, gd.ID, []byte(bad)); err == nil {
		t.Error("a game day naming no stored experiment was saved")
	}

	started, err := c.GameDays.Start(ctx, gd.ID)
	if err != nil || started.Status != client.StatusRunning || started.Trigger != "api" {
		t.Fatalf("start: %+v %v", started, err)
	}
	events, err := c.GameDayRuns.Events(ctx, started.ID)
	if err != nil {
		t.Fatal(err)
	}
	var first, last client.GameDayEvent
	steps := 0
	for ev := range events {
		if first.State == nil && first.Step == nil && first.End == nil {
			first = ev
		}
		if ev.Step != nil {
			steps++
		}
		last = ev
	}
	if first.State == nil || last.End == nil || steps == 0 {
		t.Fatalf("events: first %+v, last %+v, %d step events", first, last, steps)
	}

	run, err := c.GameDayRuns.Wait(ctx, started.ID)
	if err != nil || run.Status != client.StatusSucceeded || run.Verdict != client.VerdictPass || run.Report == nil {
		t.Fatalf("game-day run: %+v %v", run, err)
	}
	rep := run.Report
	if rep.SteadyStateBefore == nil || rep.SteadyStateAfter == nil || len(rep.Steps) != 2 || len(rep.Steps[1].Steps) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	step, err := c.Runs.Get(ctx, rep.Steps[0].RunID)
	if err != nil || step.GameDayRunID != run.ID || step.GameDayStep != rep.Steps[0].ID {
		t.Errorf("the first step's run: %+v %v", step, err)
	}
	junit, err := c.GameDayRuns.JUnit(ctx, run.ID)
	if err != nil || !strings.Contains(string(junit), "<testsuite") {
		t.Errorf("junit: %v %.200s", err, junit)
	}
	if runs, err := c.GameDays.Runs(ctx, gd.ID, client.ListOptions{}); err != nil || runs.Total != 1 || runs.Items[0].ID != run.ID {
		t.Errorf("runs of the game day: %+v %v", runs, err)
	}
	if got, err := c.GameDays.Get(ctx, gd.ID); err != nil || got.LastRun == nil || got.LastRun.ID != run.ID || got.Source != day {
		t.Errorf("game day: %+v %v", got, err)
	}
	if fires, err := c.GameDays.Fires(ctx, gd.ID, client.ListOptions{}); err != nil || fires.Total != 0 {
		t.Errorf("fires of an unscheduled game day: %+v %v", fires, err)
	}
	if cal, err := c.GameDays.Calendar(ctx, gd.ID, time.Time{}, time.Time{}); err != nil || cal.Enabled || cal.Timezone != "UTC" {
		t.Errorf("calendar of an unscheduled game day: %+v %v", cal, err)
	}
}

func TestGameDayRefusesASecondRunAndStops(t *testing.T) {
	c, _ := serve(t, server.Config{})
	ctx := testContext(t)
	mustApply(t, c, steadyExperiment)
	gd := mustApply(t, c, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: slow-day}
spec:
  steadyState: steady
  steps:
  - wait: 1m
`)
	run, err := c.GameDays.Start(ctx, gd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GameDays.Start(ctx, gd.ID); client.Code(err) != client.CodeRunning {
		t.Errorf("a second start: %v, want code running", err)
	}
	if err := c.GameDayRuns.Stop(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	stopped, err := c.GameDayRuns.Wait(ctx, run.ID)
	if err != nil || stopped.Status != client.StatusStopped {
		t.Fatalf("after stop: %+v %v", stopped, err)
	}
	if err := c.GameDayRuns.Stop(ctx, run.ID); !client.IsConflict(err) {
		t.Errorf("stopping it again: %v, want 409", err)
	}
}

func TestTokenGuardsTheClient(t *testing.T) {
	const token = "client-test-token-0123456789"
	anon, base := serve(t, server.Config{Token: token})
	ctx := testContext(t)

	_, err := anon.Experiments.List(ctx, client.ListOptions{})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Message == "" {
		t.Fatalf("without a token: %v, want 401 with a message", err)
	}
	if err := anon.Healthz(ctx); err != nil {
		t.Errorf("healthz needs no token: %v", err)
	}

	c, err := client.New(base, client.WithToken(token), client.WithUserAgent("client-test/1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Experiments.List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	lever, err := c.Lever.Engage(ctx, "token test")
	if err != nil || lever.By != "admin" {
		t.Fatalf("engage: %+v %v, want it moved by the token's name", lever, err)
	}
	if _, err := c.Lever.Release(ctx, ""); err != nil {
		t.Fatal(err)
	}
	metrics, err := c.Metrics(ctx)
	if err != nil || !strings.Contains(string(metrics), "faultline_safety_lever_engaged") {
		t.Errorf("metrics: %v %.200s", err, metrics)
	}
	audit, err := c.Audit.List(ctx, client.ListOptions{Limit: 10})
	if err != nil || audit.Total != 2 || audit.Items[0].Actor != "admin" || audit.Items[0].UserAgent != "client-test/1" || audit.Items[0].Route != "/api/v1/safety/lever" {
		t.Errorf("audit: %+v %v", audit, err)
	}
	if doc, err := anon.OpenAPI(ctx); err != nil || !json.Valid(doc) {
		t.Errorf("openapi.json: %v", err)
	}
}
