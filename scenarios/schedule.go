package scenarios

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
