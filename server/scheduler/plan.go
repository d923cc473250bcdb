package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Spec is an experiment's schedule as the scheduler needs it; the server
// fills it from the experiment document's spec.schedule.
type Spec struct {
	// Cron is five cron fields, an @-descriptor or "@every <duration>".
	Cron string
	// Timezone is an IANA zone; "" means UTC.
	Timezone string
	// Concurrency is forbid, allow or replace ("" means forbid).
	Concurrency string
	// Missed is skip or runOnce ("" means skip).
	Missed string
}

// Concurrency and missed-fire policies (the values of Spec's fields).
const (
	Forbid  = "forbid"
	Allow   = "allow"
	Replace = "replace"
	RunOnce = "runOnce"
)

// startMargin keeps an interval's first fire clear of the registration.
const startMargin = 100 * time.Millisecond

// plan is a parsed Spec: it knows the schedule's times.
type plan struct {
	// every is the interval of an "@every" schedule; its fires are aligned
	// to multiples of it, so a restart keeps the same scheduled times.
	every   time.Duration
	crontab string // with a CRON_TZ= prefix; "" for every
	cron    gocron.Cron
	loc     *time.Location
}

// parsePlan parses a Spec's cron text in its time zone.
func parsePlan(s Spec) (*plan, error) {
	loc := time.UTC
	if s.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(s.Timezone); err != nil {
			return nil, fmt.Errorf("scheduler: timezone %q: %w", s.Timezone, err)
		}
	}
	text := strings.TrimSpace(s.Cron)
	if rest, ok := strings.CutPrefix(text, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("scheduler: %q: want an interval of at least 1s", text)
		}
		return &plan{every: d, loc: loc}, nil
	}
	p := &plan{crontab: "CRON_TZ=" + loc.String() + " " + text, cron: gocron.NewDefaultCron(false), loc: loc}
	if err := p.cron.IsValid(p.crontab, loc, time.Now()); err != nil {
		return nil, fmt.Errorf("scheduler: cron %q: %w", text, err)
	}
	return p, nil
}

// next returns the first scheduled time strictly after t.
func (p *plan) next(t time.Time) time.Time {
	if p.every > 0 {
		return t.Truncate(p.every).Add(p.every).In(p.loc)
	}
	return p.cron.Next(t.In(p.loc))
}

// scheduledFor maps the moment a job fired to the scheduled time it stands
// for. Timers never fire early and fire well within a second (an interval
// is at least one second), so rounding down is exact.
func (p *plan) scheduledFor(fired time.Time) time.Time {
	if p.every > 0 {
		return fired.Truncate(p.every)
	}
	return fired.Truncate(time.Second)
}

// latestMissed returns the last scheduled time in (last, now], if any.
func (p *plan) latestMissed(last, now time.Time) (time.Time, bool) {
	if p.every > 0 {
		t := now.Truncate(p.every)
		return t, t.After(last)
	}
	var found time.Time
	for t, i := p.next(last), 0; !t.IsZero() && !t.After(now) && i < 1_000_000; t, i = p.next(t), i+1 {
		found = t
	}
	return found, !found.IsZero()
}

// job returns the gocron definition and options of the plan. An interval's
// first fire is the next aligned time at least startMargin away, so it is
// still in the future when gocron checks it.
func (p *plan) job(now time.Time) (gocron.JobDefinition, []gocron.JobOption) {
	if p.every > 0 {
		start := gocron.WithStartDateTime(p.next(now.Add(startMargin)))
		return gocron.DurationJob(p.every), []gocron.JobOption{gocron.WithStartAt(start)}
	}
	return gocron.CronJob(p.crontab, false), nil
}

// NextFires returns the schedule's next n times after from, in its zone.
func NextFires(s Spec, from time.Time, n int) ([]time.Time, error) {
	p, err := parsePlan(s)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	for t := from; len(out) < n; {
		if t = p.next(t); t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out, nil
}
