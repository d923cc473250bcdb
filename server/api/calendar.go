package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
)

// Calendar is a schedule laid out over a range of time, as
// Config.Calendar returns it. Every time is in the schedule's zone.
type Calendar struct {
	From, To time.Time
	// Fires are the scheduled times in the range, in order, up to a cap;
	// Truncated says there were more.
	Fires     []CalendarFire
	Truncated bool
	// Hours count every scheduled time of the range by hour of the zone's
	// clock; an hour without any is left out.
	Hours []CalendarHour
	// Blackouts are the stretches of the range during which a blackout
	// window holds, cut to the range.
	Blackouts []CalendarBlackout
}

// CalendarFire is one scheduled time; Skipped says a blackout window
// holds it, and Reason names the window.
type CalendarFire struct {
	At      time.Time
	Skipped bool
	Reason  string
}

// CalendarHour counts the scheduled times of one hour of the zone's
// clock that fire and that a blackout window skips.
type CalendarHour struct {
	Start          time.Time
	Fires, Skipped int
}

// CalendarBlackout is a stretch of time during which the Window-th
// blackout window of the schedule holds.
type CalendarBlackout struct {
	From, To time.Time
	Window   int
}

// calendarJSON is GET /experiments/{id}/calendar and GET
// /gamedays/{id}/calendar.
type calendarJSON struct {
	Timezone string `json:"timezone"`
	// Enabled is false when the document has no schedule or its schedule
	// is turned off: then nothing is laid out.
	Enabled   bool                   `json:"enabled"`
	From      time.Time              `json:"from"`
	To        time.Time              `json:"to"`
	Fires     []calendarFireJSON     `json:"fires"`
	Truncated bool                   `json:"truncated"`
	Hours     []calendarHourJSON     `json:"hours"`
	Blackouts []calendarBlackoutJSON `json:"blackouts"`
}

type calendarFireJSON struct {
	At      time.Time `json:"at"`
	Skipped bool      `json:"skipped"`
	Reason  string    `json:"reason,omitempty"`
}

type calendarHourJSON struct {
	From    time.Time `json:"from"`
	Fires   int       `json:"fires"`
	Skipped int       `json:"skipped"`
}

type calendarBlackoutJSON struct {
	From   time.Time    `json:"from"`
	To     time.Time    `json:"to"`
	Window blackoutJSON `json:"window"`
}

// calendarWeek is the range a calendar covers when the request names no end.
const calendarWeek = 7 * 24 * time.Hour

// calendarRange reads ?from= and ?to= (RFC 3339); from defaults to now
// and to to a week after from.
func calendarRange(c *gin.Context, now time.Time) (from, to time.Time, err error) {
	from, to = now, time.Time{}
	for _, q := range []struct {
		name string
		into *time.Time
	}{{"from", &from}, {"to", &to}} {
		s, ok := c.GetQuery(q.name)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return from, to, &Error{Status: http.StatusUnprocessableEntity, Field: q.name,
				Message: q.name + ": must be an RFC 3339 time such as 2026-01-05T09:00:00Z, not " + strconv.Quote(s)}
		}
		*q.into = t
	}
	if to.IsZero() {
		to = from.Add(calendarWeek)
	}
	return from, to, nil
}

// experimentCalendar lays an experiment's schedule out over a range.
func (h *handlers) experimentCalendar(c *gin.Context) {
	_, e, err := byID(c, h.cfg.Experiments.GetExperiment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	h.writeCalendar(c, experimentSchedule(e))
}

// gameDayCalendar lays a game day's schedule out over a range.
func (h *handlers) gameDayCalendar(c *gin.Context) {
	_, g, err := byID(c, h.cfg.GameDayStore.GetGameDay)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	h.writeCalendar(c, gameDaySchedule(g))
}

// writeCalendar answers with schedule s (nil for none) laid out over the
// request's range.
func (h *handlers) writeCalendar(c *gin.Context, s *scenarios.Schedule) {
	from, to, err := calendarRange(c, time.Now())
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	cal, err := h.cfg.Calendar(s, from, to)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	out := calendarJSON{Timezone: "UTC", Enabled: s.IsEnabled(), From: cal.From, To: cal.To, Truncated: cal.Truncated,
		Fires: make([]calendarFireJSON, len(cal.Fires)), Hours: make([]calendarHourJSON, len(cal.Hours)),
		Blackouts: make([]calendarBlackoutJSON, 0, len(cal.Blackouts))}
	if s != nil && s.Timezone != "" {
		out.Timezone = s.Timezone
	}
	for i, f := range cal.Fires {
		out.Fires[i] = calendarFireJSON(f)
	}
	for i, hr := range cal.Hours {
		out.Hours[i] = calendarHourJSON{From: hr.Start, Fires: hr.Fires, Skipped: hr.Skipped}
	}
	for _, b := range cal.Blackouts {
		if s == nil || b.Window < 0 || b.Window >= len(s.Blackouts) {
			continue
		}
		out.Blackouts = append(out.Blackouts, calendarBlackoutJSON{From: b.From, To: b.To, Window: toBlackoutJSON(s.Blackouts[b.Window])})
	}
	c.JSON(http.StatusOK, out)
}
