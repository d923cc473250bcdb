package scenarios

import (
	"strings"
	"testing"
	"time"
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
		{`{cron: "@hourly", blackouts: [{days: [mon, funday], from: "09:00", to: "17:00"}]}`, "spec.schedule.blackouts[0].days[1]"},
		{`{cron: "@hourly", blackouts: [{from: "9:00", to: "17:00"}]}`, "spec.schedule.blackouts[0].from"},
		{`{cron: "@hourly", blackouts: [{from: "09:00", to: "24:00"}]}`, "spec.schedule.blackouts[0].to"},
		{`{cron: "@hourly", blackouts: [{from: "09:00"}]}`, "spec.schedule.blackouts[0].to"},
		{`{cron: "@hourly", blackouts: [` + strings.Repeat(`{from: "09:00", to: "10:00"},`, MaxBlackouts+1) + `]}`, "spec.schedule.blackouts"},
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

func TestBlackoutWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-11-27 is a Friday.
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, berlin) }
	for _, tc := range []struct {
		name string
		b    Blackout
		t    time.Time
		want bool
	}{
		{"office hours inside", Blackout{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}, at(27, 9, 0), true},
		{"office hours end is open", Blackout{Days: []string{"fri"}, From: "09:00", To: "17:00"}, at(27, 17, 0), false},
		{"other day", Blackout{Days: []string{"Saturday"}, From: "09:00", To: "17:00"}, at(27, 10, 0), false},
		{"full day names, any case", Blackout{Days: []string{"FRIDAY"}, From: "09:00", To: "17:00"}, at(27, 10, 0), true},
		{"every day", Blackout{From: "12:00", To: "13:00"}, at(29, 12, 30), true},
		{"past midnight, evening", Blackout{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at(27, 23, 0), true},
		{"past midnight, next morning belongs to friday", Blackout{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at(28, 5, 59), true},
		{"past midnight, thursday night is not friday's", Blackout{Days: []string{"fri"}, From: "22:00", To: "06:00"}, at(27, 5, 0), false},
		{"whole day", Blackout{Days: []string{"fri"}, From: "00:00", To: "00:00"}, at(27, 23, 59), true},
		{"whole day ends at midnight", Blackout{Days: []string{"fri"}, From: "00:00", To: "00:00"}, at(28, 0, 0), false},
	} {
		if got := tc.b.Contains(tc.t, berlin); got != tc.want {
			t.Errorf("%s: %s contains %s = %v, want %v", tc.name, tc.b, tc.t, got, tc.want)
		}
	}

	// The window is read in the schedule's zone: 09:30 in Berlin is 08:30 UTC.
	s := &Schedule{Cron: "@hourly", Timezone: "Europe/Berlin", Blackouts: []Blackout{{Days: []string{"fri"}, From: "09:00", To: "10:00", Reason: "release freeze"}}}
	if b, ok := s.BlackoutAt(time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)); !ok || b.Reason != "release freeze" {
		t.Errorf("BlackoutAt 08:30 UTC = %v, %v; want the Friday window", b, ok)
	}
	if _, ok := s.BlackoutAt(time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)); ok {
		t.Error("BlackoutAt 09:30 UTC (10:30 Berlin) holds, want free")
	}
	if _, ok := (*Schedule)(nil).BlackoutAt(time.Now()); ok {
		t.Error("a nil schedule has a blackout")
	}
	if got := s.Blackouts[0].String(); got != "fri 09:00-10:00" {
		t.Errorf("String = %q", got)
	}
	if got := s.Blackouts[0].Describe(); got != "blackout window fri 09:00-10:00: release freeze" {
		t.Errorf("Describe = %q", got)
	}
}
