package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// scheduled is an experiment on the built-in httpbin with a schedule.
func scheduled(name, schedule string) string {
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
    connections: 1
    qps: 0
    requests: 20
  hypothesis:
  - {metric: error_ratio, op: "==", value: 0}
  schedule:
%s`, name, schedule)
}

type scheduleJSON struct {
	Cron      string   `json:"cron"`
	Timezone  string   `json:"timezone"`
	Enabled   bool     `json:"enabled"`
	NextFires []string `json:"nextFires"`
}

type storedJSON struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	Schedule *scheduleJSON `json:"schedule"`
}

// A scheduled experiment's page: the schedule in words, the server's next
// fires, the blackout windows, the week's calendar, and the fires as they
// happen, each linked to its run.
func TestDashboardExperimentSchedule(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)

	// A blackout window on the day after tomorrow (UTC), so it never holds now.
	day := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3])
	var every storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", scheduled("every-2s", fmt.Sprintf(`    cron: "@every 2s"
    blackouts:
    - {days: [%s], from: "01:00", to: "03:30", reason: "backups"}
`, day)), &every); code != http.StatusCreated || every.Schedule == nil {
		t.Fatalf("create the scheduled experiment: %d %+v", code, every)
	}
	var sixHourly storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", scheduled("six-hourly", `    cron: "0 */6 * * *"
    timezone: Europe/Berlin
    enabled: false
`), &sixHourly); code != http.StatusCreated {
		t.Fatalf("create the six-hourly experiment: %d", code)
	}

	b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, every.ID)))
	b.waitJS("the schedule", `document.getElementById("schedule-words")?.textContent === "Every 2 seconds"`, 10*time.Second)
	var fresh storedJSON
	getJSON(t, fmt.Sprintf("%s/api/v1/experiments/%d", base, every.ID), &fresh)
	shown := evalJS[[]string](b, `[...document.querySelectorAll("#next-fires li")].map(li => li.dataset.time)`)
	if len(shown) == 0 || len(shown) != len(every.Schedule.NextFires) {
		t.Errorf("next fires shown %v, the API lists %v", shown, every.Schedule.NextFires)
	}
	if got := b.count("#blackouts li"); got != 1 {
		t.Errorf("%d blackout windows listed, want 1", got)
	}
	if got := evalJS[string](b, `document.querySelector("#blackouts li")?.textContent ?? ""`); !strings.Contains(got, "01:00\u201303:30") || !strings.Contains(got, "backups") {
		t.Errorf("blackout window reads %q", got)
	}
	// Every 2 s is too dense for dots: the calendar counts fires per hour.
	if got := b.count("#fire-calendar svg rect.fire-cell"); got < 24*6 {
		t.Errorf("%d hour cells with fires, want one per hour outside the blackout (at least %d)", got, 24*6)
	}
	if got := b.count("#fire-calendar svg rect.blackout:not(.legend)"); got != 1 {
		t.Errorf("%d shaded blackout spans, want 1", got)
	}
	b.checkNames()

	// The fires as the scheduler makes them, each linked to its run.
	var runID string
	wait.For(t, 20*time.Second, "a fire that ran, listed", func() bool {
		b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d?at=" + Date.now()`, every.ID)))
		b.waitJS("the page again", `!!document.getElementById("schedule-words") && !document.querySelector("main .page[aria-busy]")`, 10*time.Second)
		runID = evalJS[string](b, `document.querySelector('#fires-table tr[data-outcome="ran"] a.fire-run')?.getAttribute("href") ?? ""`)
		return runID != ""
	})
	b.screenshot("experiment-schedule.png")
	b.do(chromedp.Click(chromedp.CSS(`#fires-table tr[data-outcome="ran"] a.fire-run`)))
	b.waitJS("the fired run's page", fmt.Sprintf(`location.hash === %q && /^Run #\d+$/.test(document.querySelector("h1")?.textContent)`, runID), 10*time.Second)

	// A known cron over a week: 0 */6 * * * fires 28 times; paused, none.
	b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d"`, sixHourly.ID)))
	b.waitJS("the paused schedule", `document.getElementById("schedule-state")?.textContent === "paused"`, 10*time.Second)
	if got := evalJS[string](b, `document.getElementById("schedule-words").textContent`); got != "Every 6 hours (at 00:00, 06:00, 12:00 and 18:00), every day" {
		t.Errorf("six-hourly reads %q", got)
	}
	if got := b.count("#fire-calendar svg circle.fire:not(.legend)"); got != 0 {
		t.Errorf("%d fires drawn for a paused schedule", got)
	}
	if code := send(t, http.MethodPut, fmt.Sprintf("%s/api/v1/experiments/%d", base, sixHourly.ID), "application/yaml", scheduled("six-hourly", `    cron: "0 */6 * * *"
    timezone: Europe/Berlin
`), &sixHourly); code != http.StatusOK {
		t.Fatalf("enable the six-hourly schedule: %d", code)
	}
	b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d?at=" + Date.now()`, sixHourly.ID)))
	b.waitJS("the enabled schedule", `document.getElementById("schedule-state")?.textContent === "enabled"`, 10*time.Second)
	if got := b.count("#fire-calendar svg circle.fire:not(.legend)"); got != 28 {
		t.Errorf("%d fire dots over 7 days for 0 */6 * * *, want 28", got)
	}
	// The server's next fires are among the dots, drawn as "next".
	for _, iso := range sixHourly.Schedule.NextFires {
		want := mustTime(t, iso).UTC().Format("2006-01-02T15:04:05.000Z")
		if !evalJS[bool](b, fmt.Sprintf(`!!document.querySelector('#fire-calendar circle.fire.next[data-time="%s"]')`, want)) {
			t.Errorf("the server's next fire %s is not drawn as next on the calendar", iso)
		}
	}

	// The list says when each runs next.
	b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
	b.waitJS("the list", `document.querySelectorAll("#experiments-table tbody tr").length === 2`, 10*time.Second)
	if got := evalJS[string](b, `document.querySelector('#experiments-table tr[data-name="six-hourly"] .next-col').textContent`); !strings.HasPrefix(got, "in ") {
		t.Errorf("six-hourly's next run reads %q", got)
	}
	b.checkConsole()
}

func mustTime(t *testing.T, iso string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, iso)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
