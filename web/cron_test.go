package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/server"
)

// evalModule runs js in the dashboard's page with the module at path
// imported as m, and decodes what js returns (a promise is awaited).
func evalModule[T any](b *browser, path, js string) T {
	b.t.Helper()
	return evalJSAwait[T](b, fmt.Sprintf(`import(%q).then((m) => %s)`, path, js))
}

func evalJSAwait[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// The calendar computes fires in the browser from the cron text. For each
// schedule (zones with half- and quarter-hour offsets, the southern
// hemisphere, day-of-month or day-of-week, intervals), the browser's fires
// must be the scheduler's: the next fires the API lists.
func TestCalendarFiresAgreeWithTheScheduler(t *testing.T) {
	needChromium(t)
	base := startServer(t, server.Config{})
	b := newBrowser(t, base)
	b.do(chromedp.Navigate(base + "/ui/#/safety"))
	b.waitJS("the dashboard", `!!document.getElementById("lever-state")`, 10*time.Second)

	for i, c := range []struct{ cron, tz string }{
		{"0 */6 * * *", "Europe/Berlin"},
		{"30 2 * * *", "America/New_York"},
		{"15 9 * * 1-5", "Asia/Kolkata"},      // +05:30
		{"@hourly", "Asia/Kathmandu"},         // +05:45
		{"45 23 * * sun", "Pacific/Auckland"}, // southern summer time
		{"0 0 * * *", "Australia/Lord_Howe"},  // a half-hour DST shift
		{"*/20 * * * *", ""},
		{"@every 90m", ""},
		{"@every 7m", "Europe/Berlin"},
		{"0 9 1,15 * *", "America/Sao_Paulo"},
		{"0 12 13 * fri", "Europe/London"}, // day of month or day of week
		{"@weekly", "America/Los_Angeles"},
	} {
		tz := ""
		if c.tz != "" {
			tz = "\n    timezone: " + c.tz
		}
		var e storedJSON
		if code := postYAML(t, base+"/api/v1/experiments", scheduled(fmt.Sprintf("cron-%d", i), fmt.Sprintf("    cron: %q%s\n    enabled: true\n", c.cron, tz)), &e); code != http.StatusCreated || e.Schedule == nil {
			t.Fatalf("%s in %q: store: %d", c.cron, c.tz, code)
		}
		want := e.Schedule.NextFires
		if len(want) < 2 {
			t.Fatalf("%s in %q: the API lists %v", c.cron, c.tz, want)
		}
		from := mustTime(t, want[0]).Add(-time.Millisecond).UnixMilli()
		to := mustTime(t, want[len(want)-1]).Add(time.Minute).UnixMilli()
		zone := c.tz
		if zone == "" {
			zone = "UTC"
		}
		got := evalModule[[]string](b, "/ui/js/cron.js", fmt.Sprintf(`m.firesBetween(%q, %q, %d, %d).times.map((t) => new Date(t).toISOString())`, c.cron, zone, from, to))
		var wantUTC []string
		for _, w := range want {
			wantUTC = append(wantUTC, mustTime(t, w).UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		if len(got) > len(wantUTC) {
			got = got[:len(wantUTC)]
		}
		if strings.Join(got, " ") != strings.Join(wantUTC, " ") {
			t.Errorf("%s in %q: the browser computes %v, the scheduler %v", c.cron, zone, got, wantUTC)
		}
	}
	b.checkConsole()
}

// The words a schedule is said in, blackout windows, and the editor's
// field-to-line lookup, evaluated in the browser.
func TestScheduleWordsAndFieldLines(t *testing.T) {
	needChromium(t)
	base := startServer(t, server.Config{})
	b := newBrowser(t, base)
	b.do(chromedp.Navigate(base + "/ui/#/safety"))
	b.waitJS("the dashboard", `!!document.getElementById("lever-state")`, 10*time.Second)

	for _, c := range []struct{ cron, want string }{
		{"0 */6 * * *", "every 6 hours (at 00:00, 06:00, 12:00 and 18:00), every day"},
		{"@every 2s", "every 2 seconds"},
		{"@every 1h30m", "every 1 hour 30 minutes"},
		{"*/5 * * * *", "every 5 minutes"},
		{"0 3 * * 1", "at 03:00, on Monday"},
		{"30 9 * * 1-5", "at 09:30, on Monday to Friday"},
		{"*/10 9-17 * * mon-fri", "every 10 minutes from 09:00 to 17:59, on Monday to Friday"},
		{"@daily", "at 00:00, every day"},
		{"@hourly", "every hour, on the hour"},
		{"0 0 1,15 * *", "at 00:00, on the 1st and 15th of the month"},
		{"0 12 * 1,7 *", "at 12:00, every day in January and July"},
		{"not a cron", "not a cron"},
	} {
		if got := evalModule[string](b, "/ui/js/cron.js", fmt.Sprintf(`m.describeCron(%q)`, c.cron)); got != c.want {
			t.Errorf("describeCron(%q) = %q, want %q", c.cron, got, c.want)
		}
	}
	for _, c := range []struct {
		window map[string]any
		want   string
	}{
		{map[string]any{"days": []string{"sat", "sun"}, "from": "22:00", "to": "06:00"}, "Saturday and Sunday, 22:00\u201306:00 (into the next day)"},
		{map[string]any{"from": "00:00", "to": "00:00"}, "every day, all day"},
		{map[string]any{"days": []string{"Monday", "fri"}, "from": "09:00", "to": "17:00"}, "Monday and Friday, 09:00\u201317:00"},
	} {
		w, _ := json.Marshal(c.window)
		if got := evalModule[string](b, "/ui/js/cron.js", fmt.Sprintf(`m.describeBlackout(%s)`, w)); got != c.want {
			t.Errorf("describeBlackout(%s) = %q, want %q", w, got, c.want)
		}
	}
	// A window past midnight belongs to the day it starts on: Friday
	// 22:00-06:00 holds on Saturday 05:59 (UTC), not on Saturday 06:00.
	for at, want := range map[string]bool{"2025-01-10T21:59:00Z": false, "2025-01-10T22:00:00Z": true, "2025-01-11T05:59:00Z": true, "2025-01-11T06:00:00Z": false} {
		got := evalModule[bool](b, "/ui/js/cron.js", fmt.Sprintf(`!!m.blackoutAt([{days: ["fri"], from: "22:00", to: "06:00"}], Date.parse(%q), "UTC")`, at))
		if got != want {
			t.Errorf("the Friday night window at %s: holds %v, want %v", at, got, want)
		}
	}

	doc := `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata:
  name: x
spec:
  steadyState: steady
  steps:
  - experiment: a
  - wait: 1s
  - parallel:
    - experiment: b
    - action: {at: 1s, container: httpbin, action: pause}
  - steadyState: {}
  schedule:
    cron: "0 */6 * * *"
    blackouts:
    - days: [mon]
      from: "01:00"
      to: "02:00"
`
	for path, want := range map[string]int{
		"metadata.name":                        4,
		"spec.steadyState":                     6,
		"spec.steps[0].experiment":             8,
		"spec.steps[1].wait":                   9,
		"spec.steps[2].parallel[0].experiment": 11,
		"spec.steps[2].parallel[1].action.at":  12, // inside a flow mapping: its line
		"spec.schedule.cron":                   15,
		"spec.schedule.blackouts[0].to":        19,
		"spec.steps[9]":                        7, // no such step: the steps
		"spec.nothing":                         5, // no such field: spec
	} {
		if got := evalModule[int](b, "/ui/js/yamlpath.js", fmt.Sprintf(`m.yamlPathLine(%q, %q)`, doc, path)); got != want {
			t.Errorf("yamlPathLine(%s) = %d, want %d", path, got, want)
		}
	}
	b.checkConsole()
}
