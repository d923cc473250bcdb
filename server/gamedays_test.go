package server_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dockerclient "github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
	"github.com/faultline/faultline/server/webhook"
)

// steadyHTTPBin is a steady-state experiment: healthy traffic to the demo
// httpbin target, no fault, and a hypothesis that says so.
const steadyHTTPBin = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady-httpbin}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 20}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`

// apiGameDay is a game day over stored experiments: the abort experiment,
// a wait, and a parallel group of the abort experiment and a steady-state
// check.
const apiGameDay = `# a game day, kept verbatim
apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: api-day, description: aborts then a check}
spec:
  steadyState: steady-httpbin
  steps:
  - experiment: e2e-abort
  - wait: 10ms
  - parallel: [{experiment: e2e-abort}, {steadyState: {}}]
`

// gameDayAPIRun is a game-day run as the API shows it.
type gameDayAPIRun struct {
	ID             int64  `json:"id"`
	GameDayID      *int64 `json:"gameDayId"`
	GameDay        string `json:"gameDay"`
	GameDayVersion int    `json:"gameDayVersion"`
	Trigger        string `json:"trigger"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	Verdict        string `json:"verdict"`
	Report         *struct {
		GameDay           string           `json:"gameDay"`
		Status            string           `json:"status"`
		Verdict           string           `json:"verdict"`
		OnFailure         string           `json:"onFailure"`
		SteadyStateBefore *gameDayAPIStep  `json:"steadyStateBefore"`
		Steps             []gameDayAPIStep `json:"steps"`
		SteadyStateAfter  *gameDayAPIStep  `json:"steadyStateAfter"`
	} `json:"report"`
	Webhooks []struct {
		Event      string `json:"event"`
		URL        string `json:"url"`
		StatusCode int    `json:"statusCode"`
		Attempts   int    `json:"attempts"`
		Error      string `json:"error"`
	} `json:"webhooks"`
}

type gameDayAPIStep struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	Name      string           `json:"name"`
	Path      string           `json:"path"`
	Status    string           `json:"status"`
	Verdict   string           `json:"verdict"`
	StartedAt time.Time        `json:"startedAt"`
	EndedAt   time.Time        `json:"endedAt"`
	RunID     *int64           `json:"runId"`
	Report    json.RawMessage  `json:"report"`
	Steps     []gameDayAPIStep `json:"steps"`
}

type gameDayAPIDoc struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Source   string `json:"source"`
	Warnings []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"warnings"`
	Schedule *struct {
		Blackouts   []struct{ From, To, Reason string } `json:"blackouts"`
		BlackoutNow *struct{ From, To, Reason string }  `json:"blackoutNow"`
	} `json:"schedule"`
	LastRun *struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	} `json:"lastRun"`
}

// storeExperiments stores experiment documents through the API.
func storeExperiments(t *testing.T, c client, docs ...string) {
	t.Helper()
	for _, d := range docs {
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(d), 201, nil)
	}
}

// postGameDay stores a game day through the API.
func postGameDay(t *testing.T, c client, src string) gameDayAPIDoc {
	t.Helper()
	var g gameDayAPIDoc
	c.json("POST", "/api/v1/gamedays", "application/yaml", []byte(src), 201, &g)
	return g
}

// startGameDay starts a run of the game day and returns it.
func startGameDay(t *testing.T, c client, id int64) gameDayAPIRun {
	t.Helper()
	var r gameDayAPIRun
	h := c.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", id), "", nil, 202, &r)
	if want := fmt.Sprintf("/api/v1/gameday-runs/%d", r.ID); h.Get("Location") != want || r.Status != "running" || r.Trigger != "api" {
		t.Fatalf("start: Location %q, run %+v", h.Get("Location"), r)
	}
	return r
}

// waitGameDay polls a game-day run until ok holds for it.
func waitGameDay(t *testing.T, c client, id int64, within time.Duration, ok func(gameDayAPIRun) bool) gameDayAPIRun {
	t.Helper()
	var r gameDayAPIRun
	if !wait.Until(within, func() bool {
		r = gameDayAPIRun{}
		c.json("GET", fmt.Sprintf("/api/v1/gameday-runs/%d", id), "", nil, 200, &r)
		return ok(r)
	}) {
		t.Fatalf("game-day run %d after %v: %+v", id, within, r)
	}
	return r
}

func ended(r gameDayAPIRun) bool { return r.Status != "running" }

func TestGameDayRunsThroughTheAPI(t *testing.T) {
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin, abortExperiment)

	// An experiment the server does not store is a 422 naming the field,
	// and nothing is stored.
	var e errorJSON
	c.json("POST", "/api/v1/gamedays", "application/yaml", []byte(strings.Replace(apiGameDay, "- wait: 10ms", "- experiment: nope", 1)), 422, &e)
	if e.Error.Field != "spec.steps[1].experiment" || !strings.Contains(e.Error.Message, "nope") {
		t.Errorf("unknown experiment: %+v", e.Error)
	}
	c.json("POST", "/api/v1/gamedays", "application/yaml", []byte(strings.Replace(apiGameDay, "steadyState: steady-httpbin", "steadyState: e2e-abort", 1)), 422, &e)
	if e.Error.Field != "spec.steadyState" || !strings.Contains(e.Error.Message, "must inject no faults") {
		t.Errorf("a faulty steady state: %+v", e.Error)
	}
	c.json("POST", "/api/v1/gamedays", "application/yaml", []byte("kind: GameDay\n"), 422, nil)
	var list struct{ Total int64 }
	if c.json("GET", "/api/v1/gamedays", "", nil, 200, &list); list.Total != 0 {
		t.Fatalf("%d game days stored after refusals", list.Total)
	}

	g := postGameDay(t, c, apiGameDay)
	if g.Version != 1 || g.Source != apiGameDay || g.Name != "api-day" {
		t.Fatalf("created = %+v", g)
	}
	c.json("POST", "/api/v1/gamedays", "application/yaml", []byte(apiGameDay), 409, &e)
	if e.Error.Field != "metadata.name" {
		t.Errorf("name clash: %+v", e.Error)
	}
	var up gameDayAPIDoc
	c.json("PUT", fmt.Sprintf("/api/v1/gamedays/%d", g.ID), "application/yaml", []byte(strings.Replace(apiGameDay, "10ms", "20ms", 1)), 200, &up)
	if up.Version != 2 {
		t.Errorf("version after update = %d", up.Version)
	}

	run := startGameDay(t, c, g.ID)
	events := followEvents(t, c, fmt.Sprintf("/api/v1/gameday-runs/%d/events", run.ID), 60*time.Second)
	if events[0].name != "state" || events[len(events)-1].name != "end" {
		t.Fatalf("events: first %q, last %q", events[0].name, events[len(events)-1].name)
	}
	// Steps that began before the stream was opened are in the state's
	// report so far; the others in their start events.
	starts := map[string]int64{}
	var state gameDayAPIRun
	if err := json.Unmarshal([]byte(events[0].data), &state); err != nil || state.Status != "running" || state.Report == nil {
		t.Fatalf("state event %s: %v", events[0].data, err)
	}
	var seen func(steps ...*gameDayAPIStep)
	seen = func(steps ...*gameDayAPIStep) {
		for _, s := range steps {
			if s == nil {
				continue
			}
			if s.RunID != nil {
				starts[s.ID] = *s.RunID
			}
			for i := range s.Steps {
				seen(&s.Steps[i])
			}
		}
	}
	seen(state.Report.SteadyStateBefore, state.Report.SteadyStateAfter)
	for i := range state.Report.Steps {
		seen(&state.Report.Steps[i])
	}
	for _, ev := range events {
		if ev.name != "step" {
			continue
		}
		var se struct {
			Start  bool           `json:"start"`
			Step   gameDayAPIStep `json:"step"`
			Parent *string        `json:"parent"`
		}
		if err := json.Unmarshal([]byte(ev.data), &se); err != nil {
			t.Fatalf("step event %s: %v", ev.data, err)
		}
		// The event names the parallel group a step belongs to.
		wantParent := ""
		if strings.HasPrefix(se.Step.ID, "spec.steps[2].parallel[") {
			wantParent = "spec.steps[2]"
		}
		if se.Parent == nil || *se.Parent != wantParent {
			t.Errorf("step event of %s has parent %v, want %q", se.Step.ID, se.Parent, wantParent)
		}
		if se.Start && se.Step.RunID != nil {
			starts[se.Step.ID] = *se.Step.RunID
		}
		if len(se.Step.Report) != 0 {
			t.Errorf("step event %s embeds the run report", se.Step.ID)
		}
	}
	for _, id := range []string{"steadyState.before", "spec.steps[0]", "spec.steps[2].parallel[0]", "spec.steps[2].parallel[1]", "steadyState.after"} {
		if starts[id] == 0 {
			t.Errorf("neither the state nor a start event names the run of %s: %v", id, starts)
		}
	}
	var end gameDayAPIRun
	if err := json.Unmarshal([]byte(events[len(events)-1].data), &end); err != nil {
		t.Fatal(err)
	}
	if end.Status != "succeeded" || end.Verdict != "pass" || end.GameDayVersion != 2 || end.Report == nil {
		t.Fatalf("end = %+v", end)
	}

	got := waitGameDay(t, c, run.ID, time.Second, ended)
	rep := got.Report
	if rep == nil || rep.GameDay != "api-day" || rep.Status != "succeeded" || rep.OnFailure != "stop" || len(rep.Steps) != 3 || rep.SteadyStateAfter == nil {
		t.Fatalf("report = %+v", rep)
	}
	leaves := []gameDayAPIStep{*rep.SteadyStateBefore, rep.Steps[0], rep.Steps[2].Steps[0], rep.Steps[2].Steps[1], *rep.SteadyStateAfter}
	for _, s := range leaves {
		if s.RunID == nil || len(s.Report) != 0 || s.Status != "succeeded" {
			t.Errorf("step %s = %+v (want a run ID and no embedded report)", s.ID, s)
			continue
		}
		if starts[s.ID] != *s.RunID {
			t.Errorf("step %s: run %d, but the stream named %d", s.ID, *s.RunID, starts[s.ID])
		}
		var r struct {
			runJSON
			GameDayRunID *int64 `json:"gameDayRunId"`
			GameDayStep  string `json:"gameDayStep"`
		}
		c.json("GET", fmt.Sprintf("/api/v1/runs/%d", *s.RunID), "", nil, 200, &r)
		if r.GameDayRunID == nil || *r.GameDayRunID != run.ID || r.GameDayStep != s.ID || r.Status != "succeeded" || len(r.Report) == 0 {
			t.Errorf("run %d of step %s = status %s, gameDayRunId %v, gameDayStep %q", *s.RunID, s.ID, r.Status, r.GameDayRunID, r.GameDayStep)
		}
	}
	if w := rep.Steps[1]; w.Kind != "wait" || w.RunID != nil || w.Status != "succeeded" {
		t.Errorf("wait step = %+v", w)
	}
	if p := rep.Steps[0]; p.Name != "e2e-abort" || p.Path != "e2e-abort" || p.Verdict != "pass" {
		t.Errorf("experiment step = %+v", p)
	}

	resp, body := c.do("GET", fmt.Sprintf("/api/v1/gameday-runs/%d/junit.xml", run.ID), "", nil)
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(body, &suites); err != nil || resp.StatusCode != 200 || len(suites.Suites) != 1 || suites.Suites[0].Tests != 6 {
		t.Errorf("junit.xml: %d %v %+v\n%s", resp.StatusCode, err, suites, body)
	}

	var runs struct {
		Items []gameDayAPIRun `json:"items"`
		Total int64           `json:"total"`
	}
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/runs?limit=5", g.ID), "", nil, 200, &runs)
	if runs.Total != 1 || runs.Items[0].ID != run.ID || runs.Items[0].Report != nil {
		t.Errorf("runs of the game day = %+v", runs)
	}
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d", g.ID), "", nil, 200, &g)
	if g.LastRun == nil || g.LastRun.ID != run.ID || g.LastRun.Status != "succeeded" {
		t.Errorf("lastRun = %+v", g.LastRun)
	}
	var fires struct {
		Items []any `json:"items"`
		Total int64 `json:"total"`
	}
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/fires", g.ID), "", nil, 200, &fires)
	if fires.Total != 0 || fires.Items == nil {
		t.Errorf("fires of an unscheduled game day = %+v", fires)
	}
	c.json("POST", fmt.Sprintf("/api/v1/gameday-runs/%d/stop", run.ID), "", nil, 409, nil)

	// Deleting the game day keeps its runs, without it.
	c.json("DELETE", fmt.Sprintf("/api/v1/gamedays/%d", g.ID), "", nil, 204, nil)
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d", g.ID), "", nil, 404, nil)
	c.json("GET", fmt.Sprintf("/api/v1/gameday-runs/%d", run.ID), "", nil, 200, &got)
	if got.GameDayID != nil || got.GameDay != "api-day" {
		t.Errorf("run of a deleted game day = %+v", got)
	}
	c.json("GET", "/api/v1/gameday-runs/999", "", nil, 404, nil)
	c.json("POST", "/api/v1/gamedays/999/runs", "", nil, 404, nil)
}

// shortGameDay is a game day over steady-httpbin whose only step is a
// short wait; spec adds lines to its spec (a schedule, a webhook).
func shortGameDay(name, spec string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: ` + name + `}
spec:
  steadyState: steady-httpbin
  steps: [{wait: 10ms}]
` + spec
}

// longGameDay holds its only step for a minute.
const longGameDay = `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: long-day}
spec:
  steadyState: steady-httpbin
  steps:
  - wait: 1m
`

func TestTheLeverHaltsARunningGameDay(t *testing.T) {
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin)
	g := postGameDay(t, c, longGameDay)
	run := startGameDay(t, c, g.ID)
	waitGameDay(t, c, run.ID, 20*time.Second, func(r gameDayAPIRun) bool {
		return r.Report != nil && len(r.Report.Steps) == 1 && r.Report.Steps[0].Status == "running"
	})
	var e errorJSON
	c.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", g.ID), "", nil, 409, &e)
	if !strings.Contains(e.Error.Message, "already running") || e.Error.Code != "running" {
		t.Errorf("second start = %+v", e.Error)
	}

	engaged := time.Now()
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "gameday incident 9"}`), 200, nil)
	got := waitGameDay(t, c, run.ID, time.Second, ended)
	t.Logf("halted %v after the lever", time.Since(engaged))
	if got.Status != "stopped" || !strings.Contains(got.Reason, "safety lever") || !strings.Contains(got.Reason, "gameday incident 9") {
		t.Errorf("halted game day = %s (%s)", got.Status, got.Reason)
	}
	if got.Report == nil || got.Report.Steps[0].Status != "stopped" || got.Report.SteadyStateAfter != nil {
		t.Errorf("report of the halted game day = %+v", got.Report)
	}
	c.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", g.ID), "", nil, 409, &e)
	if !strings.Contains(e.Error.Message, "safety lever") || !strings.Contains(e.Error.Message, "gameday incident 9") || e.Error.Code != "lever" {
		t.Errorf("start with the lever engaged = %+v", e.Error)
	}
	var runs struct{ Total int64 }
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/runs", g.ID), "", nil, 200, &runs)
	if runs.Total != 1 {
		t.Errorf("%d runs recorded, want the halted one only", runs.Total)
	}
	waitMetrics(t, c, `faultline_safety_lever_engaged 1`, `faultline_gamedays_finished_total{status="stopped"} 1`, `faultline_gamedays_running 0`)
}

// waitMetrics waits up to two seconds for /metrics to show every line of
// want (a game day's end reaches the metrics just after its record).
func waitMetrics(t *testing.T, c client, want ...string) {
	t.Helper()
	var code int
	var missing string
	if !wait.Until(2*time.Second, func() bool {
		resp, body := c.do("GET", "/metrics", "", nil)
		code, missing = resp.StatusCode, ""
		for _, w := range want {
			if !strings.Contains(string(body), w+"\n") {
				missing = w
				break
			}
		}
		return code == 200 && missing == ""
	}) {
		t.Fatalf("/metrics (%d) lacks %q", code, missing)
	}
}

func TestAFailingSteadyStateInjectsNothing(t *testing.T) {
	c := serve(t, server.Config{})
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(target.Close)
	addr := strings.TrimPrefix(target.URL, "http://")
	// The steady state wants every request to fail against a healthy
	// target, so it cannot hold.
	unsteady := strings.NewReplacer("steady-httpbin", "unsteady", `value: 0}`, `value: 1}`).Replace(steadyHTTPBin)
	fault := strings.NewReplacer("steady-httpbin", "fault-step", "{demo: httpbin}", "{address: "+addr+"}").Replace(steadyHTTPBin)
	storeExperiments(t, c, unsteady, fault)
	g := postGameDay(t, c, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: unsteady-day}
spec:
  steadyState: unsteady
  onFailure: continue
  steps:
  - experiment: fault-step
  - parallel: [{experiment: fault-step}]
`)
	run := startGameDay(t, c, g.ID)
	got := waitGameDay(t, c, run.ID, 30*time.Second, ended)
	if got.Status != "failed" || got.Verdict != "fail" || got.Reason != "steady state did not hold before any fault" {
		t.Fatalf("game day = %s %s (%s)", got.Status, got.Verdict, got.Reason)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the fault step's target saw %d requests", n)
	}
	rep := got.Report
	if b := rep.SteadyStateBefore; b == nil || b.Status != "failed" || b.RunID == nil {
		t.Errorf("first check = %+v", b)
	}
	for _, s := range []gameDayAPIStep{rep.Steps[0], rep.Steps[1].Steps[0]} {
		if s.Status != "skipped" || s.RunID != nil {
			t.Errorf("step %s = %+v, want skipped without a run", s.ID, s)
		}
	}
	var stepRuns struct{ Total int64 }
	c.json("GET", "/api/v1/runs", "", nil, 200, &stepRuns)
	if stepRuns.Total != 1 {
		t.Errorf("%d runs recorded, want the first check's only", stepRuns.Total)
	}
}

func TestABlackoutWindowRefusesAGameDay(t *testing.T) {
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin)
	g := postGameDay(t, c, longGameDay+`  schedule:
    cron: "0 3 * * *"
    blackouts: [{from: "00:00", to: "00:00", reason: quarter-end freeze}]
`)
	if s := g.Schedule; s == nil || len(s.Blackouts) != 1 || s.BlackoutNow == nil || s.BlackoutNow.Reason != "quarter-end freeze" {
		t.Errorf("schedule JSON = %+v", s)
	}
	var e errorJSON
	c.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", g.ID), "", nil, 409, &e)
	if !strings.Contains(e.Error.Message, "blackout window every day 00:00-00:00: quarter-end freeze") || e.Error.Code != "blackout" {
		t.Errorf("refusal = %+v", e.Error)
	}
	var runs struct{ Total int64 }
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/runs", g.ID), "", nil, 200, &runs)
	if runs.Total != 0 {
		t.Errorf("%d runs recorded", runs.Total)
	}
}

func TestAGameDayLeftRunningIsInterruptedAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faultline.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	recv := &hookReceiver{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)
	src := longGameDay + "  notify: {webhook: {url: \"" + hook.URL + "\", on: [failed]}}\n"
	g := &store.GameDay{Name: "long-day", Source: src, Format: store.FormatYAML}
	if err := db.CreateGameDay(ctx, g); err != nil {
		t.Fatal(err)
	}
	r := &store.GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, GameDayVersion: 1, Source: g.Source, Trigger: store.TriggerSchedule}
	if err := db.CreateGameDayRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	db.Close() // as if the process had died mid-game-day

	c := serve(t, server.Config{DB: path, Allow: []string{"127.0.0.1"}}) // the receiver is on loopback
	var got gameDayAPIRun
	c.json("GET", fmt.Sprintf("/api/v1/gameday-runs/%d", r.ID), "", nil, 200, &got)
	if got.Status != "interrupted" || !strings.Contains(got.Reason, "server stopped") || got.Trigger != "schedule" {
		t.Errorf("after restart = %+v", got)
	}
	c.json("POST", fmt.Sprintf("/api/v1/gameday-runs/%d/stop", r.ID), "", nil, 409, nil)

	// Its webhook hears that it failed, once, unsigned (no secret is set).
	got = waitGameDay(t, c, r.ID, 10*time.Second, func(r gameDayAPIRun) bool { return len(r.Webhooks) > 0 })
	if w := got.Webhooks; len(w) != 1 || w[0].Event != "failed" || w[0].StatusCode != 204 {
		t.Errorf("deliveries = %+v", w)
	}
	if reqs := recv.got(); len(reqs) != 1 || reqs[0].header.Get(webhook.EventHeader) != "failed" || reqs[0].header.Get(webhook.SignatureHeader) != "" ||
		!strings.Contains(string(reqs[0].body), `"status":"interrupted"`) {
		t.Errorf("the receiver got %d requests: %+v", len(reqs), reqs)
	}
	resp, body := c.do("GET", fmt.Sprintf("/api/v1/gameday-runs/%d/junit.xml", r.ID), "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "interrupted") {
		t.Errorf("junit of an interrupted run: %d\n%s", resp.StatusCode, body)
	}
}

// hookReceiver is a loopback webhook receiver that keeps what it gets.
type hookReceiver struct {
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) got() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func TestAGameDaysEndIsDeliveredToItsWebhookSigned(t *testing.T) {
	const secret = "gameday-hook-secret"
	c := serve(t, server.Config{WebhookSecret: secret, Allow: []string{"127.0.0.1"}}) // the receiver is on loopback
	recv := &hookReceiver{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)
	storeExperiments(t, c, steadyHTTPBin)
	src := shortGameDay("hooked-day", `  notify: {webhook: {url: "`+hook.URL+`/hook"}}
`)
	g := postGameDay(t, c, src)
	if len(g.Warnings) != 0 {
		t.Errorf("warnings with a secret set: %+v", g.Warnings)
	}
	run := startGameDay(t, c, g.ID)
	got := waitGameDay(t, c, run.ID, 30*time.Second, func(r gameDayAPIRun) bool { return ended(r) && len(r.Webhooks) > 0 })
	if got.Status != "succeeded" {
		t.Fatalf("game day = %s (%s)", got.Status, got.Reason)
	}
	if w := got.Webhooks; len(w) != 1 || w[0].Event != "finished" || w[0].StatusCode != 204 || w[0].Attempts != 1 || w[0].Error != "" || w[0].URL != hook.URL+"/hook" {
		t.Errorf("recorded deliveries = %+v", w)
	}
	reqs := recv.got()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(reqs))
	}
	if err := webhook.Verify([]byte(secret), reqs[0].header, reqs[0].body, time.Minute); err != nil {
		t.Errorf("signature: %v", err)
	}
	if reqs[0].header.Get(webhook.EventHeader) != "finished" {
		t.Errorf("event header = %q", reqs[0].header.Get(webhook.EventHeader))
	}
	var p struct {
		Event        string `json:"event"`
		GameDay      string `json:"gameDay"`
		GameDayRunID int64  `json:"gameDayRunId"`
		Status       string `json:"status"`
		Verdict      string `json:"verdict"`
		URL          string `json:"url"`
		Steps        []struct {
			ID    string `json:"id"`
			Kind  string `json:"kind"`
			RunID *int64 `json:"runId"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(reqs[0].body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Event != "finished" || p.GameDay != "hooked-day" || p.GameDayRunID != run.ID || p.Status != "succeeded" || p.Verdict != "pass" ||
		p.URL != fmt.Sprintf("/api/v1/gameday-runs/%d", run.ID) || len(p.Steps) != 3 || p.Steps[0].RunID == nil || p.Steps[1].Kind != "wait" {
		t.Errorf("payload = %s", reqs[0].body)
	}

	// A server without a secret warns that deliveries will be unsigned.
	c2 := serve(t, server.Config{Allow: []string{"127.0.0.1"}})
	storeExperiments(t, c2, steadyHTTPBin)
	g2 := postGameDay(t, c2, src)
	if len(g2.Warnings) != 1 || g2.Warnings[0].Path != "spec.notify.webhook" || !strings.Contains(g2.Warnings[0].Message, "unsigned") {
		t.Errorf("warnings without a secret = %+v", g2.Warnings)
	}
	if n := len(recv.got()); n != 1 {
		t.Errorf("the receiver got %d requests in all, want 1 (one per end)", n)
	}
}

// validation is the answer of POST /validate.
type validation struct {
	Valid    bool `json:"valid"`
	Problems []struct {
		Severity string `json:"severity"`
		Document string `json:"document"`
		Path     string `json:"path"`
		Line     int    `json:"line"`
		Message  string `json:"message"`
	} `json:"problems"`
}

// POST /validate checks a game day as saving it would, each problem at
// its line: the document itself, then the stored experiments it names
// (an unknown one, a steady state that injects faults), and the warning
// about an unsigned webhook. Nothing is stored.
func TestValidateChecksAGameDayAsSavingWould(t *testing.T) {
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin, abortExperiment)
	validate := func(src string) validation {
		t.Helper()
		var v validation
		body, err := json.Marshal(map[string]string{"source": src}) // as the dashboard's editor sends it
		if err != nil {
			t.Fatal(err)
		}
		c.json("POST", "/api/v1/validate", "application/json", body, 200, &v)
		return v
	}
	if v := validate(apiGameDay); !v.Valid || len(v.Problems) != 0 {
		t.Errorf("a game day of stored experiments: %+v", v)
	}
	type want struct {
		path string
		line int
		text string
	}
	for _, tc := range []struct {
		name  string
		src   string
		valid bool
		want  []want
	}{
		{"unknown experiments, at the lines that name them",
			strings.NewReplacer("steadyState: steady-httpbin", "steadyState: missing", "  - experiment: e2e-abort\n", "  - experiment: nope\n").Replace(apiGameDay), false,
			[]want{{"spec.steadyState", 6, "missing: no experiment by that name is stored"}, {"spec.steps[0].experiment", 8, "nope: no experiment by that name is stored"}}},
		{"an unknown experiment inside a parallel group",
			strings.Replace(apiGameDay, "{experiment: e2e-abort}", "{experiment: gone}", 1), false,
			[]want{{"spec.steps[2].parallel[0].experiment", 10, "gone"}}},
		{"a steady state that injects faults",
			strings.Replace(apiGameDay, "steadyState: steady-httpbin", "steadyState: e2e-abort", 1), false,
			[]want{{"spec.steadyState", 6, "must inject no faults"}}},
		{"a field the document does not have",
			strings.Replace(apiGameDay, "  steps:\n", "  stepz: 1\n  steps:\n", 1), false,
			[]want{{"spec.stepz", 7, ""}}},
		{"a webhook the server cannot sign is a warning",
			apiGameDay + "  notify:\n    webhook: {url: \"https://93.184.216.34/hook\"}\n", true,
			[]want{{"spec.notify.webhook", 12, "unsigned"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validate(tc.src)
			if v.Valid != tc.valid || len(v.Problems) != len(tc.want) {
				t.Fatalf("validation = %+v, want valid %v and %d problems", v, tc.valid, len(tc.want))
			}
			for i, w := range tc.want {
				p := v.Problems[i]
				if p.Path != w.path || p.Line != w.line || !strings.Contains(p.Message, w.text) || p.Document != "GameDay api-day" {
					t.Errorf("problem %d = %+v, want %s at line %d saying %q", i, p, w.path, w.line, w.text)
				}
			}
		})
	}
	// A YAML syntax error is a problem at its line, as for an experiment.
	if v := validate("apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nspec: [\n"); v.Valid || len(v.Problems) == 0 || v.Problems[0].Line == 0 {
		t.Errorf("a syntax error: %+v", v)
	}
	var list struct{ Total int64 }
	if c.json("GET", "/api/v1/gamedays", "", nil, 200, &list); list.Total != 0 {
		t.Errorf("%d game days stored by validation", list.Total)
	}
}

func TestOpenAPICoversTheGameDayRoutes(t *testing.T) {
	doc := openAPIDoc(t, serve(t, server.Config{}))
	checkRoutes(t, doc, []route{
		{"GET", "/api/v1/gamedays"}, {"POST", "/api/v1/gamedays"},
		{"GET", "/api/v1/gamedays/{id}"}, {"PUT", "/api/v1/gamedays/{id}"}, {"DELETE", "/api/v1/gamedays/{id}"},
		{"POST", "/api/v1/gamedays/{id}/runs"}, {"GET", "/api/v1/gamedays/{id}/runs"}, {"GET", "/api/v1/gamedays/{id}/fires"},
		{"GET", "/api/v1/gameday-runs/{rid}"}, {"POST", "/api/v1/gameday-runs/{rid}/stop"},
		{"GET", "/api/v1/gameday-runs/{rid}/events"}, {"GET", "/api/v1/gameday-runs/{rid}/junit.xml"},
		{"GET", "/api/v1/gamedays/{id}/calendar"}, {"GET", "/api/v1/experiments/{id}/calendar"},
	})
	run := doc.Components.Schemas["Run"]
	if run == nil || run.Value.Properties["gameDayRunId"] == nil || run.Value.Properties["gameDayStep"] == nil {
		t.Error("the Run schema lacks gameDayRunId and gameDayStep")
	}
}

func TestDeletingOrStoppingTheServerStopsRunningGameDays(t *testing.T) {
	before := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "faultline.db")
	var deletedRun, leftRun int64
	func() {
		base, stop := testserver.Start(t, server.Config{DB: path})
		c := client{t: t, base: base}
		storeExperiments(t, c, steadyHTTPBin)
		running := func(r gameDayAPIRun) bool {
			return r.Report != nil && len(r.Report.Steps) == 1 && r.Report.Steps[0].Status == "running"
		}

		// Deleting a game day stops its running run first.
		g := postGameDay(t, c, longGameDay)
		deletedRun = startGameDay(t, c, g.ID).ID
		waitGameDay(t, c, deletedRun, 20*time.Second, running)
		c.json("DELETE", fmt.Sprintf("/api/v1/gamedays/%d", g.ID), "", nil, 204, nil)
		var got gameDayAPIRun
		c.json("GET", fmt.Sprintf("/api/v1/gameday-runs/%d", deletedRun), "", nil, 200, &got)
		if got.Status != "stopped" || got.Reason != "stopped: the game day was deleted" || got.GameDayID != nil {
			t.Errorf("run of the deleted game day = %s (%s), gameDayId %v", got.Status, got.Reason, got.GameDayID)
		}

		// Stopping the server stops the game day still running.
		g = postGameDay(t, c, longGameDay)
		leftRun = startGameDay(t, c, g.ID).ID
		waitGameDay(t, c, leftRun, 20*time.Second, running)
		stop()
	}()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.GetGameDayRun(context.Background(), leftRun)
	if err != nil || r.Status != runstatus.Stopped || !strings.Contains(r.Reason, "shutting down") || r.EndedAt == nil {
		t.Errorf("game day running at shutdown = %+v, %v", r, err)
	}
	steps, _, err := db.ListRuns(context.Background(), store.RunFilter{GameDayRunID: leftRun})
	if err != nil || len(steps) != 1 || steps[0].Status != runstatus.Succeeded {
		t.Errorf("its step runs = %+v, %v", steps, err)
	}

	http.DefaultClient.CloseIdleConnections()
	wait.Until(10*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 })
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the server stopped, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// gameDayDemoImage builds the demo httpbin target's image (Faultline's
// static binary in scripts/demo-target.Dockerfile) and removes it when the
// test ends. Without a Docker engine it skips, unless CI is set.
func gameDayDemoImage(t *testing.T) string {
	t.Helper()
	testserver.NeedDocker(t)
	dir := testserver.DemoTargetContext(t)
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tag, err := p.BuildImage(context.Background(), &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Dockerfile: "Dockerfile", Repo: "faultline-gameday-test", Tag: strconv.Itoa(os.Getpid())}})
	if err != nil {
		t.Fatalf("build the demo image: %v", err)
	}
	t.Cleanup(func() {
		cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
		if err != nil {
			t.Errorf("docker client: %v", err)
			return
		}
		defer cli.Close()
		if _, err := cli.ImageRemove(context.Background(), tag, dockerclient.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove %s: %v", tag, err)
		}
	})
	return tag
}

func TestAnActionStepPausesTheContainerOfItsExperiment(t *testing.T) {
	tag := gameDayDemoImage(t)
	c := serve(t, server.Config{AllowImages: []string{tag}})
	storeExperiments(t, c, steadyHTTPBin, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: container-target}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{container: {image: "`+tag+`", port: 8080, wait: {path: /get}}}]}]
  load: {url: "http://httpbin:8000/get", connections: 4, qps: 50, duration: 4s, timeout: 300ms}
`)
	g := postGameDay(t, c, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: pause-day}
spec:
  steadyState: steady-httpbin
  steps:
  - parallel:
    - experiment: container-target
    - action: {at: 1s, container: httpbin, action: pause}
    - action: {at: 2s, container: httpbin, action: unpause}
`)
	run := startGameDay(t, c, g.ID)
	got := waitGameDay(t, c, run.ID, 2*time.Minute, ended)
	if got.Status != "succeeded" || got.Report == nil {
		t.Fatalf("game day = %s (%s)", got.Status, got.Reason)
	}
	group := got.Report.Steps[0]
	exp, pause, unpause := group.Steps[0], group.Steps[1], group.Steps[2]
	if exp.RunID == nil {
		t.Fatalf("experiment step = %+v", exp)
	}
	for _, a := range []gameDayAPIStep{pause, unpause} {
		if a.Kind != "action" || a.Status != "succeeded" || a.RunID == nil || *a.RunID != *exp.RunID || a.Name != "container-target" {
			t.Errorf("action step %s = %+v", a.ID, a)
		}
	}
	var r runJSON
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", *exp.RunID), "", nil, 200, &r)
	var rep struct {
		StartedAt time.Time        `json:"startedAt"`
		Errors    int64            `json:"errors"`
		Codes     map[string]int64 `json:"codes"`
		Actions   []struct {
			At     string  `json:"at"`
			AtMs   float64 `json:"atMs"`
			Action string  `json:"action"`
			Target string  `json:"target"`
			OK     bool    `json:"ok"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Actions) != 2 || rep.Actions[0].Action != "pause" || !rep.Actions[0].OK || rep.Actions[1].Action != "unpause" || !rep.Actions[1].OK {
		t.Fatalf("the experiment's run recorded actions %+v", rep.Actions)
	}
	if at := rep.Actions[0].AtMs; at < 1000 || at > 1500 {
		t.Errorf("pause at %.0f ms, want about 1000", at)
	}
	// Each action step happened when the run took its action: the run's
	// start plus the action's time on the run's timeline.
	for i, a := range []gameDayAPIStep{pause, unpause} {
		want := rep.StartedAt.Add(time.Duration(rep.Actions[i].AtMs * float64(time.Millisecond)))
		if d := a.StartedAt.Sub(want); d < -time.Millisecond || d > time.Millisecond || !a.EndedAt.Equal(a.StartedAt) {
			t.Errorf("action step %s from %v to %v, want at %v (the run's start %v plus %.1f ms)", a.ID, a.StartedAt, a.EndedAt, want, rep.StartedAt, rep.Actions[i].AtMs)
		}
	}
	if rep.Errors == 0 || rep.Codes["200"] == 0 {
		t.Errorf("errors %d, codes %v: want timeouts during the pause and 200s around it", rep.Errors, rep.Codes)
	}

	// A rerun of the step's run replays the game day's actions too.
	var again runJSON
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/rerun", *exp.RunID), "", nil, 202, &again)
	rerunEnded := func() bool { return again.Status != "queued" && again.Status != "running" }
	if !wait.Until(time.Minute, func() bool {
		if !rerunEnded() {
			c.json("GET", fmt.Sprintf("/api/v1/runs/%d", again.ID), "", nil, 200, &again)
		}
		return rerunEnded()
	}) {
		t.Fatalf("rerun %d still %s", again.ID, again.Status)
	}
	rep.Actions = nil
	if err := json.Unmarshal(again.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if again.Status != "succeeded" || len(rep.Actions) != 2 || rep.Actions[0].Action != "pause" || rep.Actions[1].Action != "unpause" {
		t.Errorf("rerun = %s (%s), actions %+v; want the game day's pause and unpause", again.Status, again.Reason, rep.Actions)
	}
}
