package gameday_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// containerExperiment has a container endpoint for httpbin, so action
// steps can act on it.
const containerExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: ctr}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{container: {image: "faultline-demo:local", port: 8080}}]}]
  load: {url: "http://httpbin:8000/get", qps: 10, duration: 3s}
  actions: [{at: 1s, container: httpbin, action: pause}]
`

// loadStart is when every run of the recordingExecutor starts.
var loadStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// recordingExecutor is an Executor that runs nothing: it records what it
// was asked, numbers the runs, and reports every action due before the
// load's 3 s as taken 25 ms after it was due (a kill fails, as a
// container that is gone would).
type recordingExecutor struct {
	mu   sync.Mutex
	next int64
	reqs map[string]gameday.Request
}

func (x *recordingExecutor) Execute(ctx context.Context, req gameday.Request) (gameday.Result, error) {
	x.mu.Lock()
	x.next++
	id := x.next
	x.reqs[req.Step] = req
	x.mu.Unlock()
	req.Started(id)
	rep := &report.Report{Experiment: req.Doc.Name(), Status: runstatus.Succeeded, Verdict: report.VerdictPass, StartedAt: loadStart}
	for _, a := range append(append([]scenarios.ContainerAction(nil), req.Doc.Experiment.Spec.Actions...), req.Actions...) {
		if a.At.D().Seconds() >= 3 {
			continue
		}
		rec := report.Action{At: a.At.String(), AtMs: float64(a.At.D().Milliseconds()) + 25, Action: a.Action, Target: a.Container, OK: a.Action != "kill"}
		if !rec.OK {
			rec.Error = "kill httpbin: no such container"
		}
		rep.Actions = append(rep.Actions, rec)
	}
	return gameday.Result{RunID: id, Report: rep}, nil
}

func TestActionStepsJoinTheirExperimentsRun(t *testing.T) {
	gd, load := setup(t, gameDay("continue",
		`parallel: [{experiment: ctr.yaml}, {action: {at: 1s, container: httpbin, action: pause}}, {action: {at: 2s, container: httpbin, action: kill}}, {action: {at: 9s, container: httpbin, action: unpause}}]`,
	), map[string]string{
		"steady.yaml": experimentYAML("steady", demo, false, healthy),
		"ctr.yaml":    containerExperiment,
	})
	plan, err := gameday.Resolve(gd, load)
	if err != nil {
		t.Fatal(err)
	}
	x := &recordingExecutor{reqs: map[string]gameday.Request{}}
	var (
		mu     sync.Mutex
		starts = map[string]gameday.StepEvent{}
	)
	rep := plan.Run(context.Background(), x, func(ev gameday.StepEvent) {
		if ev.Start {
			mu.Lock()
			starts[ev.Step.ID] = ev
			mu.Unlock()
		}
	})

	req := x.reqs["spec.steps[0].parallel[0]"]
	if len(req.Actions) != 3 || req.Actions[0].Action != "pause" || req.Actions[2].Action != "unpause" || req.Path != "ctr.yaml" {
		t.Fatalf("the experiment's run was asked for %+v", req.Actions)
	}
	group := rep.Steps[0]
	exp, pause, kill, late := group.Steps[0], group.Steps[1], group.Steps[2], group.Steps[3]
	if exp.RunID == nil || *exp.RunID == 0 {
		t.Fatalf("experiment step has no run: %+v", exp)
	}
	// The experiment's own pause at 1s comes first in its report; the
	// step's identical pause is the second record.
	if pause.Kind != scenarios.StepAction || pause.Status != runstatus.Succeeded || pause.ActsOn != exp.ID || pause.Name != "ctr" ||
		pause.RunID == nil || *pause.RunID != *exp.RunID || pause.Action == nil || pause.Action.At.String() != "1s" {
		t.Errorf("pause step = %+v", pause)
	}
	if kill.Status != runstatus.Error || kill.Reason != "kill httpbin: no such container" {
		t.Errorf("kill step = %+v", kill)
	}
	if late.Status != runstatus.Error || !strings.Contains(late.Reason, "ended before 9s") {
		t.Errorf("an action due after the load = %+v", late)
	}
	// An action step happens when its run took the action: the run's
	// start plus the action's time on its timeline. One never taken has
	// no time, nor has one not yet taken when it starts.
	for _, tc := range []struct {
		step gameday.Step
		want time.Time
	}{
		{pause, loadStart.Add(1025 * time.Millisecond)},
		{kill, loadStart.Add(2025 * time.Millisecond)},
		{late, time.Time{}},
	} {
		if !tc.step.StartedAt.Equal(tc.want) || !tc.step.EndedAt.Equal(tc.want) {
			t.Errorf("%s (%s) from %v to %v, want at %v", tc.step.ID, tc.step.Action.Action, tc.step.StartedAt, tc.step.EndedAt, tc.want)
		}
	}
	if ev := starts[pause.ID]; ev.Step.Status != runstatus.Running || !ev.Step.StartedAt.IsZero() || ev.Parent != group.ID {
		t.Errorf("the pause step's start event = %+v; want running, not yet taken, in its group", ev)
	}
	if rep.Status != runstatus.Error || group.Status != runstatus.Error {
		t.Errorf("game day = %s, group %s; want error from the failed actions", rep.Status, group.Status)
	}
	if ev := starts["spec.steps[0].parallel[0]"]; ev.Step.RunID == nil || *ev.Step.RunID != *exp.RunID || ev.Parent != "spec.steps[0]" {
		t.Errorf("the experiment's start event = %+v; want its run named", ev)
	}
	if ev := starts[gameday.CheckBefore]; ev.Step.RunID == nil || ev.Parent != "" {
		t.Errorf("the first check's start event = %+v", ev)
	}
	j, err := gameday.JUnit(rep)
	if err != nil || !strings.Contains(string(j), `name="spec.steps[0].parallel[1] action pause httpbin at 1s (on spec.steps[0].parallel[0] ctr.yaml)"`) {
		t.Errorf("JUnit (%v):\n%s", err, j)
	}
}

func TestActionStepOutsideAGroupIsRefused(t *testing.T) {
	_, err := scenarios.ParseGameDay([]byte(gameDay("", `action: {at: 1s, container: httpbin, action: pause}`)))
	if err == nil || !strings.Contains(err.Error(), "spec.steps[0].action") {
		t.Errorf("ParseGameDay = %v", err)
	}
}
