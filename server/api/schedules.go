package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/store"
)

// scheduleJSON is a schedule as the API shows it.
type scheduleJSON struct {
	Cron        string   `json:"cron"`
	Timezone    string   `json:"timezone,omitempty"`
	Enabled     bool     `json:"enabled"`
	Concurrency string   `json:"concurrency"`
	Missed      string   `json:"missed"`
	NextFires   []string `json:"nextFires"`
	// Blackouts are the schedule's weekly windows ([] when none).
	Blackouts []blackoutJSON `json:"blackouts"`
	// BlackoutNow is the window that holds at the time of the request;
	// absent when none does.
	BlackoutNow *blackoutJSON `json:"blackoutNow,omitempty"`
}

// blackoutJSON is a blackout window of a schedule.
type blackoutJSON struct {
	Days   []string `json:"days"`
	From   string   `json:"from"`
	To     string   `json:"to"`
	Reason string   `json:"reason"`
}

func toBlackoutJSON(b scenarios.Blackout) blackoutJSON {
	days := b.Days
	if days == nil {
		days = []string{}
	}
	return blackoutJSON{Days: days, From: b.From, To: b.To, Reason: b.Reason}
}

// fireJSON is one fire of a schedule.
type fireJSON struct {
	ScheduledFor time.Time `json:"scheduledFor"`
	FiredAt      time.Time `json:"firedAt"`
	Outcome      string    `json:"outcome"`
	Reason       string    `json:"reason,omitempty"`
	RunID        *int64    `json:"runId,omitempty"`
}

// nextFireCount is how many upcoming times the experiment JSON lists.
const nextFireCount = 3

// experimentSchedule is the schedule of a stored experiment; nil when it
// has none (or its document no longer parses).
func experimentSchedule(e *store.Experiment) *scenarios.Schedule {
	doc, err := scenarios.Parse([]byte(e.Source))
	if err != nil {
		return nil
	}
	return doc.Experiment.Spec.Schedule
}

// gameDaySchedule is the schedule of a stored game day; nil when it has
// none (or its document no longer parses).
func gameDaySchedule(g *store.GameDay) *scenarios.Schedule {
	gd, err := scenarios.ParseGameDay([]byte(g.Source))
	if err != nil {
		return nil
	}
	return gd.Spec.Schedule
}

// scheduleJSONOf renders a schedule (an experiment's or a game day's) as
// of now: its next fires and the blackout window holding now, if any. A
// nil schedule renders as nil.
func (h *handlers) scheduleJSONOf(s *scenarios.Schedule) *scheduleJSON {
	if s == nil {
		return nil
	}
	now := time.Now()
	out := &scheduleJSON{Cron: s.Cron, Timezone: s.Timezone, Enabled: s.IsEnabled(),
		Concurrency: s.ConcurrencyPolicy(), Missed: s.MissedPolicy(), NextFires: []string{}, Blackouts: []blackoutJSON{}}
	for _, b := range s.Blackouts {
		out.Blackouts = append(out.Blackouts, toBlackoutJSON(b))
	}
	if b, ok := s.BlackoutAt(now); ok {
		bj := toBlackoutJSON(b)
		out.BlackoutNow = &bj
	}
	if s.IsEnabled() && h.cfg.NextFires != nil {
		for _, t := range h.cfg.NextFires(s, now, nextFireCount) {
			out.NextFires = append(out.NextFires, t.Format(time.RFC3339))
		}
	}
	return out
}

// experimentsChanged tells the scheduler to re-read the experiments.
func (h *handlers) experimentsChanged() {
	if h.cfg.OnExperimentsChanged != nil {
		h.cfg.OnExperimentsChanged()
	}
}

// listFires is the fire history of an experiment's schedule, latest first.
func (h *handlers) listFires(c *gin.Context) {
	writeOwnedList(c, h.log, h.cfg.Experiments.GetExperiment, h.cfg.Fires.ListFires, toFireJSON)
}

// toFireJSON renders a fire (an experiment's or a game day's; a game
// day's runId is its game-day run).
func toFireJSON(f *store.Fire) fireJSON {
	return fireJSON{ScheduledFor: f.ScheduledFor, FiredAt: f.FiredAt, Outcome: f.Outcome, Reason: f.Reason, RunID: f.RunID}
}
