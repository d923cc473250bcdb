package scenarios

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MaxGameDayWait bounds one wait step.
const MaxGameDayWait = 24 * time.Hour

// validateGameDay checks a decoded GameDay on its own: metadata, the
// steady-state reference, every step and the failure policy.
func validateGameDay(r *reporter, g *GameDay) {
	validateMetadata(r, g.Metadata)
	if strings.TrimSpace(g.Spec.SteadyState) == "" {
		r.errorf("spec.steadyState", "is required: the experiment file whose hypothesis defines the steady state")
	}
	if len(g.Spec.Steps) == 0 {
		r.errorf("spec.steps", "needs at least one step")
	}
	for i, s := range g.Spec.Steps {
		validateGameDayStep(r, fmt.Sprintf("spec.steps[%d]", i), s, true)
	}
	switch g.Spec.OnFailure {
	case "", OnFailureStop, OnFailureContinue:
	default:
		r.errorf("spec.onFailure", "must be stop or continue, not %q", g.Spec.OnFailure)
	}
	validateSchedule(r, g.Spec.Schedule)
	if s := g.Spec.Schedule; s != nil && s.Concurrency == ConcurrencyAllow {
		r.errorf("spec.schedule.concurrency", "a game day never overlaps itself: use forbid (skip the fire) or replace (stop the running game day)")
	}
	if n := g.Spec.Notify; n != nil && n.Webhook != nil {
		validateWebhook(r, "spec.notify.webhook", n.Webhook)
	}
}

// validateWebhook checks a webhook's URL (absolute http or https) and events.
func validateWebhook(r *reporter, p string, w *Webhook) {
	u, err := url.Parse(w.URL)
	switch {
	case strings.TrimSpace(w.URL) == "":
		r.errorf(p+".url", "is required: the http or https URL the report is POSTed to")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		r.errorf(p+".url", "must be an absolute http or https URL, not %q", w.URL)
	case u.User != nil:
		r.errorf(p+".url", "must not carry a user name or password (%s): deliveries are signed with the server's webhook secret instead", u.Redacted())
	}
	for i, e := range w.On {
		if e != WebhookFinished && e != WebhookFailed {
			r.errorf(fmt.Sprintf("%s.on[%d]", p, i), "must be finished or failed, not %q", e)
		}
	}
}

func validateGameDayStep(r *reporter, p string, s GameDayStep, top bool) {
	kinds := s.Kinds()
	switch len(kinds) {
	case 0:
		r.errorf(p, "set one of experiment, wait, steadyState, parallel or action")
		return
	case 1:
	default:
		r.errorf(p, "set exactly one of experiment, wait, steadyState, parallel or action, not %s", strings.Join(kinds, " and "))
		return
	}
	switch kinds[0] {
	case StepExperiment:
		if strings.TrimSpace(s.Experiment) == "" {
			r.errorf(p+".experiment", "must name an experiment file")
		}
	case StepWait:
		if d := s.Wait.D(); d <= 0 || d > MaxGameDayWait {
			r.errorf(p+".wait", "must be a duration between 1ns and %s, not %s", MaxGameDayWait, s.Wait)
		}
	case StepParallel:
		if !top {
			r.errorf(p+".parallel", "parallel groups do not nest")
			return
		}
		if len(s.Parallel) == 0 {
			r.errorf(p+".parallel", "needs at least one step")
		}
		for i, c := range s.Parallel {
			validateGameDayStep(r, fmt.Sprintf("%s.parallel[%d]", p, i), c, false)
		}
	case StepAction:
		if top {
			r.errorf(p+".action", "acts on a container of an experiment running beside it: put the action and that experiment in one parallel group")
			return
		}
		a := s.Action
		if strings.TrimSpace(a.Container) == "" {
			r.errorf(p+".action.container", "is required: the service host (or host/index) of a container endpoint")
		}
		if !slices.Contains(ContainerActions, a.Action) {
			r.errorf(p+".action.action", "must be one of %s, not %q", strings.Join(ContainerActions, ", "), a.Action)
		}
		if a.At == nil || a.At.D() < 0 {
			r.errorf(p+".action.at", "is required: the offset from the start of the experiment's load, such as 2s")
		}
	}
}

// ResolveGameDay loads every experiment file the game day names through
// load (which resolves paths relative to the game-day file and parses
// them) and checks them against their roles: the steady-state experiment
// must state a hypothesis and inject no fault. It returns the documents
// by path as written, or an *InvalidError whose problems name the game
// day's field (spec.steadyState, spec.steps[2].experiment) and, for a
// fault, the offending field of the experiment.
func ResolveGameDay(g *GameDay, load func(path string) (*Document, error)) (map[string]*Document, error) {
	var problems Problems
	rep := &reporter{doc: "GameDay " + g.Metadata.Name, problems: &problems, lines: map[string]int{}}
	docs := map[string]*Document{}
	failed := map[string]error{}
	get := func(path string) (*Document, error) {
		if d, ok := docs[path]; ok {
			return d, nil
		}
		if err, ok := failed[path]; ok {
			return nil, err
		}
		d, err := load(path)
		if err == nil && d == nil {
			err = errors.New("loaded no document")
		}
		if err != nil {
			failed[path] = err
			return nil, err
		}
		docs[path] = d
		return d, nil
	}
	if g.Spec.SteadyState != "" {
		if d, err := get(g.Spec.SteadyState); err != nil {
			rep.errorf("spec.steadyState", "%s: %s", g.Spec.SteadyState, loadMessage(err))
		} else {
			for _, p := range CheckSteadyState(d) {
				rep.errorf("spec.steadyState", "%s: %s", g.Spec.SteadyState, p)
			}
		}
	}
	check := func(p string, s GameDayStep) {
		if s.Experiment == "" {
			return
		}
		if _, err := get(s.Experiment); err != nil {
			rep.errorf(p+".experiment", "%s: %s", s.Experiment, loadMessage(err))
		}
	}
	for i, s := range g.Spec.Steps {
		p := fmt.Sprintf("spec.steps[%d]", i)
		check(p, s)
		for j, c := range s.Parallel {
			check(fmt.Sprintf("%s.parallel[%d]", p, j), c)
		}
	}
	if problems.hasErrors() {
		return nil, problems.Err()
	}
	for i, s := range g.Spec.Steps {
		for j, c := range s.Parallel {
			if c.Action == nil {
				continue
			}
			if _, err := ActionExperiment(s.Parallel, c.Action, docs); err != nil {
				rep.errorf(fmt.Sprintf("spec.steps[%d].parallel[%d].action.container", i, j), "%v", err)
			}
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return docs, nil
}

// ActionExperiment finds the experiment an action step of a parallel
// group acts on: the one experiment step of the group with a container
// endpoint for the action's container. docs holds the loaded experiments
// by path, as ResolveGameDay returns them.
func ActionExperiment(group []GameDayStep, a *ContainerAction, docs map[string]*Document) (string, error) {
	var found []string
	for _, s := range group {
		d := docs[s.Experiment]
		if s.Experiment == "" || d == nil || slices.Contains(found, s.Experiment) {
			continue
		}
		if _, _, err := d.Experiment.Spec.ContainerEndpoint(a.Container); err == nil {
			found = append(found, s.Experiment)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no experiment in this parallel group has a container endpoint for %q", a.Container)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q names a container endpoint of several experiments in this parallel group (%s); an action needs exactly one", a.Container, strings.Join(found, ", "))
}

// CheckSteadyState returns why doc cannot define a steady state: it
// states no hypothesis, or one of its VirtualServices injects a fault
// (each named with its field path). Nil means it can.
func CheckSteadyState(doc *Document) Problems {
	var out Problems
	if len(doc.Experiment.Spec.Hypothesis) == 0 {
		out = append(out, Problem{Severity: SeverityError, Document: "Experiment " + doc.Name(), Path: "spec.hypothesis",
			Message: "a steady-state experiment needs a hypothesis: it is what the steady state means"})
	}
	for _, vs := range doc.VirtualServices {
		for i, h := range vs.Spec.HTTP {
			if h.Fault != nil {
				out = append(out, Problem{Severity: SeverityError, Document: "VirtualService " + vs.Metadata.Name, Path: fmt.Sprintf("spec.http[%d].fault", i),
					Message: "a steady-state experiment must inject no faults"})
			}
		}
	}
	return out
}

// loadMessage renders a load error, listing an invalid document's problems.
func loadMessage(err error) string {
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		lines := make([]string, len(invalid.Problems))
		for i, p := range invalid.Problems {
			lines[i] = p.String()
		}
		return "invalid experiment: " + strings.Join(lines, "; ")
	}
	return err.Error()
}
