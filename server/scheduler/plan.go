package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Spec is an owner's schedule as the scheduler needs it; the server fills
// it from the document's spec.schedule.
type Spec struct {
	// Cron is five cron fields, an @-descriptor or "@every <duration>".
	Cron string
	// Timezone is an IANA zone; "" means UTC. Cron and the blackout
	// windows are read in it.
	Timezone string
	// Concurrency is forbid, allow or replace ("" means forbid).
	Concurrency string
	// Missed is skip or runOnce ("" means skip).
	Missed string
	// Blackouts are the windows during which the schedule does not fire:
	// a scheduled time inside one is recorded skipped. None means the
	// schedule always fires.
	Blackouts []Blackout
}

// Blackout is a window of time during which a schedule does not fire;
// the server adapts scenarios.Blackout to it.
type Blackout interface {
	// Contains reports whether t, read in loc, falls inside the window.
	Contains(t time.Time, loc *time.Location) bool
	// Describe names the window completely ("blackout window mon
	// 02:00-04:00: backups"; windows described alike are the same
	// window); it is the reason of a fire the window skips.
	Describe() string
}

// Equal reports whether two specs schedule the same fires.
func (s Spec) Equal(o Spec) bool {
	return s.Cron == o.Cron && s.Timezone == o.Timezone && s.Concurrency == o.Concurrency && s.Missed == o.Missed &&
		slices.EqualFunc(s.Blackouts, o.Blackouts, func(a, b Blackout) bool { return a.Describe() == b.Describe() })
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

// maxCandidates bounds the scheduled times NextFires looks through for
// ones outside every blackout window.
const maxCandidates = 1000

// plan is a parsed Spec: it knows the schedule's times.
type plan struct {
	// every is the interval of an "@every" schedule; its fires are aligned
	// to multiples of it, so a restart keeps the same scheduled times.
	every     time.Duration
	crontab   string // with a CRON_TZ= prefix; "" for every
	cron      gocron.Cron
	loc       *time.Location
	blackouts []Blackout
}

// parsePlan parses a Spec's cron text in its time zone; now is the time
// the cron text is checked against.
func parsePlan(s Spec, now time.Time) (*plan, error) {
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
		return &plan{every: d, loc: loc, blackouts: s.Blackouts}, nil
	}
	p := &plan{crontab: "CRON_TZ=" + loc.String() + " " + text, cron: gocron.NewDefaultCron(false), loc: loc, blackouts: s.Blackouts}
	if err := p.cron.IsValid(p.crontab, loc, now); err != nil {
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

// blackout returns the first blackout window that holds t.
func (p *plan) blackout(t time.Time) (Blackout, bool) {
	for _, b := range p.blackouts {
		if b.Contains(t, p.loc) {
			return b, true
		}
	}
	return nil, false
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

// NextFires returns the schedule's next n times after from that would
// fire, in its zone: times inside a blackout window are passed over. It
// looks at no more than a thousand scheduled times, so it returns fewer
// than n when the windows hold nearly all of them.
func NextFires(s Spec, from time.Time, n int) ([]time.Time, error) {
	p, err := parsePlan(s, from)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	for t, i := from, 0; len(out) < n && i < maxCandidates; i++ {
		if t = p.next(t); t.IsZero() {
			break
		}
		if _, held := p.blackout(t); !held {
			out = append(out, t)
		}
	}
	return out, nil
}
