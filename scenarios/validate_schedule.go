package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronField is the range and the names one field of a five-field cron
// expression accepts.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

// cronFields are minute, hour, day of month, month and day of week, with
// the same bounds as the scheduler's parser (robfig/cron's standard spec).
var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronDescriptors are the @-shorthands the scheduler accepts besides @every.
var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// MaxBlackouts bounds the blackout windows of one schedule.
const MaxBlackouts = 32

// MinScheduleInterval is the shortest interval "@every" may name.
const MinScheduleInterval = time.Second

// validateSchedule checks spec.schedule: the cron text, the time zone and
// the two policies.
func validateSchedule(r *reporter, s *Schedule) {
	if s == nil {
		return
	}
	const p = "spec.schedule"
	if err := CheckCron(s.Cron); err != nil {
		r.errorf(p+".cron", "%v", err)
	}
	if _, err := s.Location(); err != nil {
		r.errorf(p+".timezone", "%v", err)
	}
	switch s.Concurrency {
	case "", ConcurrencyForbid, ConcurrencyAllow, ConcurrencyReplace:
	default:
		r.errorf(p+".concurrency", "must be forbid, allow or replace, not %q", s.Concurrency)
	}
	switch s.Missed {
	case "", MissedSkip, MissedRunOnce:
	default:
		r.errorf(p+".missed", "must be skip or runOnce, not %q", s.Missed)
	}
	if len(s.Blackouts) > MaxBlackouts {
		r.errorf(p+".blackouts", "holds %d windows; a schedule may have at most %d", len(s.Blackouts), MaxBlackouts)
	}
	for i, b := range s.Blackouts {
		bp := fmt.Sprintf("%s.blackouts[%d]", p, i)
		for j, d := range b.Days {
			if _, err := weekday(d); err != nil {
				r.errorf(fmt.Sprintf("%s.days[%d]", bp, j), "%v", err)
			}
		}
		if _, err := clock(b.From); err != nil {
			r.errorf(bp+".from", "%v", err)
		}
		if _, err := clock(b.To); err != nil {
			r.errorf(bp+".to", "%v", err)
		}
	}
}

// Location returns the schedule's time zone; UTC when none is set.
func (s *Schedule) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("is not a known IANA time zone such as Europe/Berlin: %q", s.Timezone)
	}
	return loc, nil
}

// Every returns the interval of an "@every <duration>" schedule, and false
// for any other cron text.
func (s *Schedule) Every() (time.Duration, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s.Cron), "@every ")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(rest))
	return d, err == nil
}

// CheckCron reports whether text is a five-field cron expression, one of
// the @-descriptors or "@every <duration>" (at least one second). It checks
// the shape and the bounds of every field; the scheduler parses it again.
func CheckCron(text string) error {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return fmt.Errorf("is required: five cron fields (\"0 3 * * 1\"), a descriptor (\"@hourly\") or \"@every 30s\"")
	case strings.HasPrefix(text, "TZ=") || strings.HasPrefix(text, "CRON_TZ="):
		return fmt.Errorf("must not carry a time zone; set spec.schedule.timezone instead")
	case strings.HasPrefix(text, "@every "):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(text, "@every ")))
		if err != nil {
			return fmt.Errorf("%q: the interval must be a duration such as 30s or 5m", text)
		}
		if d < MinScheduleInterval || d%time.Second != 0 {
			return fmt.Errorf("%q: the interval must be a whole number of seconds, at least 1s", text)
		}
		return nil
	case strings.HasPrefix(text, "@"):
		for _, d := range cronDescriptors {
			if text == d {
				return nil
			}
		}
		return fmt.Errorf("%q is not a known descriptor; use one of %s or \"@every <duration>\"", text, strings.Join(cronDescriptors, ", "))
	}
	fields := strings.Fields(text)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("%q has %d fields, want 5: minute hour day-of-month month day-of-week", text, len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%q: %s field: %v", text, cronFields[i].name, err)
		}
	}
	return nil
}

// check validates one field: a comma-separated list of "*", "?" (days
// only), values, ranges "a-b", each optionally stepped "/n".
func (c cronField) check(field string) error {
	for part := range strings.SplitSeq(field, ",") {
		rangePart, step, stepped := strings.Cut(part, "/")
		if stepped {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return fmt.Errorf("step %q must be a positive integer", step)
			}
		}
		if rangePart == "*" || (rangePart == "?" && (c.name == "day of month" || c.name == "day of week")) {
			continue
		}
		lo, hi, isRange := strings.Cut(rangePart, "-")
		a, err := c.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := c.value(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q runs backwards", rangePart)
		}
	}
	return nil
}

// value reads one number or name within the field's bounds.
func (c cronField) value(s string) (int, error) {
	for i, name := range c.names {
		if strings.EqualFold(s, name) {
			return c.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < c.min || n > c.max {
		return 0, fmt.Errorf("%d is outside %d-%d", n, c.min, c.max)
	}
	return n, nil
}
