package client

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Schedule is a document's spec.schedule as the server reads it now.
type Schedule struct {
	// Cron is five cron fields, an @-descriptor or "@every <duration>".
	Cron string `json:"cron"`
	// Timezone is an IANA zone; empty means UTC.
	Timezone string `json:"timezone"`
	Enabled  bool   `json:"enabled"`
	// Concurrency is forbid, allow or replace; Missed is skip or runOnce.
	Concurrency string `json:"concurrency"`
	Missed      string `json:"missed"`
	// NextFires are the next three times that will fire, passing over
	// those inside a blackout window (none when disabled).
	NextFires []time.Time `json:"nextFires"`
	// Blackouts are the weekly windows during which nothing fires.
	Blackouts []Blackout `json:"blackouts"`
	// BlackoutNow is the window that held when the document was read;
	// nil when none did.
	BlackoutNow *Blackout `json:"blackoutNow,omitempty"`
}

// Blackout is a weekly window, in the schedule's zone, during which
// nothing fires (and a running game day of the schedule halts).
type Blackout struct {
	// Days are mon … sun; empty means every day.
	Days []string `json:"days"`
	// From and To are HH:MM; a To at or before From runs past midnight.
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// Fire is one scheduled time of a schedule and what became of it.
type Fire struct {
	// ScheduledFor is the schedule's time, unique per document.
	ScheduledFor time.Time `json:"scheduledFor"`
	FiredAt      time.Time `json:"firedAt"`
	// Outcome is ran, skipped, refused or error, and Reason says why.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// RunID is the run the fire started (for a game day, the game-day
	// run); zero when it started none.
	RunID int64 `json:"runId,omitempty"`
}

// Calendar is a schedule laid out over a range of time, as the scheduler
// reads it; every time is in the schedule's zone.
type Calendar struct {
	// Timezone is the schedule's IANA zone, UTC when it names none.
	Timezone string `json:"timezone"`
	// Enabled is false when the document has no schedule or it is turned
	// off: then nothing is laid out.
	Enabled bool      `json:"enabled"`
	From    time.Time `json:"from"`
	// To is the range's end, not included.
	To time.Time `json:"to"`
	// Fires are the scheduled times of the range in order, the first
	// 2000; Truncated says there were more.
	Fires     []CalendarFire `json:"fires"`
	Truncated bool           `json:"truncated"`
	// Hours count every scheduled time of the range by hour of the zone's
	// clock; an hour without any is left out.
	Hours []CalendarHour `json:"hours"`
	// Blackouts are the stretches of the range during which a window
	// holds, in order.
	Blackouts []CalendarBlackout `json:"blackouts"`
}

// CalendarFire is one scheduled time; Skipped says a blackout window holds
// it, and Reason names the window.
type CalendarFire struct {
	At      time.Time `json:"at"`
	Skipped bool      `json:"skipped"`
	Reason  string    `json:"reason,omitempty"`
}

// CalendarHour counts the scheduled times of one hour that fire and that a
// blackout window skips.
type CalendarHour struct {
	From    time.Time `json:"from"`
	Fires   int       `json:"fires"`
	Skipped int       `json:"skipped"`
}

// CalendarBlackout is a stretch of time during which Window holds.
type CalendarBlackout struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Window Blackout  `json:"window"`
}

// fires reads a page of the fires at path.
func (c *Client) fires(ctx context.Context, path string, opts ListOptions) (*Page[Fire], error) {
	var p Page[Fire]
	if err := c.getJSON(ctx, path, opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// calendar reads the calendar at path over [from, to); a zero from means
// now, a zero to a week after from.
func (c *Client) calendar(ctx context.Context, path string, from, to time.Time) (*Calendar, error) {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("from", from.Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.Format(time.RFC3339))
	}
	var cal Calendar
	if err := c.getJSON(ctx, path, q, &cal); err != nil {
		return nil, err
	}
	return &cal, nil
}

// idPath renders a route with its ids: idPath("/api/v1/runs/%d", 3).
func idPath(format string, ids ...int64) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return fmt.Sprintf(format, args...)
}
