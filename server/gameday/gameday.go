// Package gameday runs a game day headless: a steady-state check, the
// steps in order (parallel groups at once, each experiment on its own
// proxy), and the steady-state check again, into one report. It stores
// nothing; callers decide what to keep.
package gameday

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine"
	"github.com/faultline/faultline/server/report"
)

// Step statuses beyond the run statuses of report (succeeded, failed,
// stopped, error): a step the failure policy or an earlier stop skipped.
const StatusSkipped = "skipped"

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
	// (the context ended first).
	Status    string    `json:"status"`
	Verdict   string    `json:"verdict"`
	Reason    string    `json:"reason,omitempty"`
	OnFailure string    `json:"onFailure"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
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
	// Name is the experiment's name; Path its file as the game day names it.
	Name      string    `json:"name,omitempty"`
	Path      string    `json:"path,omitempty"`
	Wait      string    `json:"wait,omitempty"`
	Status    string    `json:"status"`
	Verdict   string    `json:"verdict"`
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// Report is the experiment's run report (experiment and steadyState steps).
	Report *report.Report `json:"report,omitempty"`
	// Steps are a parallel group's steps.
	Steps []Step `json:"steps,omitempty"`
}

// Failed reports whether the step did not hold: failed, error or stopped.
func (s *Step) Failed() bool {
	switch s.Status {
	case report.StatusFailed, report.StatusError, report.StatusStopped:
		return true
	}
	return false
}

// StepEvent tells a caller that a step started (Step.Status "running") or
// ended. Events of a parallel group's steps arrive one at a time.
type StepEvent struct {
	Start bool
	Step  Step
}

// Run runs gd. load returns the experiment in a file named by the game day
// (relative paths are the caller's to resolve); every file is loaded and
// checked before anything runs, and an invalid one is returned as a
// *scenarios.InvalidError with nothing run. opts apply to every
// experiment (its callbacks may be called from several goroutines at once
// while a parallel group runs). onStep, when set, hears every step start
// and end, one event at a time.
func Run(ctx context.Context, gd *scenarios.GameDay, load func(path string) (*scenarios.Document, error), opts engine.Options, onStep func(StepEvent)) (*Report, error) {
	docs, err := scenarios.ResolveGameDay(gd, load)
	if err != nil {
		return nil, err
	}
	r := &runner{gd: gd, docs: docs, opts: opts, onStep: onStep}
	return r.run(ctx), nil
}

type runner struct {
	gd     *scenarios.GameDay
	docs   map[string]*scenarios.Document
	opts   engine.Options
	mu     sync.Mutex // serialises onStep
	onStep func(StepEvent)
}

func (r *runner) run(ctx context.Context) *Report {
	rep := &Report{GameDay: r.gd.Metadata.Name, OnFailure: r.gd.Spec.FailurePolicy(), StartedAt: time.Now().UTC(), Steps: []Step{}}
	defer func() { rep.EndedAt = time.Now().UTC() }()

	before := r.steadyState(ctx, CheckBefore, -1)
	rep.SteadyStateBefore = &before
	if before.Status != report.StatusSucceeded || before.Verdict == report.VerdictFail {
		for i, s := range r.gd.Spec.Steps {
			rep.Steps = append(rep.Steps, skipped(fmt.Sprintf("spec.steps[%d]", i), i, s, "the steady state did not hold before any fault"))
		}
		rep.finish(ctx, ReasonSteadyStateBefore)
		return rep
	}

	stopped := ""
	for i, s := range r.gd.Spec.Steps {
		id := fmt.Sprintf("spec.steps[%d]", i)
		if stopped != "" {
			rep.Steps = append(rep.Steps, skipped(id, i, s, stopped))
			continue
		}
		st := r.step(ctx, id, i, s)
		rep.Steps = append(rep.Steps, st)
		switch {
		case ctx.Err() != nil:
			stopped = ReasonStopped
		case st.Failed() && rep.OnFailure == scenarios.OnFailureStop:
			stopped = id + " failed and onFailure is stop"
		}
	}
	if ctx.Err() == nil {
		after := r.steadyState(ctx, CheckAfter, -1)
		rep.SteadyStateAfter = &after
	}
	rep.finish(ctx, "")
	return rep
}

// finish sets the game day's status, verdict and reason from its steps.
func (rep *Report) finish(ctx context.Context, reason string) {
	var failed []string
	hasError := rep.SteadyStateBefore != nil && rep.SteadyStateBefore.Status == report.StatusError
	for _, s := range rep.leaves() {
		if s.Failed() {
			failed = append(failed, s.ID)
		}
		if s.Status == report.StatusError {
			hasError = true
		}
	}
	if a := rep.SteadyStateAfter; a != nil && a.Status == report.StatusError {
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
		rep.Status, rep.Verdict = report.StatusStopped, report.VerdictFail
	case hasError:
		rep.Status, rep.Verdict = report.StatusError, report.VerdictFail
	case reason != "":
		rep.Status, rep.Verdict = report.StatusFailed, report.VerdictFail
	default:
		rep.Status = report.StatusSucceeded
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
func (r *runner) emit(start bool, s Step) {
	if r.onStep == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onStep(StepEvent{Start: start, Step: s})
}

func (r *runner) step(ctx context.Context, id string, index int, s scenarios.GameDayStep) Step {
	switch s.Kind() {
	case scenarios.StepExperiment:
		return r.experiment(ctx, Step{ID: id, Index: index, Kind: scenarios.StepExperiment, Path: s.Experiment}, r.docs[s.Experiment])
	case scenarios.StepSteadyState:
		return r.steadyState(ctx, id, index)
	case scenarios.StepWait:
		return r.wait(ctx, id, index, s.Wait.D())
	case scenarios.StepParallel:
		return r.parallel(ctx, id, index, s.Parallel)
	}
	return Step{ID: id, Index: index, Status: report.StatusError, Verdict: report.VerdictNone, Reason: "the step sets no single kind"}
}

func (r *runner) steadyState(ctx context.Context, id string, index int) Step {
	path := r.gd.Spec.SteadyState
	return r.experiment(ctx, Step{ID: id, Index: index, Kind: scenarios.StepSteadyState, Path: path}, r.docs[path])
}

func (r *runner) experiment(ctx context.Context, st Step, doc *scenarios.Document) Step {
	st.Name = doc.Name()
	st.StartedAt, st.Status, st.Verdict = time.Now().UTC(), report.StatusRunning, report.VerdictNone
	r.emit(true, st)
	rep, err := engine.Execute(ctx, doc, r.opts)
	st.EndedAt = time.Now().UTC()
	switch {
	case err != nil:
		st.Status, st.Reason = report.StatusError, err.Error()
	default:
		st.Report, st.Status, st.Verdict, st.Reason = rep, rep.Status, rep.Verdict, rep.Reason
		if st.Kind == scenarios.StepSteadyState && st.Status == report.StatusFailed {
			st.Reason = "steady state did not hold: " + failedChecks(rep)
		}
	}
	r.emit(false, st)
	return st
}

func (r *runner) wait(ctx context.Context, id string, index int, d time.Duration) Step {
	st := Step{ID: id, Index: index, Kind: scenarios.StepWait, Wait: d.String(), StartedAt: time.Now().UTC(), Status: report.StatusRunning, Verdict: report.VerdictNone}
	r.emit(true, st)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		st.Status = report.StatusSucceeded
	case <-ctx.Done():
		st.Status, st.Reason = report.StatusStopped, "stopped during the wait"
	}
	st.EndedAt = time.Now().UTC()
	r.emit(false, st)
	return st
}

func (r *runner) parallel(ctx context.Context, id string, index int, steps []scenarios.GameDayStep) Step {
	st := Step{ID: id, Index: index, Kind: scenarios.StepParallel, StartedAt: time.Now().UTC(), Status: report.StatusRunning, Verdict: report.VerdictNone}
	r.emit(true, st)
	st.Steps = make([]Step, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Go(func() { st.Steps[i] = r.step(ctx, fmt.Sprintf("%s.parallel[%d]", id, i), i, s) })
	}
	wg.Wait()
	st.EndedAt = time.Now().UTC()
	st.Status, st.Verdict = report.StatusSucceeded, report.VerdictPass
	var failed []string
	rank := map[string]int{report.StatusFailed: 1, report.StatusStopped: 2, report.StatusError: 3}
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
	r.emit(false, st)
	return st
}

// skipped records a step that did not run, and a parallel group's steps.
func skipped(id string, index int, s scenarios.GameDayStep, reason string) Step {
	st := Step{ID: id, Index: index, Kind: s.Kind(), Path: s.Experiment, Status: StatusSkipped, Verdict: report.VerdictNone, Reason: reason}
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
		case s.Path != "":
			name += " " + s.Path
		case s.Wait != "":
			name += " " + s.Wait
		}
		c := report.JUnitCase{Name: name}
		if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			c.Seconds = s.EndedAt.Sub(s.StartedAt).Seconds()
		}
		msg := s.Status
		if s.Reason != "" {
			msg += ": " + s.Reason
		}
		switch s.Status {
		case StatusSkipped:
			c.Skipped = msg
		case report.StatusError, report.StatusStopped:
			c.Error, c.Text = msg, msg
		case report.StatusFailed:
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
	props := [][2]string{{"status", rep.Status}, {"verdict", rep.Verdict}, {"reason", rep.Reason}, {"onFailure", rep.OnFailure}}
	return report.JUnitSuite("faultline.gameday."+rep.GameDay, rep.StartedAt, rep.EndedAt.Sub(rep.StartedAt).Seconds(), props, cases)
}
