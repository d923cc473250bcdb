package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

const gameDayYAML = `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: gd, description: a test}
spec:
  steadyState: steady.yaml
  steps:
  - experiment: fault.yaml
  - wait: 5s
  - steadyState: {}
  - parallel:
    - experiment: fault.yaml
    - wait: 1s
`

func problemsOf(t *testing.T, err error) scenarios.Problems {
	t.Helper()
	var invalid *scenarios.InvalidError
	if !errors.As(err, &invalid) {
		t.Fatalf("error = %v, want *InvalidError", err)
	}
	return invalid.Problems
}

func hasProblem(ps scenarios.Problems, path, msg string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

func TestParseGameDay(t *testing.T) {
	gd, err := scenarios.ParseGameDay([]byte(gameDayYAML))
	if err != nil {
		t.Fatal(err)
	}
	if gd.Metadata.Name != "gd" || gd.Spec.SteadyState != "steady.yaml" || gd.Spec.FailurePolicy() != scenarios.OnFailureStop || len(gd.Spec.Steps) != 4 {
		t.Fatalf("game day = %+v", gd)
	}
	kinds := []string{}
	for _, s := range gd.Spec.Steps {
		kinds = append(kinds, s.Kind())
	}
	if got := strings.Join(kinds, ","); got != "experiment,wait,steadyState,parallel" {
		t.Errorf("kinds = %s", got)
	}
	if d := gd.Spec.Steps[1].Wait.D().String(); d != "5s" {
		t.Errorf("wait = %s", d)
	}
	if p := gd.Spec.Steps[3].Parallel; len(p) != 2 || p[0].Experiment != "fault.yaml" || p[1].Kind() != scenarios.StepWait {
		t.Errorf("parallel = %+v", p)
	}
	if got := strings.Join(gd.ExperimentPaths(), ","); got != "steady.yaml,fault.yaml" {
		t.Errorf("paths = %s", got)
	}
}

func TestParseGameDayProblemsNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, src, path, msg string }{
		{"two kinds", strings.Replace(gameDayYAML, "  - wait: 5s\n", "  - {wait: 5s, experiment: x.yaml}\n", 1), "spec.steps[1]", "exactly one of"},
		{"no kind", strings.Replace(gameDayYAML, "  - wait: 5s\n", "  - {}\n", 1), "spec.steps[1]", "set one of"},
		{"bad wait", strings.Replace(gameDayYAML, "wait: 5s", "wait: soon", 1), "spec.steps[1].wait", "duration"},
		{"zero wait", strings.Replace(gameDayYAML, "wait: 5s", "wait: 0s", 1), "spec.steps[1].wait", "between"},
		{"unknown field", strings.Replace(gameDayYAML, "wait: 5s", "sleep: 5s", 1), "spec.steps[1].sleep", "unknown field"},
		{"nested parallel", strings.Replace(gameDayYAML, "    - wait: 1s\n", "    - parallel: [{wait: 1s}]\n", 1), "spec.steps[3].parallel[1].parallel", "do not nest"},
		{"empty parallel", strings.Replace(gameDayYAML, "  - parallel:\n    - experiment: fault.yaml\n    - wait: 1s\n", "  - parallel: []\n", 1), "spec.steps[3].parallel", "at least one"},
		{"on failure", strings.Replace(gameDayYAML, "  steps:", "  onFailure: retry\n  steps:", 1), "spec.onFailure", "stop or continue"},
		{"no steady state", strings.Replace(gameDayYAML, "  steadyState: steady.yaml\n", "", 1), "spec.steadyState", "is required"},
		{"no steps", strings.SplitAfter(gameDayYAML, "steady.yaml\n")[0], "spec.steps", "at least one step"},
		{"bad name", strings.Replace(gameDayYAML, "name: gd", "name: GD_1", 1), "metadata.name", "DNS-1123"},
		{"experiment kind", strings.Replace(gameDayYAML, "kind: GameDay", "kind: Experiment", 1), "kind", "not \"Experiment\""},
		{"api version", strings.Replace(gameDayYAML, "faultline.dev/v1alpha1", "faultline.dev/v2", 1), "apiVersion", "must be faultline.dev/v1alpha1"},
		{"two game days", gameDayYAML + "---\n" + gameDayYAML, "kind", "exactly one GameDay"},
		{"action at the top", strings.Replace(gameDayYAML, "  - wait: 5s\n", "  - action: {at: 1s, container: httpbin, action: pause}\n", 1), "spec.steps[1].action", "one parallel group"},
		{"unknown action", strings.Replace(gameDayYAML, "    - wait: 1s\n", "    - action: {at: 1s, container: httpbin, action: freeze}\n", 1), "spec.steps[3].parallel[1].action.action", "must be one of"},
		{"action without time", strings.Replace(gameDayYAML, "    - wait: 1s\n", "    - action: {container: httpbin, action: pause}\n", 1), "spec.steps[3].parallel[1].action.at", "is required"},
		{"action without container", strings.Replace(gameDayYAML, "    - wait: 1s\n", "    - action: {at: 1s, action: pause}\n", 1), "spec.steps[3].parallel[1].action.container", "is required"},
		{"schedule", strings.Replace(gameDayYAML, "  steps:", "  schedule: {cron: \"61 * * * *\"}\n  steps:", 1), "spec.schedule.cron", "minute"},
		{"blackout", strings.Replace(gameDayYAML, "  steps:", "  schedule: {cron: \"@daily\", blackouts: [{from: \"25:00\", to: \"01:00\"}]}\n  steps:", 1), "spec.schedule.blackouts[0].from", "HH:MM"},
		{"overlapping game days", strings.Replace(gameDayYAML, "  steps:", "  schedule: {cron: \"@daily\", concurrency: allow}\n  steps:", 1), "spec.schedule.concurrency", "never overlaps itself"},
		{"webhook url", strings.Replace(gameDayYAML, "  steps:", "  notify: {webhook: {url: \"ftp://x\"}}\n  steps:", 1), "spec.notify.webhook.url", "absolute http or https"},
		{"webhook without url", strings.Replace(gameDayYAML, "  steps:", "  notify: {webhook: {on: [failed]}}\n  steps:", 1), "spec.notify.webhook.url", "is required"},
		{"webhook event", strings.Replace(gameDayYAML, "  steps:", "  notify: {webhook: {url: \"http://127.0.0.1:9/hook\", on: [started]}}\n  steps:", 1), "spec.notify.webhook.on[0]", "finished or failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.ParseGameDay([]byte(tc.src))
			ps := problemsOf(t, err)
			if !hasProblem(ps, tc.path, tc.msg) {
				t.Errorf("problems = %v, want %s: …%s…", ps, tc.path, tc.msg)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name %s", err, tc.path)
			}
		})
	}
	if _, err := scenarios.ParseGameDay([]byte("spec: [")); err == nil {
		t.Error("broken YAML accepted")
	}
	if _, err := scenarios.ParseGameDay(nil); err == nil || !strings.Contains(err.Error(), "no document of kind GameDay") {
		t.Errorf("empty stream: %v", err)
	}
}

const steadyYAML = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", requests: 20}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`

const faultVS = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin}}]
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`

func loader(files map[string]string) func(string) (*scenarios.Document, error) {
	return func(p string) (*scenarios.Document, error) {
		src, ok := files[p]
		if !ok {
			return nil, os.ErrNotExist
		}
		return scenarios.Parse([]byte(src))
	}
}

func TestResolveGameDay(t *testing.T) {
	gd, err := scenarios.ParseGameDay([]byte(gameDayYAML))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML, "fault.yaml": steadyYAML + faultVS}))
	if err != nil || len(docs) != 2 {
		t.Fatalf("resolve: %v, %d docs", err, len(docs))
	}

	// A steady state that injects a fault names the fault's field path.
	_, err = scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML + faultVS, "fault.yaml": steadyYAML}))
	ps := problemsOf(t, err)
	if !hasProblem(ps, "spec.steadyState", "VirtualService httpbin: spec.http[1].fault: a steady-state experiment must inject no faults") {
		t.Errorf("problems = %v", ps)
	}

	// No hypothesis, a missing file, an invalid experiment.
	noHypothesis := strings.Replace(steadyYAML, `  hypothesis: [{metric: error_ratio, op: "==", value: 0}]`+"\n", "", 1)
	_, err = scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": noHypothesis}))
	ps = problemsOf(t, err)
	if !hasProblem(ps, "spec.steadyState", "needs a hypothesis") || !hasProblem(ps, "spec.steps[0].experiment", "fault.yaml") ||
		!hasProblem(ps, "spec.steps[3].parallel[0].experiment", "fault.yaml") {
		t.Errorf("problems = %v", ps)
	}
	_, err = scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML, "fault.yaml": strings.Replace(steadyYAML, "requests: 20", "requests: -1", 1)}))
	if ps := problemsOf(t, err); !hasProblem(ps, "spec.steps[0].experiment", "invalid experiment") {
		t.Errorf("problems = %v", ps)
	}
}

func TestGameDayScheduleAndWebhook(t *testing.T) {
	src := strings.Replace(gameDayYAML, "  steps:", `  schedule:
    cron: "0 2 * * 6"
    timezone: Europe/Berlin
    blackouts: [{days: [sat], from: "00:00", to: "01:00", reason: backups}]
  notify: {webhook: {url: "https://hooks.example.com/faultline", on: [failed]}}
  steps:`, 1)
	gd, err := scenarios.ParseGameDay([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s := gd.Spec.Schedule; !s.IsEnabled() || s.Timezone != "Europe/Berlin" || len(s.Blackouts) != 1 || s.Blackouts[0].Reason != "backups" {
		t.Errorf("schedule = %+v", s)
	}
	w := gd.Spec.Notify.Webhook
	if !w.Wants(scenarios.WebhookFailed) || w.Wants(scenarios.WebhookFinished) {
		t.Errorf("webhook %+v: wants failed only", w)
	}
	if all := (&scenarios.Webhook{URL: w.URL}); !all.Wants(scenarios.WebhookFinished) || !all.Wants(scenarios.WebhookFailed) {
		t.Error("a webhook without on wants both events")
	}
	if (*scenarios.Webhook)(nil).Wants(scenarios.WebhookFailed) {
		t.Error("no webhook wants an event")
	}
}

// TestResolveGameDayActions checks that an action step finds the one
// experiment of its parallel group with a container endpoint for it.
func TestResolveGameDayActions(t *testing.T) {
	withContainer := containerDoc("    - container: {image: faultline-demo:local, port: 8080}", "")
	src := strings.Replace(gameDayYAML, "    - wait: 1s\n", "    - action: {at: 1s, container: httpbin, action: pause}\n", 1)
	gd, err := scenarios.ParseGameDay([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if k := gd.Spec.Steps[3].Parallel[1].Kind(); k != scenarios.StepAction {
		t.Fatalf("kind = %q", k)
	}
	docs, err := scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML, "fault.yaml": withContainer}))
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	group := gd.Spec.Steps[3].Parallel
	if got, err := scenarios.ActionExperiment(group, group[1].Action, docs); err != nil || got != "fault.yaml" {
		t.Errorf("ActionExperiment = %q, %v; want fault.yaml", got, err)
	}

	// The acted-on step gets the action; its neighbours and paths the game
	// day does not have get none.
	if got := gd.ActionsFor("spec.steps[3].parallel[0]", docs["fault.yaml"]); len(got) != 1 || got[0].Action != "pause" {
		t.Errorf("ActionsFor the acted-on step = %+v", got)
	}
	for _, path := range []string{"spec.steps[0]", "spec.steps[3].parallel[1]", "spec.steps[9].parallel[0]", "steadyState.before"} {
		if got := gd.ActionsFor(path, docs["fault.yaml"]); len(got) != 0 {
			t.Errorf("ActionsFor %s = %+v, want none", path, got)
		}
	}

	// The group's experiment has no container endpoint for the service.
	_, err = scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML, "fault.yaml": steadyYAML}))
	if ps := problemsOf(t, err); !hasProblem(ps, "spec.steps[3].parallel[1].action.container", "no experiment in this parallel group") {
		t.Errorf("problems = %v", ps)
	}

	// Two experiments of the group could be meant.
	two := strings.Replace(src, "    - action:", "    - experiment: other.yaml\n    - action:", 1)
	gd, err = scenarios.ParseGameDay([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	_, err = scenarios.ResolveGameDay(gd, loader(map[string]string{"steady.yaml": steadyYAML, "fault.yaml": withContainer, "other.yaml": withContainer}))
	if ps := problemsOf(t, err); !hasProblem(ps, "spec.steps[3].parallel[2].action.container", "several experiments") {
		t.Errorf("problems = %v", ps)
	}
}

// TestShippedGameDays parses and resolves every game day under
// scenarios/gamedays/ (by file) and the stored examples under
// scenarios/gamedays/stored/ (by experiment name), and checks that no game
// day is taken for an example experiment.
func TestShippedGameDays(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("gamedays", "*-gameday.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped game days: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		gd, err := scenarios.ParseGameDay(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		_, err = scenarios.ResolveGameDay(gd, func(p string) (*scenarios.Document, error) {
			src, err := os.ReadFile(filepath.Join(filepath.Dir(f), p))
			if err != nil {
				return nil, err
			}
			return scenarios.Parse(src)
		})
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	examples, err := scenarios.Examples()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, ex := range examples {
		if strings.Contains(ex.File, "/") || strings.Contains(ex.Name, "gameday") {
			t.Errorf("example %s (%s) comes from the game days", ex.File, ex.Name)
		}
		byName[ex.Name] = string(ex.Source)
	}

	// The stored examples name the example experiments.
	stored, err := scenarios.GameDayExamples()
	if err != nil || len(stored) == 0 {
		t.Fatalf("stored game-day examples: %d, %v", len(stored), err)
	}
	for _, ex := range stored {
		gd, err := scenarios.ParseGameDay(ex.Source)
		if err != nil {
			t.Fatalf("%s: %v", ex.File, err)
		}
		if ex.Name != gd.Metadata.Name || ex.Description == "" {
			t.Errorf("%s: name %q, description %q", ex.File, ex.Name, ex.Description)
		}
		if _, err := scenarios.ResolveGameDay(gd, loader(byName)); err != nil {
			t.Errorf("%s: %v", ex.File, err)
		}
	}
}
