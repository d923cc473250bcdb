package scheduler

import (
	"slices"
	"time"
)

// MaxCalendarRange is the longest range Calendar lays a schedule out over.
const MaxCalendarRange = 31 * 24 * time.Hour

// MaxCalendarFires is the most scheduled times a Calendar lists one by
// one; its hours still count every scheduled time of the range.
const MaxCalendarFires = 2000

// Calendar is a schedule laid out over the range [From, To): every time
// it is scheduled for, whether a blackout window skips that time, and
// when the windows hold. Every time is in the schedule's zone, so its
// wall clock can be read off it.
type Calendar struct {
	// Location is the schedule's zone.
	Location *time.Location
	From, To time.Time
	// Fires are the scheduled times in the range, in order: the first
	// MaxCalendarFires of them. Truncated says there were more.
	Fires     []CalendarFire
	Truncated bool
	// Hours count the scheduled times of the whole range by hour of the
	// zone's wall clock, in order; an hour without any is left out.
	Hours []HourCount
	// Blackouts are the stretches of the range during which a blackout
	// window holds, ordered by start, each cut to the range. A window
	// that holds without a break (a weekend, say) is one stretch; two
	// windows that overlap are two.
	Blackouts []BlackoutSpan
}

// CalendarFire is one scheduled time.
type CalendarFire struct {
	At time.Time
	// Skipped says a blackout window holds At: the scheduler records the
	// fire skipped, and Reason names the window as the fire's reason.
	Skipped bool
	Reason  string
}

// HourCount is the number of scheduled times in one hour of the zone's
// wall clock.
type HourCount struct {
	// Start is the hour's first instant (HH:00 on the zone's clock); an
	// hour the range cuts still starts at HH:00.
	Start time.Time
	// Fires are the times that fire; Skipped those a blackout window
	// skips.
	Fires, Skipped int
}

// BlackoutSpan is a stretch of time during which one blackout window
// holds.
type BlackoutSpan struct {
	From, To time.Time
	// Window is the window's index in Spec.Blackouts.
	Window int
}

// RangeError is a range Calendar refuses, naming the bound at fault.
type RangeError struct {
	// Field is "from" or "to".
	Field  string
	Reason string
}

func (e *RangeError) Error() string { return e.Field + ": " + e.Reason }

// FieldPath names the bound at fault.
func (e *RangeError) FieldPath() string { return e.Field }

// CheckRange reports whether Calendar lays out [from, to): to must come
// after from, and at most MaxCalendarRange after it. A refusal is a
// *RangeError.
func CheckRange(from, to time.Time) error {
	switch {
	case !to.After(from):
		return &RangeError{Field: "to", Reason: "must be after from (" + from.Format(time.RFC3339) + ")"}
	case to.Sub(from) > MaxCalendarRange:
		return &RangeError{Field: "to", Reason: "must be at most 31 days after from (" + from.Format(time.RFC3339) + ")"}
	}
	return nil
}

// Calendar lays the schedule s out over [from, to), exactly as the
// scheduler reads it: the same scheduled times, skipped by the same
// blackout windows. The windows' stretches are found by reading each
// window on the zone's wall clock minute by minute, the resolution
// windows are written in, so a shaded stretch holds a time if and only
// if the time is skipped. It refuses a range CheckRange refuses.
func (s Spec) Calendar(from, to time.Time) (*Calendar, error) {
	if err := CheckRange(from, to); err != nil {
		return nil, err
	}
	p, err := parsePlan(s, from)
	if err != nil {
		return nil, err
	}
	loc := p.loc
	c := &Calendar{Location: loc, From: from.In(loc), To: to.In(loc), Fires: []CalendarFire{}, Hours: []HourCount{}, Blackouts: []BlackoutSpan{}}
	for i, b := range p.blackouts {
		c.Blackouts = append(c.Blackouts, spans(b, i, from, to, loc)...)
	}
	slices.SortStableFunc(c.Blackouts, func(a, b BlackoutSpan) int { return a.From.Compare(b.From) })
	held := merged(c.Blackouts)

	var hourEnd time.Time
	k := 0 // the first stretch of held that ends after t
	for t := p.atOrAfter(from); !t.IsZero() && t.Before(to); t = p.next(t) {
		for k < len(held) && !held[k].To.After(t) {
			k++
		}
		skipped := k < len(held) && !t.Before(held[k].From)
		if len(c.Fires) < MaxCalendarFires {
			f := CalendarFire{At: t.In(loc)}
			if b, ok := p.blackout(t); ok {
				f.Skipped, f.Reason = true, b.Describe()
			}
			skipped = f.Skipped
			c.Fires = append(c.Fires, f)
		} else {
			c.Truncated = true
		}
		if !t.Before(hourEnd) {
			var start time.Time
			start, hourEnd = wallHour(t, loc)
			c.Hours = append(c.Hours, HourCount{Start: start})
		}
		h := &c.Hours[len(c.Hours)-1]
		if skipped {
			h.Skipped++
		} else {
			h.Fires++
		}
	}
	return c, nil
}

// atOrAfter returns the first scheduled time at or after t.
func (p *plan) atOrAfter(t time.Time) time.Time {
	// next is strictly after its argument, to the second; step back a
	// second and forward past any time before t.
	n := p.next(t.Add(-time.Second))
	for !n.IsZero() && n.Before(t) {
		n = p.next(n)
	}
	return n
}

// spans returns the stretches of [from, to) during which window b (the
// index-th window) holds. A window is read on the zone's wall clock to
// the minute, so the walk visits every minute of the clock once.
func spans(b Blackout, index int, from, to time.Time, loc *time.Location) []BlackoutSpan {
	var (
		out    []BlackoutSpan
		opened time.Time
		inside bool
	)
	for t := from; t.Before(to); t = nextMinute(t, loc) {
		holds := b.Contains(t, loc)
		switch {
		case holds && !inside:
			opened, inside = t, true
		case !holds && inside:
			out = append(out, BlackoutSpan{From: opened.In(loc), To: t.In(loc), Window: index})
			inside = false
		}
	}
	if inside {
		out = append(out, BlackoutSpan{From: opened.In(loc), To: to.In(loc), Window: index})
	}
	return out
}

// nextMinute returns the next instant after t at which the zone's clock
// shows a whole minute.
func nextMinute(t time.Time, loc *time.Location) time.Time {
	w := t.In(loc)
	return t.Add(time.Minute - time.Duration(w.Second())*time.Second - time.Duration(w.Nanosecond()))
}

// wallHour returns the start of the hour of the zone's clock that holds
// t, and the instant the clock next reaches a new hour (an hour on, or
// earlier when the zone's offset changes first).
func wallHour(t time.Time, loc *time.Location) (start, end time.Time) {
	w := t.In(loc)
	start = t.Add(-time.Duration(w.Minute())*time.Minute - time.Duration(w.Second())*time.Second - time.Duration(w.Nanosecond())).In(loc)
	end = start.Add(time.Hour)
	if _, zoneEnd := w.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(end) {
		end = zoneEnd
	}
	return start, end
}

// merged returns the union of stretches ordered by start: overlapping or
// touching stretches become one.
func merged(ss []BlackoutSpan) []BlackoutSpan {
	var out []BlackoutSpan
	for _, s := range ss {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			if s.To.After(out[n-1].To) {
				out[n-1].To = s.To
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
