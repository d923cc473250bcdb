package web_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
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

// What the browser still reads from a schedule's text alone, evaluated in
// the browser: the words a schedule and its blackout windows are said in,
// the wall clock of the server's times, and the editor's field-to-line
// lookup. When a schedule fires is the server's to say (the calendar
// tests in ../server and the dashboard tests).
func TestScheduleWordsAndFieldLines(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
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
	// The server writes a schedule's times in its zone: the wall clock is
	// read off the text, whatever the browser's own zone, also across a
	// change of the zone's offset.
	for iso, want := range map[string]string{
		"2026-01-07T06:00:00+01:00":   "Wed 7 Jan 06:00",
		"2026-10-25T02:30:00+02:00":   "Sun 25 Oct 02:30", // Berlin, summer time
		"2026-10-25T02:30:00+01:00":   "Sun 25 Oct 02:30", // the same clock an hour later
		"2026-03-02T23:45:00+05:45":   "Mon 2 Mar 23:45",
		"2026-03-02T00:00:00Z":        "Mon 2 Mar 00:00",
		"2026-12-31T23:59:59.5-10:00": "Thu 31 Dec 23:59",
		"not a time":                  "not a time",
	} {
		if got := evalModule[string](b, "/ui/js/cron.js", fmt.Sprintf(`m.fmtWall(%q)`, iso)); got != want {
			t.Errorf("fmtWall(%s) = %q, want %q", iso, got, want)
		}
	}
	if got := evalModule[string](b, "/ui/js/cron.js", `m.fmtZoned(Date.parse("2026-01-07T05:00:00Z"), "Europe/Berlin", {seconds: true})`); got != "Wed 7 Jan 06:00:00" {
		t.Errorf("fmtZoned in Berlin = %q", got)
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
