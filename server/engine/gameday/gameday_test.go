package gameday_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// experimentYAML is a tiny experiment against endpoint (a demo target or an
// address), optionally aborting every request with 503, with one check.
func experimentYAML(name, endpoint string, abort bool, check string) string {
	s := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: %s}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{%s}]}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 20}
  hypothesis: [%s]
`, name, endpoint, check)
	if abort {
		s += `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`
	}
	return s
}

const (
	demo       = "demo: httpbin"
	healthy    = `{metric: error_ratio, op: "==", value: 0}`
	allAborted = `{metric: status_ratio, status: 503, op: "==", value: 1}`
	allErrors  = `{metric: error_ratio, op: "==", value: 1}`
)

// counted is an upstream that counts the requests it sees.
func counted(t *testing.T) (endpoint string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return "address: " + strings.TrimPrefix(srv.URL, "http://"), hits
}

// setup writes files into a directory and returns the game day parsed from
// gd and a loader reading experiments relative to that directory.
func setup(t *testing.T, gd string, files map[string]string) (*scenarios.GameDay, func(string) (*scenarios.Document, error)) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g, err := scenarios.ParseGameDay([]byte(gd))
	if err != nil {
		t.Fatal(err)
	}
	return g, func(p string) (*scenarios.Document, error) {
		src, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, err
		}
		return scenarios.Parse(src)
	}
}

func gameDay(onFailure string, steps ...string) string {
	s := "apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nmetadata: {name: test-day}\nspec:\n  steadyState: steady.yaml\n"
	if onFailure != "" {
		s += "  onFailure: " + onFailure + "\n"
	}
	s += "  steps:\n"
	for _, st := range steps {
		s += "  - " + st + "\n"
	}
	return s
}

// events records step events.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) on(ev gameday.StepEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	what := "end"
	if ev.Start {
		what = "start"
	}
	e.log = append(e.log, what+" "+ev.Step.ID)
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.log {
		if l == s {
			return true
		}
	}
	return false
}

func TestGameDayPasses(t *testing.T) {
	gd, load := setup(t, gameDay("",
		"experiment: abort.yaml",
		"wait: 10ms",
		"parallel: [{experiment: abort2.yaml}, {wait: 20ms}]",
		"steadyState: {}",
	), map[string]string{
		"steady.yaml": experimentYAML("steady", demo, false, healthy),
		"abort.yaml":  experimentYAML("abort", demo, true, allAborted),
		"abort2.yaml": experimentYAML("abort-two", demo, true, allAborted),
	})
	var ev events
	rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != report.VerdictPass || rep.Status != runstatus.Succeeded || rep.Reason != "" {
		t.Fatalf("game day = %s %s (%s)", rep.Status, rep.Verdict, rep.Reason)
	}
	for _, c := range []*gameday.Step{rep.SteadyStateBefore, rep.SteadyStateAfter} {
		if c == nil || c.Report == nil || c.Report.Requests != 20 || c.Report.Codes["200"] != 20 || c.Verdict != report.VerdictPass {
			t.Fatalf("steady-state check = %+v", c)
		}
	}
	if len(rep.Steps) != 4 {
		t.Fatalf("%d steps", len(rep.Steps))
	}
	faults := []gameday.Step{rep.Steps[0], rep.Steps[2].Steps[0]}
	for _, s := range faults {
		if s.Kind != scenarios.StepExperiment || s.Report == nil || s.Report.Proxy.FaultsAborted != 20 || s.Status != runstatus.Succeeded || s.Verdict != report.VerdictPass {
			t.Errorf("fault step %s = %+v", s.ID, s)
		}
	}
	if rep.Steps[2].Steps[0].Name != "abort-two" || rep.Steps[2].Steps[0].ID != "spec.steps[2].parallel[0]" || rep.Steps[2].Steps[1].Kind != scenarios.StepWait {
		t.Errorf("parallel group = %+v", rep.Steps[2])
	}
	if s := rep.Steps[3]; s.Kind != scenarios.StepSteadyState || s.Report == nil || s.Report.Proxy.FaultsAborted != 0 {
		t.Errorf("steady-state step = %+v", s)
	}
	for i, s := range rep.Steps {
		if s.Index != i || s.StartedAt.IsZero() || s.EndedAt.Before(s.StartedAt) {
			t.Errorf("step %d timing/index = %+v", i, s)
		}
	}
	for _, id := range []string{"steadyState.before", "spec.steps[0]", "spec.steps[1]", "spec.steps[2]", "spec.steps[2].parallel[0]", "spec.steps[2].parallel[1]", "spec.steps[3]", "steadyState.after"} {
		if !ev.has("start "+id) || !ev.has("end "+id) {
			t.Errorf("no start/end events for %s: %v", id, ev.log)
		}
	}
	if ev.log[0] != "start steadyState.before" || ev.log[len(ev.log)-1] != "end steadyState.after" {
		t.Errorf("event order = %v", ev.log)
	}

	x, err := gameday.JUnit(rep)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(x), "<testcase "); n != 7 {
		t.Errorf("%d test cases, want 7 (2 checks, 5 leaf steps):\n%s", n, x)
	}
	for _, want := range []string{`name="faultline.gameday.test-day"`, `failures="0"`, `name="steadyState.before steadyState steady.yaml"`, `name="spec.steps[2].parallel[0] experiment abort2.yaml"`} {
		if !strings.Contains(string(x), want) {
			t.Errorf("JUnit lacks %s:\n%s", want, x)
		}
	}
}

func TestSteadyStateFailingFirstInjectsNothing(t *testing.T) {
	endpoint, hits := counted(t)
	gd, load := setup(t, gameDay("continue", "experiment: fault.yaml", "parallel: [{experiment: fault.yaml}]"), map[string]string{
		// A healthy target, yet the hypothesis wants every request to fail.
		"steady.yaml": experimentYAML("steady", demo, false, allErrors),
		"fault.yaml":  experimentYAML("fault", endpoint, false, healthy),
	})
	var ev events
	rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != report.VerdictFail || rep.Status != runstatus.Failed || rep.Reason != "steady state did not hold before any fault" {
		t.Fatalf("game day = %s %s (%s)", rep.Status, rep.Verdict, rep.Reason)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the fault experiment's target saw %d requests", n)
	}
	if rep.SteadyStateBefore.Status != runstatus.Failed || !strings.Contains(rep.SteadyStateBefore.Reason, "error_ratio == 1 (observed 0)") {
		t.Errorf("first check = %+v", rep.SteadyStateBefore)
	}
	if rep.SteadyStateAfter != nil {
		t.Error("the closing check ran after a failed first check")
	}
	for _, s := range append([]gameday.Step{rep.Steps[0]}, rep.Steps[1].Steps...) {
		if s.Status != gameday.StatusSkipped || s.Report != nil {
			t.Errorf("step %s = %s, report %v", s.ID, s.Status, s.Report != nil)
		}
	}
	if len(ev.log) != 2 {
		t.Errorf("events = %v, want the first check's only", ev.log)
	}

	// The counter does count: with a steady state that holds, both steps
	// reach the target.
	gd, load = setup(t, gameDay("continue", "experiment: fault.yaml", "parallel: [{experiment: fault.yaml}]"), map[string]string{
		"steady.yaml": experimentYAML("steady", demo, false, healthy),
		"fault.yaml":  experimentYAML("fault", endpoint, false, healthy),
	})
	if rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, nil); err != nil || rep.Verdict != report.VerdictPass {
		t.Fatalf("control run: %v %+v", err, rep)
	}
	if n := hits.Load(); n != 40 {
		t.Errorf("control run: the target saw %d requests, want 40", n)
	}
}

func TestOnFailureStopAndContinue(t *testing.T) {
	files := map[string]string{
		"steady.yaml": experimentYAML("steady", demo, false, healthy),
		// Every request aborted, yet the hypothesis wants no errors: fails.
		"bad.yaml":  experimentYAML("bad", demo, true, healthy),
		"good.yaml": experimentYAML("good", demo, true, allAborted),
	}
	t.Run("stop", func(t *testing.T) {
		gd, load := setup(t, gameDay("", "experiment: bad.yaml", "experiment: good.yaml"), files)
		rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != report.VerdictFail || rep.Status != runstatus.Failed || !strings.Contains(rep.Reason, "spec.steps[0]") {
			t.Fatalf("game day = %s %s (%s)", rep.Status, rep.Verdict, rep.Reason)
		}
		if s := rep.Steps[0]; s.Status != runstatus.Failed || s.Verdict != report.VerdictFail || s.Report == nil {
			t.Errorf("failed step = %+v", s)
		}
		if s := rep.Steps[1]; s.Status != gameday.StatusSkipped || s.Report != nil || !strings.Contains(s.Reason, "onFailure is stop") {
			t.Errorf("step after the failure = %+v", s)
		}
		if a := rep.SteadyStateAfter; a == nil || a.Status != runstatus.Succeeded {
			t.Errorf("closing check = %+v", a)
		}
	})
	t.Run("continue", func(t *testing.T) {
		gd, load := setup(t, gameDay("continue", "experiment: bad.yaml", "experiment: good.yaml"), files)
		rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != report.VerdictFail || rep.Reason != "failed steps: spec.steps[0]" || rep.OnFailure != "continue" {
			t.Fatalf("game day = %s %s (%s)", rep.Status, rep.Verdict, rep.Reason)
		}
		if s := rep.Steps[1]; s.Status != runstatus.Succeeded || s.Report == nil || s.Report.Proxy.FaultsAborted != 20 {
			t.Errorf("step after the failure = %+v", s)
		}
		if a := rep.SteadyStateAfter; a == nil || a.Status != runstatus.Succeeded {
			t.Errorf("closing check = %+v", a)
		}
		x, err := gameday.JUnit(rep)
		if err != nil || !strings.Contains(string(x), `failures="1"`) || !strings.Contains(string(x), "error_ratio == 0 (observed 1)") {
			t.Errorf("JUnit (%v):\n%s", err, x)
		}
	})
}

func TestInvalidReferencesRunNothing(t *testing.T) {
	endpoint, hits := counted(t)
	gd, load := setup(t, gameDay("", "experiment: fault.yaml", "experiment: missing.yaml"), map[string]string{
		"steady.yaml": experimentYAML("steady", endpoint, true, healthy), // a steady state with a fault
		"fault.yaml":  experimentYAML("fault", endpoint, false, healthy),
	})
	rep, err := gameday.Run(context.Background(), gd, load, experiment.Options{}, nil)
	var invalid *scenarios.InvalidError
	if !errors.As(err, &invalid) || rep != nil {
		t.Fatalf("Run = %v, %v; want *InvalidError", rep, err)
	}
	for _, want := range []string{"spec.steadyState: steady.yaml: VirtualService httpbin: spec.http[0].fault", "spec.steps[1].experiment: missing.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("target saw %d requests", hits.Load())
	}
}

func TestStoppedGameDay(t *testing.T) {
	gd, load := setup(t, gameDay("continue", "wait: 1m", "experiment: steady.yaml"), map[string]string{
		"steady.yaml": experimentYAML("steady", demo, false, healthy),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := gameday.Run(ctx, gd, load, experiment.Options{}, func(ev gameday.StepEvent) {
		if ev.Start && ev.Step.Kind == scenarios.StepWait {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != runstatus.Stopped || rep.Verdict != report.VerdictFail || rep.SteadyStateAfter != nil {
		t.Fatalf("game day = %s %s (%s), after %v", rep.Status, rep.Verdict, rep.Reason, rep.SteadyStateAfter)
	}
	if rep.Steps[0].Status != runstatus.Stopped || rep.Steps[1].Status != gameday.StatusSkipped {
		t.Errorf("steps = %s, %s", rep.Steps[0].Status, rep.Steps[1].Status)
	}
}
