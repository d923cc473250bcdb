package scenarios

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// KindGameDay is the kind of a game-day document.
const KindGameDay = "GameDay"

// Game-day failure policies (spec.onFailure).
const (
	OnFailureStop     = "stop"
	OnFailureContinue = "continue"
)

// GameDay is an ordered list of steps — experiments, waits, steady-state
// checks and parallel groups of them — framed by a steady-state check
// before the first step and after the last (docs/architecture.md, Game
// days). A game-day file holds exactly one GameDay document.
type GameDay struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   ObjectMeta  `json:"metadata"`
	Spec       GameDaySpec `json:"spec"`
	// Warnings are problems that do not reject the document.
	Warnings Problems `json:"-"`
	// lines maps field paths to their source lines.
	lines map[string]int
}

// Line is the source line of the field at path ("spec.notify.webhook.url"),
// or of its nearest parent the document has; 0 when unknown.
func (g *GameDay) Line(path string) int {
	r := reporter{lines: g.lines}
	if r.lines == nil {
		return 0
	}
	return r.line(path)
}

// GameDaySpec is the body of a GameDay.
type GameDaySpec struct {
	// SteadyState is the path (relative to the game-day file) of the
	// experiment whose hypothesis defines the steady state. It must state
	// a hypothesis and inject no fault.
	SteadyState string `json:"steadyState"`
	// Steps run in order.
	Steps []GameDayStep `json:"steps"`
	// OnFailure says what a failed step does to the steps after it: stop
	// (the default) skips them, continue runs them anyway. The closing
	// steady-state check runs either way.
	OnFailure string `json:"onFailure,omitempty"`
	// Schedule, when set, has the server start the game day on a
	// timetable; its blackout windows also halt a running game day.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Notify says whom the server tells when the game day ends.
	Notify *Notify `json:"notify,omitempty"`
}

// Notify lists the notifications of a game day's end.
type Notify struct {
	Webhook *Webhook `json:"webhook,omitempty"`
}

// Webhook events: every end of a game day is "finished" when it succeeded
// and "failed" otherwise (failed, error, stopped, interrupted).
const (
	WebhookFinished = "finished"
	WebhookFailed   = "failed"
)

// Webhook is a JSON POST of the game-day report's summary to URL, signed
// with HMAC-SHA256 under the server's webhook secret (header
// X-Faultline-Signature: sha256=<hex>).
type Webhook struct {
	URL string `json:"url"`
	// On lists the events to deliver (finished, failed); empty means both.
	On []string `json:"on,omitempty"`
}

// Wants reports whether the webhook delivers event.
func (w *Webhook) Wants(event string) bool {
	if w == nil {
		return false
	}
	if len(w.On) == 0 {
		return true
	}
	for _, e := range w.On {
		if e == event {
			return true
		}
	}
	return false
}

// GameDayStep is one step; exactly one of its fields is set.
type GameDayStep struct {
	// Experiment is the path of an experiment file, relative to the
	// game-day file.
	Experiment string `json:"experiment,omitempty"`
	// Wait pauses the game day.
	Wait *Duration `json:"wait,omitempty"`
	// SteadyState runs the steady-state check now ({}).
	SteadyState *SteadyStateStep `json:"steadyState,omitempty"`
	// Parallel runs its steps at once; a group does not nest.
	Parallel []GameDayStep `json:"parallel,omitempty"`
	// Action acts on a container endpoint of the experiment in the same
	// parallel group that has one for the named service, at an offset
	// from the start of that experiment's load. It only appears inside a
	// parallel group, beside that experiment.
	Action *ContainerAction `json:"action,omitempty"`
}

// SteadyStateStep is the (empty) body of a steadyState step.
type SteadyStateStep struct{}

// Step kinds, as GameDayStep.Kind names them.
const (
	StepExperiment  = "experiment"
	StepWait        = "wait"
	StepSteadyState = "steadyState"
	StepParallel    = "parallel"
	StepAction      = "action"
)

// Kinds lists the kinds set on the step, in field order; a valid step has
// exactly one.
func (s GameDayStep) Kinds() []string {
	var out []string
	if s.Experiment != "" {
		out = append(out, StepExperiment)
	}
	if s.Wait != nil {
		out = append(out, StepWait)
	}
	if s.SteadyState != nil {
		out = append(out, StepSteadyState)
	}
	if s.Parallel != nil {
		out = append(out, StepParallel)
	}
	if s.Action != nil {
		out = append(out, StepAction)
	}
	return out
}

// Kind is the step's kind, or "" unless exactly one is set.
func (s GameDayStep) Kind() string {
	if k := s.Kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// FailurePolicy returns OnFailure with its default applied.
func (s GameDaySpec) FailurePolicy() string {
	if s.OnFailure == "" {
		return OnFailureStop
	}
	return s.OnFailure
}

// ExperimentPaths lists every experiment file the game day names: the
// steady state first, then the steps' experiments in order, each once.
func (g *GameDay) ExperimentPaths() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(g.Spec.SteadyState)
	for _, s := range g.Spec.Steps {
		add(s.Experiment)
		for _, c := range s.Parallel {
			add(c.Experiment)
		}
	}
	return out
}

// ParseGameDay reads a game-day file: a YAML (or JSON) stream holding one
// GameDay document, decoded strictly and validated on its own (the
// experiment files it names are checked by ResolveGameDay). On any error
// it returns an *InvalidError listing every problem with its field path.
func ParseGameDay(src []byte) (*GameDay, error) {
	var problems Problems
	if len(src) > MaxSourceBytes {
		problems = append(problems, Problem{Severity: SeverityError, Message: fmt.Sprintf("document is larger than %d bytes", MaxSourceBytes)})
		return nil, problems.Err()
	}
	var gd *GameDay
	for _, d := range documents(src, &problems) {
		node := d.node
		label := fmt.Sprintf("document %d", d.index+1)
		if node.Kind != yaml.MappingNode {
			problems = append(problems, Problem{Severity: SeverityError, Document: label, Line: node.Line, Message: notAnObject})
			continue
		}
		kind, apiVersion, name := headOf(node)
		if kind != "" {
			label = strings.TrimSpace(kind + " " + name)
		}
		rep := &reporter{doc: label, problems: &problems, lines: map[string]int{"": node.Line}}
		switch {
		case kind != KindGameDay:
			if kind == "" {
				rep.errorf("kind", "is required: a game-day file holds one document of kind GameDay")
			} else {
				rep.errorf("kind", "a game-day file holds one document of kind GameDay, not %q (experiments live in their own files, named by the steps)", kind)
			}
			continue
		case apiVersion != APIVersion:
			rep.errorf("apiVersion", "must be %s, not %q", APIVersion, apiVersion)
			continue
		case gd != nil:
			rep.errorf("kind", "a game-day file holds exactly one GameDay")
			continue
		}
		gd = &GameDay{}
		(&decoder{rep: rep}).decode(node, reflect.ValueOf(gd).Elem(), "")
		gd.lines = rep.lines
		validateGameDay(rep, gd)
	}
	if gd == nil && !problems.hasErrors() {
		problems = append(problems, Problem{Severity: SeverityError, Message: "the stream holds no document of kind GameDay (apiVersion " + APIVersion + ")"})
	}
	if err := problems.Err(); err != nil {
		err.(*InvalidError).Warnings = problems.Warnings()
		return nil, err
	}
	gd.Warnings = problems.Warnings()
	return gd, nil
}

// ActionsFor returns the container actions the game day's action steps
// add to the experiment step at stepPath (its field path, such as
// spec.steps[2].parallel[0]): those of its parallel group that act on
// it. doc is that step's experiment. A step outside a parallel group, or
// a path the game day does not have, gets none.
func (g *GameDay) ActionsFor(stepPath string, doc *Document) []ContainerAction {
	var i, j int
	if n, err := fmt.Sscanf(stepPath, "spec.steps[%d].parallel[%d]", &i, &j); n != 2 || err != nil {
		return nil
	}
	if i < 0 || i >= len(g.Spec.Steps) || j < 0 || j >= len(g.Spec.Steps[i].Parallel) {
		return nil
	}
	group := g.Spec.Steps[i].Parallel
	name := group[j].Experiment
	if name == "" {
		return nil
	}
	docs := map[string]*Document{name: doc}
	var out []ContainerAction
	for _, s := range group {
		if s.Action == nil {
			continue
		}
		if target, err := ActionExperiment(group, s.Action, docs); err == nil && target == name {
			out = append(out, *s.Action)
		}
	}
	return out
}
