package scenarios

import (
	"strings"
	"testing"
)

func TestCheckCron(t *testing.T) {
	for _, ok := range []string{"0 3 * * 1", "*/5 * * * *", "0 9-17/2 * * mon-fri", "0 0 1,15 jan ?", "@hourly", "@every 30s", "@every 1m"} {
		if err := CheckCron(ok); err != nil {
			t.Errorf("CheckCron(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "5-1 * * * *",
		"*/0 * * * *", "@often", "@every soon", "@every 500ms", "CRON_TZ=UTC 0 3 * * *", "x * * * *"} {
		if err := CheckCron(bad); err == nil {
			t.Errorf("CheckCron(%q) = nil, want an error", bad)
		}
	}
}

const scheduled = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: nightly}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", requests: 5}
  schedule: SCHEDULE
`

func TestScheduleValidation(t *testing.T) {
	doc, err := Parse([]byte(strings.Replace(scheduled, "SCHEDULE", `{cron: "0 3 * * 1", timezone: Europe/Berlin, concurrency: replace, missed: runOnce}`, 1)))
	if err != nil {
		t.Fatalf("valid schedule refused: %v", err)
	}
	s := doc.Experiment.Spec.Schedule
	if !s.IsEnabled() || s.ConcurrencyPolicy() != ConcurrencyReplace || s.MissedPolicy() != MissedRunOnce {
		t.Errorf("schedule = %+v", s)
	}
	for _, tc := range []struct{ schedule, path string }{
		{`{cron: "0 3 * *"}`, "spec.schedule.cron"},
		{`{cron: "@every 1s", timezone: Mars/Olympus}`, "spec.schedule.timezone"},
		{`{cron: "@hourly", concurrency: queue}`, "spec.schedule.concurrency"},
		{`{cron: "@hourly", missed: all}`, "spec.schedule.missed"},
		{`{cron: "@hourly", when: never}`, "spec.schedule.when"},
	} {
		_, err := Parse([]byte(strings.Replace(scheduled, "SCHEDULE", tc.schedule, 1)))
		inv, ok := err.(*InvalidError)
		if !ok {
			t.Errorf("%s: err = %v, want *InvalidError", tc.schedule, err)
			continue
		}
		if got := inv.First().Path; got != tc.path {
			t.Errorf("%s: first problem at %q (%v), want %q", tc.schedule, got, inv.First(), tc.path)
		}
	}
}
