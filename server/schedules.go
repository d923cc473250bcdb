package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/api"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/scheduler"
	"github.com/faultline/faultline/server/store"
)

// scheduleKinds are the two owners of schedules the scheduler serves:
// experiments, run by the run manager, and game days, run by the game-day
// manager. Both refuse fires while the run manager's lever is engaged.
func scheduleKinds(db *store.DB, experiments scheduler.ExperimentTrigger, gameDays scheduler.GameDayTrigger, log *slog.Logger) []scheduler.Kind {
	kinds := localScheduleKinds(db, experiments, gameDays, log)
	if !db.Postgres() {
		return kinds
	}
	// Other servers share the database: the previous fire's run may be
	// one of theirs.
	kinds[0].Fires = sharedFires{kinds[0].Fires, db.LastFireRun}
	kinds[0].Runs = sharedRuns{kinds[0].Runs, func(ctx context.Context, id int64) (bool, error) {
		r, err := db.GetRun(ctx, id)
		return err == nil && r.Status.Active(), err
	}}
	kinds[1].Fires = sharedFires{kinds[1].Fires, db.LastGameDayFireRun}
	kinds[1].Runs = sharedRuns{kinds[1].Runs, func(ctx context.Context, id int64) (bool, error) {
		r, err := db.GetGameDayRun(ctx, id)
		return err == nil && r.Status.Active(), err
	}}
	return kinds
}

// sharedFires is a kind's fire table shared with other servers.
type sharedFires struct {
	scheduler.Fires
	lastRun func(ctx context.Context, owner int64) (int64, bool, error)
}

func (f sharedFires) LastRun(ctx context.Context, owner int64) (int64, bool, error) {
	return f.lastRun(ctx, owner)
}

// sharedRuns is a kind's runs, whose Active also knows the runs of the
// other servers on the database, through the store.
type sharedRuns struct {
	scheduler.Runs
	stored func(ctx context.Context, id int64) (bool, error)
}

func (r sharedRuns) Active(id int64) bool {
	if r.Runs.Active(id) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	active, err := r.stored(ctx, id)
	// A run that cannot be read counts as active: forbid skips rather
	// than overlapping.
	return active || (err != nil && !errors.Is(err, errkind.NotFound))
}

// localScheduleKinds are the kinds of schedule owners of a server alone on
// its database.
func localScheduleKinds(db *store.DB, experiments scheduler.ExperimentTrigger, gameDays scheduler.GameDayTrigger, log *slog.Logger) []scheduler.Kind {
	return []scheduler.Kind{
		{
			Name: "experiment",
			Schedules: func(ctx context.Context) (map[int64]scheduler.Spec, error) {
				return enabledSchedules(ctx, "experiment", db.ListExperiments, experimentSchedule, log)
			},
			Fires: scheduler.ExperimentFires(db),
			Runs:  scheduler.ExperimentRuns(experiments),
		},
		{
			Name: "gameday",
			Schedules: func(ctx context.Context) (map[int64]scheduler.Spec, error) {
				return enabledSchedules(ctx, "gameday", db.ListGameDays, gameDaySchedule, log)
			},
			Fires: scheduler.GameDayFires(db),
			Runs:  scheduler.GameDayRuns(gameDays, experiments.Lever),
		},
	}
}

// experimentSchedule reads a stored experiment's spec.schedule.
func experimentSchedule(e *store.Experiment) (int64, *scenarios.Schedule, error) {
	doc, err := scenarios.Parse([]byte(e.Source))
	if err != nil {
		return e.ID, nil, err
	}
	return e.ID, doc.Experiment.Spec.Schedule, nil
}

// gameDaySchedule reads a stored game day's spec.schedule.
func gameDaySchedule(g *store.GameDay) (int64, *scenarios.Schedule, error) {
	gd, err := scenarios.ParseGameDay([]byte(g.Source))
	if err != nil {
		return g.ID, nil, err
	}
	return g.ID, gd.Spec.Schedule, nil
}

// enabledSchedules pages through every stored owner of a kind with list
// and returns the enabled schedules by owner ID. An owner whose document
// no longer parses is logged and left out.
func enabledSchedules[T any](ctx context.Context, kind string, list func(context.Context, store.Page) ([]T, int64, error),
	scheduleOf func(*T) (int64, *scenarios.Schedule, error), log *slog.Logger) (map[int64]scheduler.Spec, error) {
	out := map[int64]scheduler.Spec{}
	const limit = 500
	for offset := 0; ; offset += limit {
		page, total, err := list(ctx, store.Page{Limit: limit, Offset: offset})
		if err != nil {
			return nil, err
		}
		for i := range page {
			id, s, err := scheduleOf(&page[i])
			if err != nil {
				log.Warn("scheduler: schedule unreadable", kind, id, "err", err)
				continue
			}
			if s.IsEnabled() {
				out[id] = schedulerSpec(s)
			}
		}
		if len(page) == 0 || int64(offset+len(page)) >= total {
			return out, nil
		}
	}
}

// schedulerSpec is a schedule as the scheduler takes it.
func schedulerSpec(s *scenarios.Schedule) scheduler.Spec {
	sp := scheduler.Spec{Cron: s.Cron, Timezone: s.Timezone, Concurrency: s.ConcurrencyPolicy(), Missed: s.MissedPolicy()}
	for _, b := range s.Blackouts {
		sp.Blackouts = append(sp.Blackouts, b)
	}
	return sp
}

// nextFires gives the API the next n times of a schedule that would fire.
func nextFires(s *scenarios.Schedule, from time.Time, n int) []time.Time {
	times, err := scheduler.NextFires(schedulerSpec(s), from, n)
	if err != nil {
		return nil
	}
	return times
}

// calendar gives the API a schedule laid out over [from, to): the
// scheduler's own times and blackout windows. A nil or turned-off
// schedule lays out nothing once the range is checked.
func calendar(s *scenarios.Schedule, from, to time.Time) (*api.Calendar, error) {
	if !s.IsEnabled() {
		if err := scheduler.CheckRange(from, to); err != nil {
			return nil, err
		}
		loc := time.UTC
		if s != nil {
			if l, err := s.Location(); err == nil {
				loc = l
			}
		}
		return &api.Calendar{From: from.In(loc), To: to.In(loc)}, nil
	}
	c, err := schedulerSpec(s).Calendar(from, to)
	if err != nil {
		return nil, err
	}
	out := &api.Calendar{From: c.From, To: c.To, Truncated: c.Truncated,
		Fires: make([]api.CalendarFire, len(c.Fires)), Hours: make([]api.CalendarHour, len(c.Hours)), Blackouts: make([]api.CalendarBlackout, len(c.Blackouts))}
	for i, f := range c.Fires {
		out.Fires[i] = api.CalendarFire{At: f.At, Skipped: f.Skipped, Reason: f.Reason}
	}
	for i, h := range c.Hours {
		out.Hours[i] = api.CalendarHour{Start: h.Start, Fires: h.Fires, Skipped: h.Skipped}
	}
	for i, b := range c.Blackouts {
		out.Blackouts[i] = api.CalendarBlackout{From: b.From, To: b.To, Window: b.Window}
	}
	return out, nil
}
