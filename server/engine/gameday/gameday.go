// Package gameday runs a game day headless: a steady-state check, the
// steps in order (parallel groups at once, each experiment on its own
// proxy), and the steady-state check again, into one report. It stores
// nothing; callers decide what to keep.
package gameday

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// StatusSkipped is the one step status beyond the run statuses
// (succeeded, failed, stopped, error): a step the failure policy or an
// earlier stop skipped. It is neither active nor terminal for a run.
const StatusSkipped runstatus.Status = "skipped"

// Reasons a game day fails.
const (
	ReasonSteadyStateBefore = "steady state did not hold before any fault"
	ReasonSteadyStateAfter  = "steady state did not hold after the last step"
	ReasonStopped           = "stopped before the game day finished"
)

// Step IDs of the two framing steady-state checks.
const (
	CheckBefore = "steadyState.before"
	CheckAfter  = "steadyState.after"
)

// Report is what a game day recorded.
type Report struct {
	GameDay string `json:"gameDay"`
	// Status is succeeded (every step ran and held), failed (a step or a
	// steady-state check failed), error (a step could not run) or stopped
	// (the context ended first); running in a report so far.
	Status    runstatus.Status `json:"status"`
	Verdict   string           `json:"verdict"`
	Reason    string           `json:"reason,omitempty"`
	OnFailure string           `json:"onFailure"`
	StartedAt time.Time        `json:"startedAt"`
	// EndedAt is zero while the game day runs (a report so far).
	EndedAt time.Time `json:"endedAt,omitzero"`
	// SteadyStateBefore and SteadyStateAfter are the framing checks;
	// After is nil when the first check failed or the game day stopped.
	SteadyStateBefore *Step  `json:"steadyStateBefore"`
	Steps             []Step `json:"steps"`
	SteadyStateAfter  *Step  `json:"steadyStateAfter,omitempty"`
}

// Step is one step's outcome.
type Step struct {
	// ID names the step by its field path: spec.steps[1],
	// spec.steps[2].parallel[0], or steadyState.before / .after.
	ID string `json:"id"`
	// Index is the step's position in spec.steps (or in its parallel
	// group); -1 for the framing checks.
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	// Name is the experiment's name; Path the experiment as the game day
	// names it (a file, or on the server a stored experiment's name). For
	// an action step they are the experiment it acted on.
	Name    string           `json:"name,omitempty"`
	Path    string           `json:"path,omitempty"`
	Wait    string           `json:"wait,omitempty"`
	Status  runstatus.Status `json:"status"`
	Verdict string           `json:"verdict"`
	Reason  string           `json:"reason,omitempty"`
	// StartedAt and EndedAt bound the step. An action step's are both the
	// moment its run took the action, as that run's report records it
	// (the report's start plus the action's atMs): zero while the action
	// is not yet taken, and for an action never taken.
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// RunID is the stored run of an experiment or steadyState step, and
	// for an action step the run it acted in; nil when the executor
	// stores nothing (the headless CLI).
	RunID *int64 `json:"runId,omitempty"`
	// Action is an action step's container action, and ActsOn the ID of
	// the experiment step in its parallel group it acted on.
	Action *scenarios.ContainerAction `json:"action,omitempty"`
	ActsOn string                     `json:"actsOn,omitempty"`
	// Report is the experiment's run report (experiment and steadyState steps).
	Report *report.Report `json:"report,omitempty"`
	// Steps are a parallel group's steps.
	Steps []Step `json:"steps,omitempty"`
}

// Failed reports whether the step did not hold: failed, error or stopped.
func (s *Step) Failed() bool {
	switch s.Status {
	case runstatus.Failed, runstatus.Error, runstatus.Stopped:
		return true
	}
	return false
}

// StepEvent tells a caller that a step started (Step.Status "running") or
// ended. Events of a parallel group's steps arrive one at a time.
type StepEvent struct {
	Start bool
	Step  Step
	// Parent is the ID of the parallel group the step belongs to; "" for
	// a step of spec.steps and for the framing checks.
	Parent string
}

// Executor runs the experiment of an experiment or steadyState step.
// Direct runs it in this process; the server runs it as a stored run.
type Executor interface {
	// Execute runs req and returns its report. It returns an error when
	// the run could not happen; the Result still names the stored run, if
	// there is one. A stopped run (ctx ended) is a report with status
	// stopped, not an error.
	Execute(ctx context.Context, req Request) (Result, error)
}

// Request is one experiment a step runs.
type Request struct {
	// Step is the step's ID.
	Step string
	// Path is the experiment as the game day names it; Doc is what it
	// resolved to.
	Path string
	Doc  *scenarios.Document
	// Actions are container actions the group's action steps add to the
	// experiment's own spec.actions, timed from the start of its load.
	Actions []scenarios.ContainerAction
	// Started, when set, learns the stored run's ID (0 for none) once the
	// run is recorded and before Execute waits for it. Execute calls it
	// at most once.
	Started func(runID int64)
}

// Result is what an Executor ran.
type Result struct {
	// RunID is the stored run; 0 when nothing was stored.
	RunID int64
	// Report is the run's report; nil when the run could not happen.
	Report *report.Report
}

// Direct returns the Executor of the headless CLI: experiment.Execute in
// this process with opts, storing nothing.
func Direct(opts experiment.Options) Executor { return direct{opts: opts} }

type direct struct{ opts experiment.Options }

func (d direct) Execute(ctx context.Context, req Request) (Result, error) {
	if req.Started != nil {
		req.Started(0)
	}
	rep, err := experiment.Execute(ctx, WithActions(req.Doc, req.Actions), d.opts)
	return Result{Report: rep}, err
}

// WithActions returns doc with actions added to its experiment's
// spec.actions; doc itself is not changed.
func WithActions(doc *scenarios.Document, actions []scenarios.ContainerAction) *scenarios.Document {
	if len(actions) == 0 {
		return doc
	}
	out := *doc
	exp := *doc.Experiment
	exp.Spec.Actions = append(slices.Clone(exp.Spec.Actions), actions...)
	out.Experiment = &exp
	return &out
}

// Plan is a game day whose experiments are resolved and checked, ready
// to run.
type Plan struct {
	GameDay *scenarios.GameDay
	// Docs are the experiments by the name the game day gives them.
	Docs map[string]*scenarios.Document
}

// Resolve loads every experiment the game day names through load and
// checks them against their roles (scenarios.ResolveGameDay); an invalid
// one is returned as a *scenarios.InvalidError naming the game day's field.
func Resolve(gd *scenarios.GameDay, load func(path string) (*scenarios.Document, error)) (*Plan, error) {
	docs, err := scenarios.ResolveGameDay(gd, load)
	if err != nil {
		return nil, err
	}
	return &Plan{GameDay: gd, Docs: docs}, nil
}

// Run runs gd headless, each experiment in this process. load returns the
// experiment in a file named by the game day (relative paths are the
// caller's to resolve); every file is loaded and checked before anything
// runs, and an invalid one is returned as a *scenarios.InvalidError with
// nothing run. opts apply to every experiment (its callbacks may be
// called from several goroutines at once while a parallel group runs).
// onStep, when set, hears every step start and end, one event at a time.
func Run(ctx context.Context, gd *scenarios.GameDay, load func(path string) (*scenarios.Document, error), opts experiment.Options, onStep func(StepEvent)) (*Report, error) {
	p, err := Resolve(gd, load)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, Direct(opts), onStep), nil
}

// Run runs the plan through exec until it ends or ctx ends (the report
// then has status stopped). onStep, when set, hears every step start and
// end, one event at a time.
func (p *Plan) Run(ctx context.Context, exec Executor, onStep func(StepEvent)) *Report {
	r := &runner{gd: p.GameDay, docs: p.Docs, exec: exec, onStep: onStep}
	return r.run(ctx)
}

type runner struct {
	gd     *scenarios.GameDay
	docs   map[string]*scenarios.Document
	exec   Executor
	mu     sync.Mutex // serialises onStep
	onStep func(StepEvent)
}

func (r *runner) run(ctx context.Context) *Report {
	rep := &Report{GameDay: r.gd.Metadata.Name, OnFailure: r.gd.Spec.FailurePolicy(), StartedAt: time.Now().UTC(), Steps: []Step{}}
	defer func() { rep.EndedAt = time.Now().UTC() }()

	before := r.steadyState(ctx, CheckBefore, -1, "")
	rep.SteadyStateBefore = &before
	if before.Status != runstatus.Succeeded || before.Verdict == report.VerdictFail {
		reason := "the steady state did not hold before any fault"
		if ctx.Err() != nil {
			reason = ReasonStopped
		}
		for i, s := range r.gd.Spec.Steps {
			rep.Steps = append(rep.Steps, skipped(fmt.Sprintf("spec.steps[%d]", i), i, s, reason))
		}
		if ctx.Err() != nil {
			rep.finish(ctx, "")
		} else {
			rep.finish(ctx, ReasonSteadyStateBefore)
		}
		return rep
	}

	stopped := ""
	for i, s := range r.gd.Spec.Steps {
		id := fmt.Sprintf("spec.steps[%d]", i)
		if stopped != "" {
			rep.Steps = append(rep.Steps, skipped(id, i, s, stopped))
			continue
		}
		st := r.step(ctx, id, i, s, "")
		rep.Steps = append(rep.Steps, st)
		switch {
		case ctx.Err() != nil:
			stopped = ReasonStopped
		case st.Failed() && rep.OnFailure == scenarios.OnFailureStop:
			stopped = id + " failed and onFailure is stop"
		}
	}
	if ctx.Err() == nil {
		after := r.steadyState(ctx, CheckAfter, -1, "")
		rep.SteadyStateAfter = &after
	}
	rep.finish(ctx, "")
	return rep
}

// finish sets the game day's status, verdict and reason from its steps.
func (rep *Report) finish(ctx context.Context, reason string) {
	var failed []string
	hasError := rep.SteadyStateBefore != nil && rep.SteadyStateBefore.Status == runstatus.Error
	for _, s := range rep.leaves() {
		if s.Failed() {
			failed = append(failed, s.ID)
		}
		if s.Status == runstatus.Error {
			hasError = true
		}
	}
	if a := rep.SteadyStateAfter; a != nil && a.Status == runstatus.Error {
		hasError = true
	}
	switch {
	case reason != "":
	case ctx.Err() != nil:
		reason = ReasonStopped
	case rep.SteadyStateAfter != nil && rep.SteadyStateAfter.Failed():
		reason = ReasonSteadyStateAfter
		if len(failed) > 0 {
			reason += "; failed steps: " + strings.Join(failed, ", ")
		}
	case len(failed) > 0:
		reason = "failed steps: " + strings.Join(failed, ", ")
	}
	rep.Verdict, rep.Reason = report.VerdictPass, reason
	switch {
	case ctx.Err() != nil:
		rep.Status, rep.Verdict = runstatus.Stopped, report.VerdictFail
	case hasError:
		rep.Status, rep.Verdict = runstatus.Error, report.VerdictFail
	case reason != "":
		rep.Status, rep.Verdict = runstatus.Failed, report.VerdictFail
	default:
		rep.Status = runstatus.Succeeded
	}
}

// leaves returns the steps that ran or were skipped, parallel groups
// replaced by their steps, in order.
func (rep *Report) leaves() []Step {
	var out []Step
	for _, s := range rep.Steps {
		if s.Kind == scenarios.StepParallel && len(s.Steps) > 0 {
			out = append(out, s.Steps...)
			continue
		}
		out = append(out, s)
	}
	return out
}

// emit hands ev to onStep, one event at a time.
func (r *runner) emit(start bool, s Step, parent string) {
	if r.onStep == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onStep(StepEvent{Start: start, Step: s, Parent: parent})
}

func (r *runner) step(ctx context.Context, id string, index int, s scenarios.GameDayStep, parent string) Step {
	switch s.Kind() {
	case scenarios.StepExperiment:
		return r.experiment(ctx, Step{ID: id, Index: index, Kind: scenarios.StepExperiment, Path: s.Experiment}, parent, nil)
	case scenarios.StepSteadyState:
		return r.steadyState(ctx, id, index, parent)
	case scenarios.StepWait:
		return r.wait(ctx, id, index, s.Wait.D(), parent)
	case scenarios.StepParallel:
		return r.parallel(ctx, id, index, s.Parallel)
	}
	st := Step{ID: id, Index: index, Kind: s.Kind(), Status: runstatus.Error, Verdict: report.VerdictNone, Reason: "the step sets no single kind"}
	if s.Action != nil {
		st.Reason = "an action step acts only inside a parallel group"
	}
	return st
}

func (r *runner) steadyState(ctx context.Context, id string, index int, parent string) Step {
	return r.experiment(ctx, Step{ID: id, Index: index, Kind: scenarios.StepSteadyState, Path: r.gd.Spec.SteadyState}, parent, nil)
}

// experiment runs the experiment st.Path names through the executor,
// with the container actions of the group's action steps.
func (r *runner) experiment(ctx context.Context, st Step, parent string, actions []scenarios.ContainerAction) Step {
	doc := r.docs[st.Path]
	if doc == nil {
		st.Status, st.Verdict, st.Reason = runstatus.Error, report.VerdictNone, "the experiment "+st.Path+" was not resolved"
		return st
	}
	st.Name = doc.Name()
	st.StartedAt, st.Status, st.Verdict = time.Now().UTC(), runstatus.Running, report.VerdictNone
	var once sync.Once
	begin := func(runID int64) {
		once.Do(func() {
			if runID != 0 {
				st.RunID = &runID
			}
			r.emit(true, st, parent)
		})
	}
	res, err := r.exec.Execute(ctx, Request{Step: st.ID, Path: st.Path, Doc: doc, Actions: actions, Started: begin})
	begin(res.RunID)
	if res.RunID != 0 {
		st.RunID = &res.RunID
	}
	st.EndedAt = time.Now().UTC()
	switch {
	case err != nil:
		st.Status, st.Reason = runstatus.Error, err.Error()
	case res.Report == nil:
		st.Status, st.Reason = runstatus.Error, "the run left no report"
	default:
		rep := res.Report
		st.Report, st.Status, st.Verdict, st.Reason = rep, rep.Status, rep.Verdict, rep.Reason
		if st.Kind == scenarios.StepSteadyState && st.Status == runstatus.Failed {
			st.Reason = "steady state did not hold: " + failedChecks(rep)
		}
	}
	r.emit(false, st, parent)
	return st
}

func (r *runner) wait(ctx context.Context, id string, index int, d time.Duration, parent string) Step {
	st := Step{ID: id, Index: index, Kind: scenarios.StepWait, Wait: d.String(), StartedAt: time.Now().UTC(), Status: runstatus.Running, Verdict: report.VerdictNone}
	r.emit(true, st, parent)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		st.Status = runstatus.Succeeded
	case <-ctx.Done():
		st.Status, st.Reason = runstatus.Stopped, "stopped during the wait"
	}
	st.EndedAt = time.Now().UTC()
	r.emit(false, st, parent)
	return st
}

// parallel runs a group's steps at once. An action step joins the one
// experiment of the group with a container endpoint for its container:
// the action is added to that experiment's run, and the action step ends
// when that run does, with the outcome the run recorded for the action.
func (r *runner) parallel(ctx context.Context, id string, index int, steps []scenarios.GameDayStep) Step {
	st := Step{ID: id, Index: index, Kind: scenarios.StepParallel, StartedAt: time.Now().UTC(), Status: runstatus.Running, Verdict: report.VerdictNone}
	r.emit(true, st, "")
	st.Steps = make([]Step, len(steps))
	childID := func(i int) string { return fmt.Sprintf("%s.parallel[%d]", id, i) }

	// Which experiment each action step acts on, and the actions each
	// experiment takes beyond its own.
	target := map[int]int{}
	targetErr := map[int]error{}
	extra := map[int][]scenarios.ContainerAction{}
	for i, s := range steps {
		if s.Action == nil {
			continue
		}
		path, err := scenarios.ActionExperiment(steps, s.Action, r.docs)
		if err != nil {
			targetErr[i] = err
			continue
		}
		j := slices.IndexFunc(steps, func(c scenarios.GameDayStep) bool { return c.Experiment == path })
		target[i] = j
		extra[j] = append(extra[j], *s.Action)
	}
	done := make([]chan struct{}, len(steps))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Go(func() {
			defer close(done[i])
			switch {
			case s.Action != nil && targetErr[i] != nil:
				st.Steps[i] = Step{ID: childID(i), Index: i, Kind: scenarios.StepAction, Action: s.Action,
					Status: runstatus.Error, Verdict: report.VerdictNone, Reason: targetErr[i].Error()}
				r.emit(true, st.Steps[i], id)
				r.emit(false, st.Steps[i], id)
			case s.Action != nil:
				j := target[i]
				st.Steps[i] = r.action(ctx, childID(i), i, id, s.Action, childID(j), steps[j].Experiment, done[j], &st.Steps[j], r.actionOrdinal(steps, target, i, j))
			case s.Experiment != "":
				st.Steps[i] = r.experiment(ctx, Step{ID: childID(i), Index: i, Kind: scenarios.StepExperiment, Path: s.Experiment}, id, extra[i])
			default:
				st.Steps[i] = r.step(ctx, childID(i), i, s, id)
			}
		})
	}
	wg.Wait()
	st.EndedAt = time.Now().UTC()
	st.Status, st.Verdict = runstatus.Succeeded, report.VerdictPass
	var failed []string
	rank := map[runstatus.Status]int{runstatus.Failed: 1, runstatus.Stopped: 2, runstatus.Error: 3}
	for _, c := range st.Steps {
		if c.Failed() {
			failed = append(failed, c.ID)
			st.Verdict = report.VerdictFail
			if rank[c.Status] > rank[st.Status] {
				st.Status = c.Status
			}
		}
	}
	if len(failed) > 0 {
		st.Reason = "failed steps: " + strings.Join(failed, ", ")
	}
	r.emit(false, st, "")
	return st
}

// actionOrdinal says which of the identical actions experiment j records
// belongs to action step i: its own spec.actions come first, then the
// group's action steps on it in order (the engine takes actions due at
// the same time in that order).
func (r *runner) actionOrdinal(steps []scenarios.GameDayStep, target map[int]int, i, j int) int {
	a := steps[i].Action
	same := func(b scenarios.ContainerAction) bool {
		return b.At.D() == a.At.D() && b.Action == a.Action && b.Container == a.Container
	}
	n := 0
	if doc := r.docs[steps[j].Experiment]; doc != nil {
		for _, own := range doc.Experiment.Spec.Actions {
			if same(own) {
				n++
			}
		}
	}
	for k := range i {
		if t, ok := target[k]; ok && t == j && same(*steps[k].Action) {
			n++
		}
	}
	return n
}

// action is an action step: it starts with the group, waits for the
// experiment it acts on (whose run takes the action) and ends with the
// outcome that run recorded for it, at the time the run took it.
func (r *runner) action(ctx context.Context, id string, index int, parent string, a *scenarios.ContainerAction,
	expID, path string, expDone <-chan struct{}, exp *Step, ordinal int) Step {
	st := Step{ID: id, Index: index, Kind: scenarios.StepAction, Path: path, Action: a, ActsOn: expID,
		Status: runstatus.Running, Verdict: report.VerdictNone}
	if doc := r.docs[path]; doc != nil {
		st.Name = doc.Name()
	}
	r.emit(true, st, parent)
	<-expDone // the experiment always ends, ctx or not
	st.RunID = exp.RunID
	rec, found := recordedAction(exp.Report, a, ordinal)
	if found {
		st.StartedAt = takenAt(exp.Report, rec)
		st.EndedAt = st.StartedAt
	}
	switch {
	case found && rec.OK:
		st.Status = runstatus.Succeeded
	case found:
		st.Status, st.Reason = runstatus.Error, rec.Error
	case exp.Report == nil:
		st.Status, st.Reason = runstatus.Error, "not taken: "+expID+" did not run ("+exp.Reason+")"
	case exp.Status == runstatus.Stopped || ctx.Err() != nil:
		st.Status, st.Reason = runstatus.Stopped, "not taken: "+expID+" stopped before "+a.At.String()
	default:
		st.Status, st.Reason = runstatus.Error, "not taken: the load of "+expID+" ended before "+a.At.String()
	}
	r.emit(false, st, parent)
	return st
}

// takenAt is the moment a run took a recorded action: the run's start
// plus the action's offset on the run's timeline.
func takenAt(rep *report.Report, rec report.Action) time.Time {
	return rep.StartedAt.Add(time.Duration(rec.AtMs * float64(time.Millisecond))).Round(time.Microsecond).UTC()
}

// recordedAction finds the ordinal-th record of action a in a run's
// report.
func recordedAction(rep *report.Report, a *scenarios.ContainerAction, ordinal int) (report.Action, bool) {
	if rep == nil {
		return report.Action{}, false
	}
	for _, rec := range rep.Actions {
		if rec.At == a.At.String() && rec.Action == a.Action && rec.Target == a.Container {
			if ordinal == 0 {
				return rec, true
			}
			ordinal--
		}
	}
	return report.Action{}, false
}

// skipped records a step that did not run, and a parallel group's steps.
func skipped(id string, index int, s scenarios.GameDayStep, reason string) Step {
	st := Step{ID: id, Index: index, Kind: s.Kind(), Path: s.Experiment, Action: s.Action, Status: StatusSkipped, Verdict: report.VerdictNone, Reason: reason}
	if s.Wait != nil {
		st.Wait = s.Wait.String()
	}
	for i, c := range s.Parallel {
		st.Steps = append(st.Steps, skipped(fmt.Sprintf("%s.parallel[%d]", id, i), i, c, reason))
	}
	return st
}

// failedChecks lists a report's hypothesis checks that did not hold.
func failedChecks(rep *report.Report) string {
	var out []string
	for _, c := range rep.Hypothesis {
		if !c.Pass {
			out = append(out, fmt.Sprintf("%s (observed %g)", c.Check, c.Observed))
		}
	}
	if len(out) == 0 {
		return rep.Reason
	}
	return strings.Join(out, ", ")
}

// JUnit renders the game day as JUnit XML: one test case per step (a
// parallel group's steps each their own) and per steady-state check. A
// failed step is a failure, a step that could not run an error, a step
// not run skipped.
func JUnit(rep *Report) ([]byte, error) {
	var cases []report.JUnitCase
	add := func(s *Step) {
		if s == nil {
			return
		}
		name := s.ID + " " + s.Kind
		switch {
		case s.Action != nil:
			name += " " + ActionLabel(s)
		case s.Path != "":
			name += " " + s.Path
		case s.Wait != "":
			name += " " + s.Wait
		}
		c := report.JUnitCase{Name: name}
		if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			c.Seconds = s.EndedAt.Sub(s.StartedAt).Seconds()
		}
		msg := string(s.Status)
		if s.Reason != "" {
			msg += ": " + s.Reason
		}
		switch s.Status {
		case StatusSkipped:
			c.Skipped = msg
		case runstatus.Error, runstatus.Stopped:
			c.Error, c.Text = msg, msg
		case runstatus.Failed:
			c.Failure, c.Text = msg, msg
			if s.Report != nil {
				c.Text = s.ID + " " + s.Path + ": " + failedChecks(s.Report)
			}
		}
		cases = append(cases, c)
	}
	add(rep.SteadyStateBefore)
	for i := range rep.Steps {
		if rep.Steps[i].Kind == scenarios.StepParallel {
			for j := range rep.Steps[i].Steps {
				add(&rep.Steps[i].Steps[j])
			}
			continue
		}
		add(&rep.Steps[i])
	}
	add(rep.SteadyStateAfter)
	props := [][2]string{{"status", string(rep.Status)}, {"verdict", rep.Verdict}, {"reason", rep.Reason}, {"onFailure", rep.OnFailure}}
	return report.JUnitSuite("faultline.gameday."+rep.GameDay, rep.StartedAt, rep.EndedAt.Sub(rep.StartedAt).Seconds(), props, cases)
}

// ActionLabel describes an action step: "pause httpbin at 1s", and the
// experiment step it acts on when known.
func ActionLabel(s *Step) string {
	if s.Action == nil {
		return ""
	}
	at := ""
	if s.Action.At != nil {
		at = " at " + s.Action.At.String()
	}
	label := s.Action.Action + " " + s.Action.Container + at
	if s.ActsOn != "" {
		label += " (on " + s.ActsOn + " " + s.Path + ")"
	}
	return label
}
