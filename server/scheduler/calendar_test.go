package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/store"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// calendar lays s out over [from, to) or fails the test.
func calendar(t *testing.T, s Spec, from, to time.Time) *Calendar {
	t.Helper()
	c, err := s.Calendar(from, to)
	if err != nil {
		t.Fatalf("Calendar(%s, %v, %v): %v", s.Cron, from, to, err)
	}
	return c
}

// counted sums a calendar's hours.
func counted(c *Calendar) (fires, skipped int) {
	for _, h := range c.Hours {
		fires += h.Fires
		skipped += h.Skipped
	}
	return fires, skipped
}

// The clock changes twice a year in Berlin: the day it springs forward
// has 23 hours and no 02:30, the day it falls back 25 hours and 02:30
// twice. The calendar has the times the cron parser gives, and a window
// over 02:00-03:00 holds for the hour that is missing not at all, and for
// both 02:00 hours when it repeats.
func TestCalendarAcrossDaylightSavingInBerlin(t *testing.T) {
	loc := berlin(t)
	window := scenarios.Blackout{From: "02:00", To: "03:00", Reason: "clock change"}
	for _, tc := range []struct {
		name           string
		day            time.Time
		cron           string
		fires, skipped int
		held           time.Duration // how long the window holds that day
	}{
		{"spring forward: 23 hourly times, none at 02:00", time.Date(2026, 3, 29, 0, 0, 0, 0, loc), "0 * * * *", 23, 0, 0},
		{"spring forward: 02:30 does not happen", time.Date(2026, 3, 29, 0, 0, 0, 0, loc), "30 2 * * *", 0, 0, 0},
		{"fall back: 25 hourly times, two at 02:00", time.Date(2026, 10, 25, 0, 0, 0, 0, loc), "0 * * * *", 25, 2, 2 * time.Hour},
		{"fall back: 02:30 happens twice", time.Date(2026, 10, 25, 0, 0, 0, 0, loc), "30 2 * * *", 2, 2, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := calendar(t, Spec{Cron: tc.cron, Timezone: "Europe/Berlin", Blackouts: []Blackout{window}}, tc.day, tc.day.AddDate(0, 0, 1))
			if got, want := len(c.Fires), tc.fires; got != want {
				t.Errorf("%d scheduled times, want %d: %v", got, want, c.Fires)
			}
			skipped := 0
			for _, f := range c.Fires {
				if f.Skipped {
					skipped++
					if f.At.Hour() != 2 || f.Reason != "blackout window every day 02:00-03:00: clock change" {
						t.Errorf("skipped %v with reason %q", f.At, f.Reason)
					}
				}
				if f.At.Location().String() != "Europe/Berlin" {
					t.Errorf("%v is not in the schedule's zone", f.At)
				}
			}
			if skipped != tc.skipped {
				t.Errorf("%d skipped, want %d", skipped, tc.skipped)
			}
			var held time.Duration
			for _, b := range c.Blackouts {
				held += b.To.Sub(b.From)
			}
			if held != tc.held || len(c.Blackouts) > 1 {
				t.Errorf("the window holds for %v in %v, want %v in one stretch", held, c.Blackouts, tc.held)
			}
			if f, s := counted(c); f != tc.fires-tc.skipped || s != tc.skipped {
				t.Errorf("hours count %d fires and %d skipped, want %d and %d", f, s, tc.fires-tc.skipped, tc.skipped)
			}
		})
	}
	// Each hour of the clock is one count; the repeated 02:00 hour is two.
	c := calendar(t, Spec{Cron: "*/30 * * * *", Timezone: "Europe/Berlin"}, time.Date(2026, 10, 25, 0, 0, 0, 0, loc), time.Date(2026, 10, 26, 0, 0, 0, 0, loc))
	if got := len(c.Hours); got != 25 {
		t.Errorf("%d hours on the day the clock falls back, want 25", got)
	}
	for _, h := range c.Hours {
		if h.Fires != 2 || h.Start.Minute() != 0 || h.Start.Second() != 0 {
			t.Errorf("hour %v counts %d, want 2 from a whole hour", h.Start, h.Fires)
		}
	}
}

// The calendar is what the scheduler does: driven over the night the
// clock falls back, the scheduler fires 02:30 twice, at the two times the
// calendar lists.
func TestCalendarAgreesWithTheSchedulerWhenTheClockFallsBack(t *testing.T) {
	loc := berlin(t)
	from := time.Date(2026, 10, 25, 0, 0, 0, 0, loc)
	spec := Spec{Cron: "30 2 * * *", Timezone: "Europe/Berlin", Concurrency: Allow}
	c := calendar(t, spec, from, from.Add(6*time.Hour))
	if len(c.Fires) != 2 {
		t.Fatalf("calendar = %v, want two times", c.Fires)
	}
	fx := newFixture(t, spec, from)
	fx.run(t, fx.scheduler(t))
	for _, want := range c.Fires {
		fx.advanceTo(t, 1, want.At)
		if f := fx.next(t).fire; !f.ScheduledFor.Equal(want.At) || f.Outcome != store.FireRan {
			t.Errorf("the scheduler fired %+v, the calendar lists %v", f, want.At)
		}
	}
}

// A window past midnight belongs to the day it starts on and is one
// stretch into the next day; the times inside it are skipped with the
// window's description, and a range that starts inside it cuts it.
func TestCalendarWindowPastMidnight(t *testing.T) {
	window := scenarios.Blackout{Days: []string{"fri"}, From: "22:00", To: "06:00", Reason: "release freeze"}
	friday := time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC)
	s := Spec{Cron: "0 * * * *", Blackouts: []Blackout{scenarios.Blackout{From: "12:00", To: "12:30", Days: []string{"mon"}}, window}}
	c := calendar(t, s, friday, friday.AddDate(0, 0, 2))
	if len(c.Blackouts) != 1 {
		t.Fatalf("stretches = %v, want one", c.Blackouts)
	}
	b := c.Blackouts[0]
	if !b.From.Equal(friday.Add(22*time.Hour)) || !b.To.Equal(friday.Add(30*time.Hour)) || b.Window != 1 {
		t.Errorf("stretch = %+v, want Fri 22:00 to Sat 06:00 of window 1", b)
	}
	var skipped []int
	for _, f := range c.Fires {
		if f.Skipped {
			skipped = append(skipped, f.At.Hour())
			if f.Reason != "blackout window fri 22:00-06:00: release freeze" {
				t.Errorf("%v skipped with reason %q", f.At, f.Reason)
			}
		}
	}
	if got, want := len(skipped), 8; got != want || skipped[0] != 22 || skipped[len(skipped)-1] != 5 {
		t.Errorf("skipped hours %v, want 22:00 to 05:00", skipped)
	}
	inside := calendar(t, s, friday.Add(27*time.Hour), friday.AddDate(0, 0, 2))
	if len(inside.Blackouts) != 1 || !inside.Blackouts[0].From.Equal(friday.Add(27*time.Hour)) || !inside.Blackouts[0].To.Equal(friday.Add(30*time.Hour)) {
		t.Errorf("from inside the window: %v, want the stretch from the range's start to 06:00", inside.Blackouts)
	}
	// Two windows that overlap are two stretches; the overlap is counted once.
	two := Spec{Cron: "*/10 * * * *", Blackouts: []Blackout{scenarios.Blackout{From: "01:00", To: "02:00"}, scenarios.Blackout{From: "01:30", To: "03:00"}}}
	c = calendar(t, two, friday, friday.Add(4*time.Hour))
	if len(c.Blackouts) != 2 || c.Blackouts[0].Window != 0 || c.Blackouts[1].Window != 1 {
		t.Errorf("stretches = %v, want one per window", c.Blackouts)
	}
	if f, s := counted(c); f != 12 || s != 12 {
		t.Errorf("counted %d fires and %d skipped, want 12 and 12 (01:00-03:00 held)", f, s)
	}
}

// "@every" times are multiples of the interval, so the calendar starts at
// the first multiple in the range (the range's start, when it is one),
// and the ones that fire are the scheduler's next fires.
func TestCalendarEveryIsAligned(t *testing.T) {
	at := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		from  time.Time
		first time.Time
	}{
		{"from between two multiples", at.Add(10 * time.Second), at.Add(30 * time.Second)},
		{"from on a multiple", at, at},
		{"from a nanosecond after a multiple", at.Add(time.Nanosecond), at.Add(30 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := calendar(t, Spec{Cron: "@every 30s", Timezone: "Asia/Kolkata"}, tc.from, tc.from.Add(5*time.Minute))
			if len(c.Fires) == 0 || !c.Fires[0].At.Equal(tc.first) {
				t.Fatalf("first time %v, want %v", c.Fires, tc.first)
			}
			for i := 1; i < len(c.Fires); i++ {
				if d := c.Fires[i].At.Sub(c.Fires[i-1].At); d != 30*time.Second {
					t.Errorf("times %d and %d are %v apart", i-1, i, d)
				}
			}
		})
	}
	s := Spec{Cron: "@every 90m", Timezone: "Europe/Berlin", Blackouts: []Blackout{scenarios.Blackout{Days: []string{"tue"}, From: "00:00", To: "12:00"}}}
	c := calendar(t, s, at, at.AddDate(0, 0, 2))
	var firing []time.Time
	for _, f := range c.Fires {
		if !f.Skipped {
			firing = append(firing, f.At)
		}
	}
	next, err := NextFires(s, at.Add(-time.Nanosecond), len(firing))
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != len(firing) {
		t.Fatalf("%d next fires, %d on the calendar", len(next), len(firing))
	}
	for i := range next {
		if !next[i].Equal(firing[i]) {
			t.Errorf("time %d: the calendar has %v, NextFires %v", i, firing[i], next[i])
		}
	}
}

func TestCalendarBoundsItsRangeAndItsList(t *testing.T) {
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := Spec{Cron: "@hourly"}
	for _, tc := range []struct {
		name string
		to   time.Time
	}{
		{"to before from", from.Add(-time.Hour)},
		{"an empty range", from},
		{"longer than 31 days", from.Add(MaxCalendarRange + time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Calendar(from, tc.to)
			var re *RangeError
			if !errors.As(err, &re) || re.FieldPath() != "to" {
				t.Errorf("Calendar = %v, want a RangeError naming to", err)
			}
		})
	}
	if c := calendar(t, s, from, from.Add(MaxCalendarRange)); len(c.Fires) != 31*24 || c.Truncated {
		t.Errorf("31 days of @hourly: %d times (truncated %v), want %d", len(c.Fires), c.Truncated, 31*24)
	}
	// A week of @every 1s is 604,800 times: the list stops at the cap,
	// the hours count them all.
	c := calendar(t, Spec{Cron: "@every 1s", Blackouts: []Blackout{scenarios.Blackout{Days: []string{"mon"}, From: "00:00", To: "01:00"}}}, from, from.AddDate(0, 0, 7))
	if len(c.Fires) != MaxCalendarFires || !c.Truncated {
		t.Errorf("%d times listed (truncated %v), want %d and truncated", len(c.Fires), c.Truncated, MaxCalendarFires)
	}
	if f, s := counted(c); f != 7*86400-3600 || s != 3600 || len(c.Hours) != 7*24 {
		t.Errorf("hours count %d fires and %d skipped in %d hours, want %d, 3600 and %d", f, s, len(c.Hours), 7*86400-3600, 7*24)
	}
	if _, err := (Spec{Cron: "61 * * * *"}).Calendar(from, from.Add(time.Hour)); err == nil {
		t.Error("a bad cron was laid out")
	}
}
