package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// stepExperiment is a short experiment on the built-in httpbin with one
// fault, for a game day's steps.
func stepExperiment(name, fault, check string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: %s
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    qps: 50
    duration: 1s
  hypothesis:
  - %s
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - fault:
%s
    route:
    - destination: {host: httpbin}
`, name, check, fault)
}

type gameDayJSON struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	Version  int           `json:"version"`
	Schedule *scheduleJSON `json:"schedule"`
}

type gameDayStep struct {
	ID     string        `json:"id"`
	Kind   string        `json:"kind"`
	Status string        `json:"status"`
	RunID  *int64        `json:"runId"`
	Steps  []gameDayStep `json:"steps"`
}

type gameDayRunJSON struct {
	ID      int64  `json:"id"`
	Status  string `json:"status"`
	Verdict string `json:"verdict"`
	Report  *struct {
		SteadyStateBefore *gameDayStep  `json:"steadyStateBefore"`
		Steps             []gameDayStep `json:"steps"`
		SteadyStateAfter  *gameDayStep  `json:"steadyStateAfter"`
	} `json:"report"`
}

// linkedRuns counts the steps of a game-day report that name a stored run.
func (r gameDayRunJSON) linkedRuns() int {
	n := 0
	var walk func(s *gameDayStep)
	walk = func(s *gameDayStep) {
		if s == nil {
			return
		}
		if s.RunID != nil {
			n++
		}
		for i := range s.Steps {
			walk(&s.Steps[i])
		}
	}
	if r.Report != nil {
		walk(r.Report.SteadyStateBefore)
		for i := range r.Report.Steps {
			walk(&r.Report.Steps[i])
		}
		walk(r.Report.SteadyStateAfter)
	}
	return n
}

// gameDayStage is a server holding the experiments a game day's steps
// name, a webhook receiver, and a page on the server; gameDay writes the
// game day ui-gameday with a steady state of that name.
type gameDayStage struct {
	base   string
	b      *browser
	hook   *httptest.Server
	hookMu sync.Mutex
	events []string
	minute int    // of every sixth hour at which the game day fires
	day    string // of the blackout window
}

// withGameDayExperiments stores the experiments a game day's steps name,
// and starts the game day's webhook receiver, on loopback (which --allow
// names).
func withGameDayExperiments(t *testing.T) *gameDayStage {
	t.Helper()
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{Allow: []string{"127.0.0.1"}})
	g := &gameDayStage{base: base, b: newBrowser(t, base)}
	steady, err := os.ReadFile(filepath.Join("..", "scenarios", "httpbin-steady-state.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		string(steady),
		stepExperiment("gd-abort", "      abort:\n        httpStatus: 503\n        percentage: {value: 20}", `{metric: error_ratio, op: "<", value: 0.6}`),
		stepExperiment("gd-delay", "      delay:\n        fixedDelay: 20ms\n        percentage: {value: 50}", `{metric: latency_p99, op: "<", value: 2s}`),
	} {
		var e storedJSON
		if code := postYAML(t, base+"/api/v1/experiments", doc, &e); code != http.StatusCreated {
			t.Fatalf("store an experiment: %d", code)
		}
	}
	if code := getJSON(t, base+"/api/v1/gamedays", nil); code != http.StatusOK {
		t.Fatalf("GET /api/v1/gamedays answers %d: the server has no game-day routes", code)
	}
	g.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hookMu.Lock()
		g.events = append(g.events, r.Header.Get("X-Faultline-Event"))
		g.hookMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(g.hook.Close)
	// Fires at minute m of every sixth hour, m half an hour from now, so
	// none falls inside the test; a blackout window between two fires on
	// the day after tomorrow.
	now := time.Now()
	g.minute = (now.Minute() + 30) % 60
	g.day = strings.ToLower(now.Add(48 * time.Hour).Weekday().String()[:3])
	return g
}

// hookEvents returns the events the webhook receiver got, in order.
func (g *gameDayStage) hookEvents() []string {
	g.hookMu.Lock()
	defer g.hookMu.Unlock()
	return append([]string(nil), g.events...)
}

func (g *gameDayStage) gameDay(steadyName string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata:
  name: ui-gameday
  description: written in the dashboard's editor
spec:
  steadyState: %s
  onFailure: continue
  steps:
  - experiment: gd-abort
  - wait: 300ms
  - parallel:
    - experiment: gd-delay
    - experiment: gd-abort
  - steadyState: {}
  schedule:
    cron: "%d */6 * * *"
    timezone: UTC
    blackouts:
    - {days: [%s], from: "02:00", to: "04:00", reason: backups}
  notify:
    webhook: {url: "%s/hook"}
`, steadyName, g.minute, g.day, g.hook.URL)
}

// storeGameDay stores ui-gameday through the API, as the editor saves it,
// and opens its page.
func (g *gameDayStage) storeGameDay(t *testing.T) int64 {
	t.Helper()
	var stored gameDayJSON
	if code := postYAML(t, g.base+"/api/v1/gamedays", g.gameDay("httpbin-steady-state"), &stored); code != http.StatusCreated {
		t.Fatalf("store the game day: %d", code)
	}
	g.b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/gamedays/%d", g.base, stored.ID)))
	g.b.waitJS("the game day's page", `document.querySelector("h1")?.textContent === "ui-gameday" && !!document.getElementById("gd-run-now")`, 10*time.Second)
	return stored.ID
}

// Game days written in the dashboard's editor: a field error shown at its
// line as it is typed (and the save refused), then the saved game day's
// calendar of a known cron.
func TestDashboardGameDayEditor(t *testing.T) {
	g := withGameDayExperiments(t)
	base, gameDay, minute := g.base, g.gameDay, g.minute
	var gdID int64
	runSteps(t, g.b, []step{
		{"an unknown experiment is marked at its line as it is typed, and not saved", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(base + "/ui/#/gamedays"))
			b.waitJS("the empty list", `document.querySelector("h1")?.textContent === "Game days" && !!document.querySelector(".empty")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("new-gameday")))
			b.waitJS("the editor", `document.getElementById("yaml")?.value.includes("kind: GameDay") && document.querySelectorAll("#experiment-names .chip").length === 3`, 10*time.Second)
			b.checkNames()
			// The page says what the editor does, which the rest of this step shows.
			if got := evalJS[string](b, `document.querySelector(".page-sub")?.textContent ?? ""`); !strings.Contains(got, "checked as you type") || strings.Contains(got, "when you save") {
				t.Errorf("the editor's subtitle reads %q, want it to say the document is checked as you type", got)
			}
			b.expectFailures("/api/v1/gamedays") // the refusals below answer 409 (Run now, a name clash)
			lineOf := func(doc, text string) int {
				for i, l := range strings.Split(doc, "\n") {
					if strings.Contains(l, text) {
						return i + 1
					}
				}
				t.Fatalf("no line holds %q", text)
				return 0
			}
			// The template names experiments this server does not store:
			// checked as soon as the editor opens, each at its line.
			b.waitJS("the template's unknown experiments marked", `document.getElementById("validation-status").dataset.state === "invalid"`, 10*time.Second)
			tmpl := evalJS[string](b, `document.getElementById("yaml").value`)
			if got, want := evalJS[string](b, `[...document.querySelectorAll(".editor-gutter .ln.error")].map(e => e.textContent).join()`),
				fmt.Sprintf("%d,%d", lineOf(tmpl, "- experiment: httpbin-abort"), lineOf(tmpl, "- experiment: httpbin-delay")); !strings.HasPrefix(got, want) {
				t.Errorf("the template's errors are marked at lines %q, want the unknown experiments' lines starting %s", got, want)
			}
			// Typed: an unknown steady state is marked at its line before any save.
			bad := gameDay("no-such-experiment")
			b.setValue("yaml", bad)
			line := lineOf(bad, "steadyState: no-such-experiment")
			b.waitJS("the error at the steady state's line, as typed", fmt.Sprintf(
				`[...document.querySelectorAll(".editor-gutter .ln.error")].map(e => e.textContent).join() === "%d"`, line), 10*time.Second)
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('.editor-marks .mark-msg.error[data-line="%d"]')?.textContent ?? ""`, line)); !strings.Contains(got, "spec.steadyState") || !strings.Contains(got, "no experiment by that name is stored") {
				t.Errorf("the message at line %d reads %q", line, got)
			}
			if got := evalJS[string](b, `document.querySelector("#problems li")?.dataset.path ?? ""`); got != "spec.steadyState" {
				t.Errorf("problem listed for %q, want spec.steadyState", got)
			}
			if got := evalJS[string](b, `document.getElementById("validation-status").textContent`); !strings.HasPrefix(got, "1 error") {
				t.Errorf("status %q, want 1 error", got)
			}
			// Saving it is refused in the page, naming the field and the experiment.
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the refusal", `!document.getElementById("save-message").hidden`, 10*time.Second)
			msg := evalJS[string](b, `document.getElementById("save-message").textContent`)
			if !strings.Contains(msg, "spec.steadyState") || !strings.Contains(msg, "no-such-experiment") || !strings.Contains(msg, fmt.Sprintf("line %d", line)) {
				t.Errorf("save message %q does not name the line, the field and the experiment", msg)
			}
			var list struct{ Total int }
			getJSON(t, base+"/api/v1/gamedays", &list)
			if list.Total != 0 {
				t.Errorf("%d game days stored after a refused save", list.Total)
			}
		}},
		{"create it in the editor and see its calendar", func(t *testing.T, b *browser) {
			b.setValue("yaml", gameDay("httpbin-steady-state"))
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the game day's page", `/^#\/gamedays\/\d+$/.test(location.hash) && document.querySelector("h1")?.textContent === "ui-gameday"`, 10*time.Second)
			if _, err := fmt.Sscanf(b.hash(), "#/gamedays/%d", &gdID); err != nil {
				t.Fatal(err)
			}
			var g gameDayJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/gamedays/%d", base, gdID), &g)
			if g.Schedule == nil || len(g.Schedule.NextFires) == 0 {
				t.Fatalf("stored game day %+v has no next fires", g)
			}
			b.waitJS("the calendar", `!!document.querySelector("#fire-calendar svg")`, 10*time.Second)
			want := fmt.Sprintf("Every 6 hours (at 00:%02d, 06:%02d, 12:%02d and 18:%02d), every day", minute, minute, minute, minute)
			if got := evalJS[string](b, `document.getElementById("schedule-words").textContent`); got != want {
				t.Errorf("schedule reads %q, want %q", got, want)
			}
			if got := b.count("#fire-calendar svg circle.fire:not(.legend)"); got != 28 {
				t.Errorf("%d fire dots over 7 days for %d */6 * * *, want 28", got, minute)
			}
			if got := b.count("#fire-calendar svg rect.blackout:not(.legend)"); got != 1 {
				t.Errorf("%d blackout windows shaded, want 1", got)
			}
			for _, iso := range g.Schedule.NextFires {
				at := mustTime(t, iso).UTC().Format("2006-01-02T15:04:05.000Z")
				if !evalJS[bool](b, fmt.Sprintf(`!!document.querySelector('#fire-calendar circle.fire.next[data-time="%s"]')`, at)) {
					t.Errorf("the server's next fire %s is not on the calendar", iso)
				}
			}
			if got := b.count("#next-fires li"); got != len(g.Schedule.NextFires) {
				t.Errorf("%d next fires listed, the API has %d", got, len(g.Schedule.NextFires))
			}
			b.checkNames()
		}},
	})
}

// A game day's Run now followed live to the end, its step bars linked to
// their runs; then Run now held by the lever (and refused, on a page that
// had not read it yet).
func TestDashboardGameDayRunNow(t *testing.T) {
	g := withGameDayExperiments(t)
	base, hook, hookEvents := g.base, g.hook, g.hookEvents
	gdID := g.storeGameDay(t)
	g.b.expectFailures("/api/v1/gamedays") // the lever's refusal answers 409
	runSteps(t, g.b, []step{
		{"run now, followed live to the end", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("gd-run-now")))
			b.waitJS("the live run page", `/^#\/gameday-runs\/\d+$/.test(location.hash) && !!document.getElementById("gd-live")`, 10*time.Second)
			var rid int64
			if _, err := fmt.Sscanf(b.hash(), "#/gameday-runs/%d", &rid); err != nil {
				t.Fatal(err)
			}
			if !evalJS[bool](b, `!!document.getElementById("gd-stop")`) {
				t.Error("no Stop button while the game day runs")
			}
			b.waitJS("a step started, live", `document.querySelectorAll("#gd-steps li.gd-step").length > 0 || !!document.getElementById("gd-verdict")`, 30*time.Second)
			b.waitJS("the verdict", `!!document.getElementById("gd-verdict")`, 90*time.Second)
			var run gameDayRunJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/gameday-runs/%d", base, rid), &run)
			if got := evalJS[string](b, `document.querySelector("#gd-run-status .badge").textContent`); got != run.Status {
				t.Errorf("status shown %q, the API says %q", got, run.Status)
			}
			if got := evalJS[string](b, `document.querySelector("#gd-verdict .verdict").textContent`); got != run.Verdict {
				t.Errorf("verdict shown %q, the API says %q", got, run.Verdict)
			}
			if run.Report == nil || len(run.Report.Steps) != 4 {
				t.Fatalf("game-day run %d: %+v", rid, run)
			}
			if got := b.count("#gd-steps > li.gd-step"); got != 4 {
				t.Errorf("%d steps listed, want 4", got)
			}
			if got := b.count(`#gd-steps li[data-kind="parallel"] li.gd-step`); got != 2 {
				t.Errorf("%d steps nested in the parallel group, want 2", got)
			}
			for _, st := range run.Report.Steps {
				if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('#gd-steps li[data-id="%s"] .badge')?.textContent ?? ""`, st.ID)); got != st.Status {
					t.Errorf("step %s shows %q, the API says %q", st.ID, got, st.Status)
				}
			}
			if got := b.count("#steady-before .badge") + b.count("#steady-after .badge"); got < 2 {
				t.Errorf("steady state before and after: %d badges", got)
			}
			// One linked bar per step that ran an experiment: the steady
			// state before, during (the last step) and after, the first
			// step and the group's two.
			links := evalJS[[]string](b, `[...document.querySelectorAll("#gameday-timeline svg a.gantt-link")].map(a => a.getAttribute("href"))`)
			if want := run.linkedRuns(); len(links) != want || want != 6 {
				t.Errorf("%d linked bars %v, want %d (every step with a run)", len(links), links, want)
			}
			// And a bar for the wait and one for the group.
			if got := b.count("#gameday-timeline svg .gantt-bar"); got != 8 {
				t.Errorf("%d bars, want 8 (6 runs, the wait and the group)", got)
			}
			if got := b.count("#gameday-timeline svg .gantt-bar.status-" + run.Status); run.Status == "succeeded" && got != 8 {
				t.Errorf("%d bars coloured succeeded in a succeeded game day, want 8", got)
			}
			if href := evalJS[string](b, `document.getElementById("gd-junit")?.getAttribute("href") ?? ""`); href != fmt.Sprintf("/api/v1/gameday-runs/%d/junit.xml", rid) {
				t.Errorf("JUnit link %q", href)
			} else {
				resp, err := http.Get(base + href)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "<testsuite") {
					t.Errorf("JUnit download: %d %.200s", resp.StatusCode, body)
				}
			}
			b.waitJS("the webhook delivery", `document.querySelectorAll("#gd-webhooks tbody tr").length === 1`, 15*time.Second)
			if got := evalJS[string](b, `[...document.querySelectorAll("#gd-webhooks tbody tr td")].slice(0, 3).map(td => td.textContent).join(" ")`); got != "finished "+hook.URL+"/hook 204" && run.Status == "succeeded" {
				t.Errorf("webhook delivery row %q", got)
			}
			if events := hookEvents(); len(events) != 1 {
				t.Errorf("the receiver got %v", events)
			}
			b.checkNames()
			b.screenshot("gameday-run.png")

			// A bar opens its step's run, which links back.
			first := links[0]
			b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#gameday-timeline svg a.gantt-link[href="%s"] .gantt-bar`, first))))
			b.waitJS("the step's run", fmt.Sprintf(`location.hash === %q && !!document.getElementById("verdict")`, first), 10*time.Second)
			if got := evalJS[string](b, `document.querySelector("#run-gameday a")?.getAttribute("href") ?? ""`); got != fmt.Sprintf("#/gameday-runs/%d", rid) {
				t.Errorf("the step's run links back to %q", got)
			}
			b.do(chromedp.Click(chromedp.CSS("#run-gameday a")))
			b.waitJS("the game-day run again", `!!document.getElementById("gd-verdict")`, 10*time.Second)
		}},
		{"run now is held, or refused, while the lever is engaged", func(t *testing.T, b *browser) {
			const reason = "incident 77: payments degraded"
			var lever leverJSON
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", fmt.Sprintf(`{"engaged": true, "reason": %q}`, reason), &lever); code != 200 {
				t.Fatalf("engage the lever: %d", code)
			}
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/gamedays/%d"`, gdID)))
			b.waitJS("the game day with the banner", `document.querySelector("h1")?.textContent === "ui-gameday" && !document.getElementById("lever-banner").hidden`, 10*time.Second)
			b.expectHeld(reason, "#gd-run-now")
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", `{"engaged": false}`, &lever); code != 200 {
				t.Fatalf("release the lever: %d", code)
			}
			b.waitJS("Run now enabled again, as the page reads the lever", `!document.getElementById("gd-run-now").disabled && document.getElementById("lever-banner").hidden`, leverWatch)

			// A page that has not read the lever since it was engaged: the
			// server refuses, the page says so, and holds Run now from then on.
			b.pauseLeverWatch()
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", fmt.Sprintf(`{"engaged": true, "reason": %q}`, reason), &lever); code != 200 {
				t.Fatalf("engage the lever: %d", code)
			}
			b.do(chromedp.Click(chromedp.ID("gd-run-now")))
			b.waitJS("the refusal", `!document.getElementById("gd-run-error").hidden`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("gd-run-error").dataset.kind`); got != "lever" {
				t.Errorf("refusal kind %q, want lever", got)
			}
			if got := evalJS[string](b, `document.getElementById("gd-run-error").textContent`); !strings.Contains(got, reason) {
				t.Errorf("refusal %q does not give the lever's reason", got)
			}
			b.waitJS("Run now held after the refusal", `document.getElementById("gd-run-now").disabled && !document.getElementById("lever-banner").hidden`, 10*time.Second)
			b.expectHeld(reason, "#gd-run-now")
			b.resumeLeverWatch()
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", `{"engaged": false}`, &lever); code != 200 {
				t.Fatalf("release the lever: %d", code)
			}
			b.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/gamedays"`))
			b.waitJS("the list, no banner", `!!document.querySelector('#gamedays-table tr[data-name="ui-gameday"]') && document.getElementById("lever-banner").hidden`, 10*time.Second)
		}},
	})
}

// Run now refused by a blackout window and by a run already running
// (which is stopped); an edit refused for a name clash, at its line, then
// stored as a new version; and the list of game days with their schedules
// and last runs (ui-gameday has run once to its end, as Run now leaves it).
func TestDashboardGameDaysRefusedEditedListed(t *testing.T) {
	g := withGameDayExperiments(t)
	base, gameDay, day := g.base, g.gameDay, g.day
	gdID := g.storeGameDay(t)
	g.b.expectFailures("/api/v1/gamedays") // the refusals below answer 409 (Run now, a name clash)
	var run gameDayRunJSON
	if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/gamedays/%d/runs", base, gdID), "", &run); code != http.StatusAccepted {
		t.Fatalf("run the game day: %d", code)
	}
	wait.For(t, 90*time.Second, "the game day's run to end", func() bool {
		getJSON(t, fmt.Sprintf("%s/api/v1/gameday-runs/%d", base, run.ID), &run)
		return run.Status != "running"
	})
	runSteps(t, g.b, []step{
		{"run now is refused in a blackout window", func(t *testing.T, b *browser) {
			var frozen gameDayJSON
			doc := strings.NewReplacer("name: ui-gameday", "name: frozen", fmt.Sprintf("[%s], from: \"02:00\", to: \"04:00\", reason: backups", day), `[], from: "00:00", to: "00:00", reason: change freeze`).Replace(gameDay("httpbin-steady-state"))
			if code := postYAML(t, base+"/api/v1/gamedays", doc, &frozen); code != http.StatusCreated {
				t.Fatalf("create the frozen game day: %d", code)
			}
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/gamedays/%d"`, frozen.ID)))
			b.waitJS("the frozen game day", `document.querySelector("h1")?.textContent === "frozen" && !!document.getElementById("fire-calendar")`, 10*time.Second)
			if !evalJS[bool](b, `!!document.getElementById("blackout-now")`) {
				t.Error("no note that a blackout window holds now")
			}
			if got, blocked := b.count("#fire-calendar svg circle.fire:not(.legend)"), b.count("#fire-calendar svg circle.fire-blocked:not(.legend)"); got != 0 || blocked != 28 {
				t.Errorf("calendar: %d fires and %d skipped, want 0 and 28 (the whole week is blacked out)", got, blocked)
			}
			b.do(chromedp.Click(chromedp.ID("gd-run-now")))
			b.waitJS("the refusal", `!document.getElementById("gd-run-error").hidden`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("gd-run-error").dataset.kind`); got != "blackout" {
				t.Errorf("refusal kind %q, want blackout", got)
			}
			if got := evalJS[string](b, `document.getElementById("gd-run-error").textContent`); !strings.Contains(got, "change freeze") {
				t.Errorf("refusal %q does not name the window", got)
			}
		}},
		{"run now is refused while it runs; stop it", func(t *testing.T, b *browser) {
			long := strings.NewReplacer("name: ui-gameday", "name: long", "  - wait: 300ms\n", "  - wait: 60s\n").Replace(gameDay("httpbin-steady-state"))
			var g gameDayJSON
			if code := postYAML(t, base+"/api/v1/gamedays", long, &g); code != http.StatusCreated {
				t.Fatalf("create the long game day: %d", code)
			}
			var started gameDayRunJSON
			if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/gamedays/%d/runs", base, g.ID), "", &started); code != http.StatusAccepted {
				t.Fatalf("start the long game day: %d", code)
			}
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/gamedays/%d"`, g.ID)))
			b.waitJS("the long game day", `document.querySelector("h1")?.textContent === "long"`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("gd-run-now")))
			b.waitJS("the refusal", `!document.getElementById("gd-run-error").hidden`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("gd-run-error").dataset.kind`); got != "running" {
				t.Errorf("refusal kind %q, want running", got)
			}
			b.do(chromedp.Click(chromedp.ID("gd-running-link")))
			b.waitJS("the running game day", fmt.Sprintf(`location.hash === "#/gameday-runs/%d" && !!document.getElementById("gd-stop")`, started.ID), 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("gd-stop")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the stopped game day", `document.querySelector("#gd-run-status .badge")?.textContent === "stopped" && !!document.getElementById("gd-verdict")`, 20*time.Second)
			var run gameDayRunJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/gameday-runs/%d", base, started.ID), &run)
			if run.Status != "stopped" {
				t.Errorf("stopped game day is %q in the API", run.Status)
			}
		}},
		{"edit the definition: a name clash is shown at its line, then a new version", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/gamedays/%d/edit"`, gdID)))
			b.waitJS("the definition", `document.getElementById("yaml")?.value.includes("name: ui-gameday")`, 10*time.Second)
			src := evalJS[string](b, `document.getElementById("yaml").value`)
			b.setValue("yaml", strings.Replace(src, "name: ui-gameday", "name: frozen", 1))
			b.do(chromedp.Click(chromedp.ID("save")))
			line := 0
			for i, l := range strings.Split(src, "\n") {
				if strings.Contains(l, "name: ui-gameday") {
					line = i + 1
				}
			}
			b.waitJS("the clash at the name's line", fmt.Sprintf(
				`[...document.querySelectorAll(".editor-gutter .ln.error")].map(e => e.textContent).join() === "%d"`, line), 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("save-message").textContent`); !strings.Contains(got, "metadata.name") || !strings.Contains(got, "exists already") {
				t.Errorf("save message %q", got)
			}
			b.setValue("yaml", strings.Replace(src, "written in the dashboard's editor", "edited in the dashboard", 1))
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("version 2", `document.getElementById("gd-version").textContent === "v2" && document.getElementById("validation-status").textContent.startsWith("Saved")`, 10*time.Second)
			// The server has no webhook secret: the save warns, at the webhook's line.
			hookLine := 0
			for i, l := range strings.Split(src, "\n") {
				if strings.Contains(l, "webhook:") {
					hookLine = i + 1
				}
			}
			if got := evalJS[string](b, `[...document.querySelectorAll(".editor-gutter .ln.warning")].map(e => e.textContent).join()`); got != fmt.Sprint(hookLine) {
				t.Errorf("warning marked at line %q, want the webhook's line %d", got, hookLine)
			}
			var g gameDayJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/gamedays/%d", base, gdID), &g)
			if g.Version != 2 || g.Name != "ui-gameday" {
				t.Errorf("after the edit: %+v", g)
			}
		}},
		{"the list shows schedules and last runs", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="gamedays"]`)))
			b.waitJS("the list", `document.querySelectorAll("#gamedays-table tbody tr").length === 3`, 10*time.Second)
			row := `#gamedays-table tr[data-name="ui-gameday"]`
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .last-run .badge')?.textContent ?? ""`, row)); got == "" || got == "running" {
				t.Errorf("ui-gameday's last run shows %q", got)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .next-col').textContent`, row)); !strings.HasPrefix(got, "in ") {
				t.Errorf("ui-gameday's next fire reads %q", got)
			}
			if got := evalJS[string](b, `document.querySelector('#gamedays-table tr[data-name="frozen"] .next-col').textContent`); !strings.Contains(got, "blackout now") {
				t.Errorf("frozen's next fire reads %q, want the blackout noted", got)
			}
			b.checkNames()
			b.screenshot("gamedays.png")
			// The game day's page with its runs, for the README.
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/gamedays/%d"`, gdID)))
			b.waitJS("the game day's runs", `document.querySelectorAll("#gd-runs-table tbody tr").length === 1 && !!document.getElementById("fire-calendar")`, 10*time.Second)
			b.screenshot("gameday.png")
		}},
	})
}
