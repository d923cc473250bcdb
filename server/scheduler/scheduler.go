// Package scheduler fires experiments on their schedules (spec.schedule):
// it registers a gocron job per enabled schedule, records every fire in the
// store with a unique (experiment, scheduled time) so no time fires twice,
// applies the concurrency policy, and at start-up fires once for a time
// missed while the server was down when the schedule asks for it.
//
// It knows the store's row types only; runs start through the Trigger
// interface, which *runs.Manager satisfies.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/faultline/faultline/server/store"
)

// Trigger starts and stops runs.
type Trigger interface {
	Start(ctx context.Context, experimentID, seed int64) (*store.Run, error)
	StopBecause(ctx context.Context, runID int64, reason string) error
	// Active reports whether a run is still queued or running.
	Active(runID int64) bool
	Lever() store.LeverState
}

// Store is what the scheduler needs of the database.
type Store interface {
	ListExperiments(ctx context.Context, p store.Page) ([]store.Experiment, int64, error)
	CreateFire(ctx context.Context, f *store.Fire) error
	SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error
	LastFire(ctx context.Context, experimentID int64) (time.Time, bool, error)
}

// Config wires a Scheduler.
type Config struct {
	Store   Store
	Trigger Trigger
	// ScheduleOf reads an experiment's enabled schedule; nil when it has
	// none, or it is off.
	ScheduleOf func(e *store.Experiment) (*Spec, error)
	Logger     *slog.Logger
}

// Scheduler keeps one gocron job per enabled schedule. Create it with New
// and run it with Run; Notify makes it re-read the experiments.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	cron   gocron.Scheduler
	notify chan struct{}

	mu      sync.Mutex
	entries map[int64]*entry // by experiment ID
	lastRun map[int64]int64  // the latest scheduled run of each experiment
}

// entry is the job of one experiment's schedule.
type entry struct {
	spec Spec
	plan *plan
	job  gocron.Job
}

// New returns a Scheduler; nothing fires before Run.
func New(cfg Config) (*Scheduler, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cron, err := gocron.NewScheduler(gocron.WithLocation(time.UTC), gocron.WithStopTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return &Scheduler{cfg: cfg, log: log, cron: cron, notify: make(chan struct{}, 1),
		entries: map[int64]*entry{}, lastRun: map[int64]int64{}}, nil
}

// Discard releases a Scheduler that will never Run (gocron starts its
// own goroutines when it is created).
func (s *Scheduler) Discard() {
	if err := s.cron.Shutdown(); err != nil {
		s.log.Error("scheduler: discard", "err", err)
	}
}

// Notify asks the scheduler to re-read the experiments (one was created,
// updated or deleted). It never blocks.
func (s *Scheduler) Notify() {
	select {
	case s.notify <- struct{}{}:
	default: // a re-read is pending already
	}
}

// Run loads every schedule, catches up missed fires, then follows changes
// until ctx ends; it shuts gocron down (cancelling fires in flight) before
// it returns.
func (s *Scheduler) Run(ctx context.Context) error {
	s.cron.Start()
	defer func() {
		if err := s.cron.Shutdown(); err != nil {
			s.log.Error("scheduler: shut down", "err", err)
		}
	}()
	s.sync(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.notify:
			s.sync(ctx, false)
		}
	}
}

// sync makes the jobs match the stored experiments. At start-up it also
// fires once for a missed time of the schedules that ask for it.
func (s *Scheduler) sync(ctx context.Context, startup bool) {
	specs, err := s.schedules(ctx)
	if err != nil {
		s.log.Error("scheduler: read experiments", "err", err)
		return
	}
	now := time.Now()
	s.mu.Lock()
	for id, e := range s.entries {
		if sp, ok := specs[id]; !ok || sp != e.spec {
			_ = s.cron.RemoveJob(e.job.ID())
			delete(s.entries, id)
		}
	}
	var catchUp []int64
	for id, sp := range specs {
		if s.entries[id] != nil {
			continue
		}
		if err := s.add(id, sp); err != nil {
			s.log.Error("scheduler: register schedule", "experiment", id, "err", err)
			continue
		}
		if startup && sp.Missed == RunOnce {
			catchUp = append(catchUp, id)
		}
	}
	s.mu.Unlock()
	for _, id := range catchUp {
		s.catchUp(ctx, id, now)
	}
}

// add registers the job of one schedule; s.mu is held.
func (s *Scheduler) add(id int64, sp Spec) error {
	p, err := parsePlan(sp)
	if err != nil {
		return err
	}
	def, opts := p.job(time.Now())
	opts = append(opts, gocron.WithName(fmt.Sprintf("experiment-%d", id)),
		gocron.WithSingletonMode(gocron.LimitModeReschedule))
	job, err := s.cron.NewJob(def, gocron.NewTask(func(ctx context.Context) {
		s.fire(ctx, id, p.scheduledFor(time.Now()))
	}), opts...)
	if err != nil {
		return fmt.Errorf("scheduler: experiment %d: %w", id, err)
	}
	s.entries[id] = &entry{spec: sp, plan: p, job: job}
	return nil
}

// schedules reads the enabled schedule of every stored experiment.
func (s *Scheduler) schedules(ctx context.Context) (map[int64]Spec, error) {
	out := map[int64]Spec{}
	const limit = 500
	for offset := 0; ; offset += limit {
		page, total, err := s.cfg.Store.ListExperiments(ctx, store.Page{Limit: limit, Offset: offset})
		if err != nil {
			return nil, err
		}
		for i := range page {
			sp, err := s.cfg.ScheduleOf(&page[i])
			if err != nil {
				s.log.Warn("scheduler: experiment's schedule unreadable", "experiment", page[i].ID, "err", err)
				continue
			}
			if sp != nil {
				out[page[i].ID] = *sp
			}
		}
		if len(page) == 0 || int64(offset+len(page)) >= total {
			return out, nil
		}
	}
}

// catchUp fires once for the latest time missed since the experiment's
// last recorded fire; an experiment that never fired missed nothing.
func (s *Scheduler) catchUp(ctx context.Context, id int64, now time.Time) {
	last, ok, err := s.cfg.Store.LastFire(ctx, id)
	if err != nil {
		s.log.Error("scheduler: read last fire", "experiment", id, "err", err)
		return
	}
	s.mu.Lock()
	e := s.entries[id]
	s.mu.Unlock()
	if !ok || e == nil {
		return
	}
	if missed, ok := e.plan.latestMissed(last, now); ok {
		s.log.Info("scheduler: firing once for a missed time", "experiment", id, "scheduledFor", missed)
		s.fire(ctx, id, missed)
	}
}

// fire claims the scheduled time in the store (a time already claimed,
// by this process or an earlier one, is left alone), applies the lever and
// the concurrency policy, starts the run and records the outcome.
func (s *Scheduler) fire(ctx context.Context, id int64, at time.Time) {
	s.mu.Lock()
	e, prev := s.entries[id], s.lastRun[id]
	s.mu.Unlock()
	if e == nil {
		return // removed since the timer was set
	}
	f := &store.Fire{ExperimentID: id, ScheduledFor: at, Outcome: store.FireError, Reason: "the server stopped before the fire completed"}
	if err := s.cfg.Store.CreateFire(ctx, f); err != nil {
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("scheduler: record fire", "experiment", id, "scheduledFor", at, "err", err)
		}
		return
	}
	outcome, reason, runID := s.decide(ctx, id, e.spec, prev)
	if runID != nil {
		s.mu.Lock()
		s.lastRun[id] = *runID
		s.mu.Unlock()
	}
	if err := s.cfg.Store.SetFireOutcome(context.WithoutCancel(ctx), f.ID, outcome, reason, runID); err != nil {
		s.log.Error("scheduler: record fire outcome", "experiment", id, "err", err)
	}
	s.log.Info("scheduled fire", "experiment", id, "scheduledFor", at, "outcome", outcome, "reason", reason)
}

// decide applies the lever and the concurrency policy and starts the run.
func (s *Scheduler) decide(ctx context.Context, id int64, sp Spec, prev int64) (outcome, reason string, runID *int64) {
	if l := s.cfg.Trigger.Lever(); l.Engaged {
		return store.FireRefused, "the safety lever is engaged: " + l.Reason, nil
	}
	if prev != 0 && s.cfg.Trigger.Active(prev) {
		switch sp.Concurrency {
		case Allow:
		case Replace:
			if err := s.cfg.Trigger.StopBecause(ctx, prev, "replaced by the next scheduled fire"); err != nil && !errors.Is(err, store.ErrConflict) {
				return store.FireError, fmt.Sprintf("stop the previous run %d: %v", prev, err), nil
			}
		default:
			return store.FireSkipped, fmt.Sprintf("the previous scheduled run %d is still active", prev), nil
		}
	}
	run, err := s.cfg.Trigger.Start(ctx, id, 0)
	if err != nil {
		if l := s.cfg.Trigger.Lever(); l.Engaged {
			return store.FireRefused, err.Error(), nil
		}
		return store.FireError, err.Error(), nil
	}
	return store.FireRan, "", &run.ID
}
