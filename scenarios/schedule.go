package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule starts runs of an experiment on a timetable (spec.schedule).
type Schedule struct {
	// Cron is a five-field cron expression ("0 3 * * 1"), a descriptor
	// ("@hourly", "@daily", …) or a fixed interval ("@every 30s").
	Cron string `json:"cron"`
	// Timezone is the IANA zone the cron expression is read in; empty
	// means UTC.
	Timezone string `json:"timezone,omitempty"`
	// Enabled turns the schedule off when false; unset means on.
	Enabled *bool `json:"enabled,omitempty"`
	// Concurrency says what a fire does while the previous scheduled run
	// is still queued or running: forbid (the default) skips it, allow
	// starts anyway, replace stops the previous run first.
	Concurrency string `json:"concurrency,omitempty"`
	// Missed says what start-up does about fires missed while the server
	// was down: skip (the default) nothing, runOnce fires once.
	Missed string `json:"missed,omitempty"`
	// Blackouts are weekly windows during which nothing fires (and a
	// running game day of this schedule halts).
	Blackouts []Blackout `json:"blackouts,omitempty"`
}

// Schedule concurrency policies and missed-fire policies.
const (
	ConcurrencyForbid  = "forbid"
	ConcurrencyAllow   = "allow"
	ConcurrencyReplace = "replace"
	MissedSkip         = "skip"
	MissedRunOnce      = "runOnce"
)

// IsEnabled reports whether the schedule is set and on.
func (s *Schedule) IsEnabled() bool { return s != nil && (s.Enabled == nil || *s.Enabled) }

// ConcurrencyPolicy returns Concurrency with its default applied.
func (s *Schedule) ConcurrencyPolicy() string {
	if s.Concurrency == "" {
		return ConcurrencyForbid
	}
	return s.Concurrency
}

// MissedPolicy returns Missed with its default applied.
func (s *Schedule) MissedPolicy() string {
	if s.Missed == "" {
		return MissedSkip
	}
	return s.Missed
}

// Blackout is a weekly window in the schedule's time zone during which
// nothing fires and a running game day the window belongs to halts: on
// Days (mon … sun; empty means every day) from From to To ("HH:MM",
// 24-hour). A To at or before From runs past midnight into the next day,
// and "00:00"–"00:00" is the whole day.
type Blackout struct {
	Days []string `json:"days,omitempty"`
	From string   `json:"from"`
	To   string   `json:"to"`
	// Reason is shown when the window refuses or halts something.
	Reason string `json:"reason,omitempty"`
}

// weekdays are the names Blackout.Days accepts, indexed by time.Weekday.
var weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// clock parses "HH:MM" into minutes after midnight.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh > 23 || mm > 59 || hh < 0 || mm < 0 {
		return 0, fmt.Errorf("must be a time of day as HH:MM (00:00-23:59), not %q", s)
	}
	return hh*60 + mm, nil
}

// weekday parses a day name (three letters or the full English name, any case).
func weekday(s string) (time.Weekday, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for i, d := range weekdays {
		if l == d || l == strings.ToLower(time.Weekday(i).String()) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("must be a day of the week (mon, tue, wed, thu, fri, sat, sun), not %q", s)
}

// onDay reports whether the window starts on day d.
func (b Blackout) onDay(d time.Weekday) bool {
	if len(b.Days) == 0 {
		return true
	}
	for _, s := range b.Days {
		if w, err := weekday(s); err == nil && w == d {
			return true
		}
	}
	return false
}

// Contains reports whether t, read in loc, falls inside the window. A
// window that runs past midnight belongs to the day it starts on.
func (b Blackout) Contains(t time.Time, loc *time.Location) bool {
	from, err1 := clock(b.From)
	to, err2 := clock(b.To)
	if err1 != nil || err2 != nil {
		return false
	}
	t = t.In(loc)
	now := t.Hour()*60 + t.Minute()
	if to > from {
		return b.onDay(t.Weekday()) && now >= from && now < to
	}
	// Past midnight (or the whole day when to == from).
	if b.onDay(t.Weekday()) && now >= from {
		return true
	}
	return b.onDay((t.Weekday()+6)%7) && now < to
}

// String renders the window as "mon,fri 22:00-06:00".
func (b Blackout) String() string {
	days := "every day"
	if len(b.Days) > 0 {
		days = strings.Join(b.Days, ",")
	}
	return days + " " + b.From + "-" + b.To
}

// Describe names the window for a refusal or a halt: "blackout window
// fri 22:00-06:00: release freeze".
func (b Blackout) Describe() string {
	if b.Reason == "" {
		return "blackout window " + b.String()
	}
	return "blackout window " + b.String() + ": " + b.Reason
}

// BlackoutAt returns the first blackout window that holds t, in the
// schedule's time zone; false when none does (or the schedule is nil).
func (s *Schedule) BlackoutAt(t time.Time) (Blackout, bool) {
	if s == nil {
		return Blackout{}, false
	}
	loc, err := s.Location()
	if err != nil {
		return Blackout{}, false
	}
	for _, b := range s.Blackouts {
		if b.Contains(t, loc) {
			return b, true
		}
	}
	return Blackout{}, false
}
