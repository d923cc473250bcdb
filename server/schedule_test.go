package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
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
	var f firesJSON
	if !wait.Until(within, func() bool {
		f = firesJSON{}
		c.json("GET", path, "", nil, 200, &f)
		return ok(f)
	}) {
		t.Fatalf("fires after %v: %+v", within, f)
	}
	return f
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
	c := serve(t, server.Config{})
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
	c := serve(t, server.Config{})
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
	c := serve(t, server.Config{})
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "freeze"}`), 200, nil)
	id := createScheduled(t, c, "frozen", "requests: 5")
	f := waitFires(t, c, id, 5*time.Second, func(f firesJSON) bool { return count(f, "refused") >= 1 })
	if count(f, "ran") != 0 || !strings.Contains(f.Items[0].Reason, "safety lever") {
		t.Errorf("fires under the lever = %+v", f)
	}
}

func TestScheduleValidationNamesTheField(t *testing.T) {
	c := serve(t, server.Config{})
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
	c := serve(t, server.Config{})
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
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin)
	g := postGameDay(t, c, shortGameDay("scheduled-day", `  schedule: {cron: "@every 1s"}
`))
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

// calendarJSON is GET …/calendar.
type calendarJSON struct {
	Timezone string `json:"timezone"`
	Enabled  bool   `json:"enabled"`
	From     string `json:"from"`
	To       string `json:"to"`
	Fires    []struct {
		At      string `json:"at"`
		Skipped bool   `json:"skipped"`
		Reason  string `json:"reason"`
	} `json:"fires"`
	Truncated bool `json:"truncated"`
	Hours     []struct {
		From    string `json:"from"`
		Fires   int    `json:"fires"`
		Skipped int    `json:"skipped"`
	} `json:"hours"`
	Blackouts []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Window struct {
			Days   []string `json:"days"`
			From   string   `json:"from"`
			To     string   `json:"to"`
			Reason string   `json:"reason"`
		} `json:"window"`
	} `json:"blackouts"`
}

// hoursCount sums a calendar's hours.
func (c calendarJSON) hoursCount() (fires, skipped int) {
	for _, h := range c.Hours {
		fires += h.Fires
		skipped += h.Skipped
	}
	return fires, skipped
}

// An experiment's calendar is the scheduler's: a week of "0 */6 * * *" in
// Berlin is 28 times in the zone's own offset, the one inside the
// Wednesday window skipped with the window's description, and the window
// a stretch of the week.
func TestExperimentCalendar(t *testing.T) {
	c := serve(t, server.Config{})
	withSchedule := func(name, schedule string) int64 {
		t.Helper()
		src := strings.Replace(strings.NewReplacer("NAME", name, "LOAD", "requests: 5").Replace(scheduledExperiment),
			`{cron: "@every 1s", timezone: Europe/Berlin}`, schedule, 1)
		var e struct {
			ID int64 `json:"id"`
		}
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), 201, &e)
		return e.ID
	}
	id := withSchedule("six-hourly", `{cron: "0 */6 * * *", timezone: Europe/Berlin, blackouts: [{days: [wed], from: "05:00", to: "07:00", reason: backups}]}`)
	path := fmt.Sprintf("/api/v1/experiments/%d/calendar", id)

	var cal calendarJSON
	c.json("GET", path+"?from=2026-01-05T00:00:00%2B01:00&to=2026-01-12T00:00:00%2B01:00", "", nil, 200, &cal)
	if cal.Timezone != "Europe/Berlin" || !cal.Enabled || cal.Truncated || len(cal.Fires) != 28 {
		t.Fatalf("calendar = %+v, want 28 times in Europe/Berlin", cal)
	}
	if cal.From != "2026-01-05T00:00:00+01:00" || cal.Fires[0].At != "2026-01-05T00:00:00+01:00" || cal.Fires[27].At != "2026-01-11T18:00:00+01:00" {
		t.Errorf("range %s, first %s, last %s: want the zone's own times", cal.From, cal.Fires[0].At, cal.Fires[27].At)
	}
	var skipped []string
	for _, f := range cal.Fires {
		if f.Skipped {
			skipped = append(skipped, f.At+" "+f.Reason)
		}
	}
	if want := "2026-01-07T06:00:00+01:00 blackout window wed 05:00-07:00: backups"; len(skipped) != 1 || skipped[0] != want {
		t.Errorf("skipped %v, want %q", skipped, want)
	}
	if f, s := cal.hoursCount(); f != 27 || s != 1 {
		t.Errorf("hours count %d fires and %d skipped, want 27 and 1", f, s)
	}
	if b := cal.Blackouts; len(b) != 1 || b[0].From != "2026-01-07T05:00:00+01:00" || b[0].To != "2026-01-07T07:00:00+01:00" ||
		b[0].Window.Reason != "backups" || len(b[0].Window.Days) != 1 || b[0].Window.Days[0] != "wed" || b[0].Window.From != "05:00" {
		t.Errorf("blackouts = %+v, want Wednesday 05:00-07:00", b)
	}

	// By default, the coming week: 28 times again, from about now.
	before := time.Now()
	c.json("GET", path, "", nil, 200, &cal)
	from, err := time.Parse(time.RFC3339, cal.From)
	to, err2 := time.Parse(time.RFC3339, cal.To)
	if err != nil || err2 != nil || from.Before(before.Add(-time.Second)) || from.After(time.Now()) || to.Sub(from) != 7*24*time.Hour {
		t.Errorf("default range %s to %s, want now and a week on", cal.From, cal.To)
	}
	if f, s := cal.hoursCount(); len(cal.Fires) != 28 || f+s != 28 {
		t.Errorf("default range: %d times, hours count %d, want 28", len(cal.Fires), f+s)
	}

	// Bad ranges name the bound at fault and lay nothing out.
	for query, field := range map[string]string{
		"?from=yesterday": "from",
		"?to=2026-13-01T00:00:00Z&from=2026-01-01T00:00:00Z": "to",
		"?from=2026-01-05T00:00:00Z&to=2026-01-04T00:00:00Z": "to",
		"?from=2026-01-05T00:00:00Z&to=2026-01-05T00:00:00Z": "to",
		"?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z": "to",
	} {
		var e errorJSON
		c.json("GET", path+query, "", nil, 422, &e)
		if e.Error.Field != field || !strings.HasPrefix(e.Error.Message, field+": ") {
			t.Errorf("%s: error %+v, want one naming %s", query, e.Error, field)
		}
	}
	c.json("GET", path+"?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", "", nil, 200, &cal)
	if len(cal.Fires) != 31*4 {
		t.Errorf("31 days: %d times, want %d", len(cal.Fires), 31*4)
	}
	c.json("GET", "/api/v1/experiments/999/calendar", "", nil, 404, nil)

	// No schedule, or a schedule turned off: nothing laid out, the range
	// still checked.
	var plain struct {
		ID int64 `json:"id"`
	}
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 201, &plain)
	off := withSchedule("off", `{cron: "0 */6 * * *", timezone: Asia/Kolkata, enabled: false, blackouts: [{from: "00:00", to: "06:00"}]}`)
	for what, tc := range map[string]struct {
		id int64
		tz string
	}{"no schedule": {plain.ID, "UTC"}, "turned off": {off, "Asia/Kolkata"}} {
		var empty calendarJSON
		_, body := c.do("GET", fmt.Sprintf("/api/v1/experiments/%d/calendar", tc.id), "", nil)
		if err := json.Unmarshal(body, &empty); err != nil {
			t.Fatal(err)
		}
		if empty.Enabled || empty.Timezone != tc.tz || empty.Fires == nil || len(empty.Fires) != 0 || empty.Blackouts == nil || len(empty.Blackouts) != 0 {
			t.Errorf("%s: %s", what, body)
		}
		c.json("GET", fmt.Sprintf("/api/v1/experiments/%d/calendar?from=2026-01-05T00:00:00Z&to=2026-01-01T00:00:00Z", tc.id), "", nil, 422, nil)
	}
}

// A game day's calendar: a day of "@every 2s" is 43,200 times, listed up
// to the cap and counted in full by hour; a window over the whole day
// skips them all and is one stretch.
func TestGameDayCalendar(t *testing.T) {
	c := serve(t, server.Config{})
	storeExperiments(t, c, steadyHTTPBin)
	g := postGameDay(t, c, shortGameDay("frozen-day", `  schedule: {cron: "@every 2s", blackouts: [{from: "00:00", to: "00:00", reason: freeze}]}
`))
	var cal calendarJSON
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/calendar?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z", g.ID), "", nil, 200, &cal)
	if !cal.Truncated || len(cal.Fires) != 2000 || cal.Timezone != "UTC" {
		t.Fatalf("%d times listed, truncated %v, want the first 2000 and truncated", len(cal.Fires), cal.Truncated)
	}
	if f := cal.Fires[0]; f.At != "2026-03-02T00:00:00Z" || !f.Skipped || f.Reason != "blackout window every day 00:00-00:00: freeze" {
		t.Errorf("first time = %+v", f)
	}
	if f, s := cal.hoursCount(); f != 0 || s != 43200 || len(cal.Hours) != 24 {
		t.Errorf("hours count %d fires and %d skipped in %d hours, want 0, 43200 and 24", f, s, len(cal.Hours))
	}
	if b := cal.Blackouts; len(b) != 1 || b[0].From != "2026-03-02T00:00:00Z" || b[0].To != "2026-03-03T00:00:00Z" {
		t.Errorf("blackouts = %+v, want the whole day", b)
	}
	c.json("GET", "/api/v1/gamedays/999/calendar", "", nil, 404, nil)
	c.json("GET", fmt.Sprintf("/api/v1/gamedays/%d/calendar?to=2020-01-01T00:00:00Z", g.ID), "", nil, 422, nil)
}
