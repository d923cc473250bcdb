package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/server"
)

const scheduledExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: NAME}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", LOAD}
  schedule: {cron: "@every 1s", timezone: Europe/Berlin}
`

type firesJSON struct {
	Items []struct {
		ScheduledFor time.Time `json:"scheduledFor"`
		Outcome      string    `json:"outcome"`
		Reason       string    `json:"reason"`
		RunID        *int64    `json:"runId"`
	} `json:"items"`
	Total int64 `json:"total"`
}

// createScheduled stores a scheduled experiment and returns its ID.
func createScheduled(t *testing.T, c client, name, load string) int64 {
	t.Helper()
	var e struct {
		ID       int64 `json:"id"`
		Schedule struct {
			Cron      string   `json:"cron"`
			Timezone  string   `json:"timezone"`
			Enabled   bool     `json:"enabled"`
			NextFires []string `json:"nextFires"`
		} `json:"schedule"`
	}
	src := strings.NewReplacer("NAME", name, "LOAD", load).Replace(scheduledExperiment)
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), 201, &e)
	if s := e.Schedule; s.Cron != "@every 1s" || !s.Enabled || len(s.NextFires) != 3 || !strings.HasSuffix(s.NextFires[0], ":00") {
		t.Errorf("schedule in the experiment JSON = %+v, want three Berlin times", s)
	}
	return e.ID
}

// waitFires polls an experiment's fires until ok holds for them.
func waitFires(t *testing.T, c client, id int64, within time.Duration, ok func(firesJSON) bool) firesJSON {
	t.Helper()
	return waitFiresAt(t, c, fmt.Sprintf("/api/v1/experiments/%d/fires", id), within, ok)
}

// waitFiresAt polls the fires at path until ok holds for them.
func waitFiresAt(t *testing.T, c client, path string, within time.Duration, ok func(firesJSON) bool) firesJSON {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var f firesJSON
		c.json("GET", path, "", nil, 200, &f)
		if ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("fires after %v: %+v", within, f)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(f firesJSON, outcome string) (n int) {
	for _, it := range f.Items {
		if it.Outcome == outcome {
			n++
		}
	}
	return n
}

func TestScheduleFiresRunsEndToEnd(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	id := createScheduled(t, c, "every-second", "requests: 5")
	f := waitFires(t, c, id, 5*time.Second, func(f firesJSON) bool { return count(f, "ran") >= 2 })
	for _, it := range f.Items {
		if it.Outcome != "ran" || it.RunID == nil {
			t.Errorf("fire = %+v, want ran with a run", it)
			continue
		}
		if got := waitRun(t, c, *it.RunID); got.Status != "succeeded" {
			t.Errorf("scheduled run = %+v", got)
		}
	}
	// Deleting the experiment ends its schedule.
	c.json("DELETE", fmt.Sprintf("/api/v1/experiments/%d", id), "", nil, 204, nil)
	c.json("GET", fmt.Sprintf("/api/v1/experiments/%d/fires", id), "", nil, 404, nil)
}

func TestForbidSkipsFiresWhileTheScheduledRunIsActive(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	id := createScheduled(t, c, "long", "duration: 5s, qps: 10")
	f := waitFires(t, c, id, 5*time.Second, func(f firesJSON) bool { return count(f, "skipped") >= 1 })
	if count(f, "ran") != 1 {
		t.Errorf("fires = %+v, want one run and the rest skipped", f)
	}
	for _, it := range f.Items {
		if it.Outcome == "skipped" && !strings.Contains(it.Reason, "still active") {
			t.Errorf("skipped fire's reason = %q", it.Reason)
		}
	}
}

func TestLeverRefusesScheduledFires(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "freeze"}`), 200, nil)
	id := createScheduled(t, c, "frozen", "requests: 5")
	f := waitFires(t, c, id, 5*time.Second, func(f firesJSON) bool { return count(f, "refused") >= 1 })
	if count(f, "ran") != 0 || !strings.Contains(f.Items[0].Reason, "safety lever") {
		t.Errorf("fires under the lever = %+v", f)
	}
}

func TestScheduleValidationNamesTheField(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	for bad, field := range map[string]string{
		`{cron: "0 3 * *"}`:                         "spec.schedule.cron",
		`{cron: "@hourly", timezone: Mars/Olympus}`: "spec.schedule.timezone",
	} {
		src := strings.Replace(strings.NewReplacer("NAME", "bad", "LOAD", "requests: 5").Replace(scheduledExperiment),
			`{cron: "@every 1s", timezone: Europe/Berlin}`, bad, 1)
		var e errorJSON
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), 422, &e)
		if e.Error.Field != field {
			t.Errorf("%s: error field %q (%s), want %s", bad, e.Error.Field, e.Error.Message, field)
		}
	}
}

func TestABlackoutWindowHoldsScheduledFires(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	// A whole-day window on every day holds whenever the test runs.
	src := strings.Replace(strings.NewReplacer("NAME", "frozen-window", "LOAD", "requests: 5").Replace(scheduledExperiment),
		`{cron: "@every 1s", timezone: Europe/Berlin}`,
		`{cron: "@every 1s", timezone: Europe/Berlin, blackouts: [{from: "00:00", to: "00:00", reason: change freeze}]}`, 1)
	var e struct {
		ID       int64 `json:"id"`
		Schedule struct {
			NextFires []string `json:"nextFires"`
			Blackouts []struct {
				From, To, Reason string
			} `json:"blackouts"`
			BlackoutNow *struct {
				Reason string `json:"reason"`
			} `json:"blackoutNow"`
		} `json:"schedule"`
	}
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), 201, &e)
	if s := e.Schedule; len(s.Blackouts) != 1 || s.Blackouts[0].Reason != "change freeze" || s.BlackoutNow == nil ||
		s.BlackoutNow.Reason != "change freeze" || len(s.NextFires) != 0 {
		t.Errorf("schedule JSON = %+v, want the window, holding now, and no next fires", s)
	}

	f := waitFires(t, c, e.ID, 5*time.Second, func(f firesJSON) bool { return count(f, "skipped") >= 2 })
	for _, it := range f.Items {
		if want := "blackout window every day 00:00-00:00: change freeze"; it.Outcome != "skipped" || it.Reason != want || it.RunID != nil {
			t.Errorf("fire = %+v, want skipped with reason %q and no run", it, want)
		}
	}
	var runs struct {
		Total int64 `json:"total"`
	}
	c.json("GET", "/api/v1/runs", "", nil, 200, &runs)
	if runs.Total != 0 {
		t.Errorf("runs started under the window = %d, want 0", runs.Total)
	}
}

func TestAScheduledGameDayFiresThroughTheGameDayManager(t *testing.T) {
	base, _ := startServer(t, server.Config{})
	c := client{t: t, base: base}
	storeExperiments(t, c, steadyHTTPBin)
	g := postGameDay(t, c, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: scheduled-day}
spec:
  steadyState: steady-httpbin
  steps: [{wait: 10ms}]
  schedule: {cron: "@every 1s"}
`)
	path := fmt.Sprintf("/api/v1/gamedays/%d/fires", g.ID)
	f := waitFiresAt(t, c, path, 5*time.Second, func(f firesJSON) bool { return count(f, "ran") >= 1 })
	var ran *int64
	for _, it := range f.Items {
		if it.Outcome == "ran" {
			ran = it.RunID
		}
	}
	if ran == nil {
		t.Fatalf("fires = %+v, want a ran fire naming its game-day run", f)
	}
	run := waitGameDay(t, c, *ran, 30*time.Second, ended)
	if run.Trigger != "schedule" || run.Status != "succeeded" || run.GameDayID == nil || *run.GameDayID != g.ID {
		t.Errorf("scheduled game-day run = %+v, want a succeeded run of game day %d started by the schedule", run, g.ID)
	}
}
