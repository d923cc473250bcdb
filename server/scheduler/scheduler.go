// Package scheduler fires schedules: experiments' and game days'
// (spec.schedule). It registers a gocron job per enabled schedule, records
// every fire in the owner's fire table with a unique (owner, scheduled
// time) so no time fires twice, skips the times inside the schedule's
// blackout windows, applies the safety lever and the concurrency policy,
// and at start-up fires once for a time missed while the server was down
// when the schedule asks for it. NextFires and Spec.Calendar tell the same
// times ahead of time, for the API and the dashboard.
//
// Each kind of owner (Kind) brings its own schedules, fire table and runs
// through small interfaces; the package knows the store's row types only.
// Time comes from a clockwork.Clock, so tests can drive it.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/store"
)

// Kind is one sort of schedule owner, experiments or game days: where its
// schedules come from, where its fires are recorded and how its runs
// start.
type Kind struct {
	// Name names the owners in logs and job names: "experiment",
	// "gameday". Names are unique within a Config.
	Name string
	// Schedules returns the enabled schedule of every owner by owner ID;
	// an owner without one (or with it off) is absent.
	Schedules func(ctx context.Context) (map[int64]Spec, error)
	// Fires is the kind's own fire table (ExperimentFires, GameDayFires).
	Fires Fires
	// Runs starts the kind's runs (ExperimentRuns, GameDayRuns).
	Runs Runs
}

// Fires is a kind's table of fires; an owner has at most one fire per
// scheduled time.
type Fires interface {
	// ClaimFire records f as owner's fire for f.ScheduledFor and sets
	// f.ID; it fails with an errkind.Conflict when that time is claimed
	// already.
	ClaimFire(ctx context.Context, owner int64, f *store.Fire) error
	// SetFireOutcome records how the claimed fire id ended.
	SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error
	// LastFire returns the latest scheduled time owner fired for; ok is
	// false when it never fired.
	LastFire(ctx context.Context, owner int64) (at time.Time, ok bool, err error)
}

// SharedFires is a Fires that other schedulers share, on other servers
// of the same database: the run of an owner's previous fire, which the
// concurrency policy looks at, may have been started by any of them.
// Pair it with a Runs whose Active knows the runs of every server.
type SharedFires interface {
	Fires
	// LastRun returns the run started by owner's latest fire that
	// started one; ok is false when none did.
	LastRun(ctx context.Context, owner int64) (runID int64, ok bool, err error)
}

// Runs starts, checks and stops a kind's runs.
type Runs interface {
	// Start starts a run of owner and returns its ID.
	Start(ctx context.Context, owner int64) (runID int64, err error)
	// Active reports whether a run is still queued or running.
	Active(runID int64) bool
	// Stop stops an active run, saying why.
	Stop(ctx context.Context, runID int64, reason string) error
	// Lever is the safety lever: while it is engaged fires are refused.
	Lever() store.LeverState
}

// Config wires a Scheduler.
type Config struct {
	// Kinds are the owners of schedules; at least one.
	Kinds []Kind
	// Clock tells the time to the scheduler and to gocron; nil means the
	// real clock.
	Clock  clockwork.Clock
	Logger *slog.Logger
}

// Scheduler keeps one gocron job per enabled schedule. Create it with New
// and run it with Run; Notify makes it re-read the schedules.
type Scheduler struct {
	kinds  []Kind
	log    *slog.Logger
	clock  clockwork.Clock
	cron   gocron.Scheduler
	notify chan struct{}
	// fired, when set, learns of every recorded fire (tests wait on it).
	fired func(o owner, f store.Fire)

	mu      sync.Mutex
	entries map[owner]*entry
	lastRun map[owner]int64       // the latest scheduled run of each owner
	firing  map[owner]*sync.Mutex // held through each fire of the owner
}

// owner is one schedule's owner: an ID of a kind (an index in kinds).
type owner struct {
	kind int
	id   int64
}

// entry is the job of one owner's schedule.
type entry struct {
	spec Spec
	plan *plan
	job  gocron.Job
}

// New returns a Scheduler; nothing fires before Run.
func New(cfg Config) (*Scheduler, error) {
	if len(cfg.Kinds) == 0 {
		return nil, errors.New("scheduler: no kinds of schedule owner")
	}
	names := map[string]bool{}
	for i, k := range cfg.Kinds {
		if k.Name == "" || k.Schedules == nil || k.Fires == nil || k.Runs == nil {
			return nil, fmt.Errorf("scheduler: kind %d (%q) needs a name, schedules, fires and runs", i, k.Name)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("scheduler: kind %q appears twice", k.Name)
		}
		names[k.Name] = true
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	cron, err := gocron.NewScheduler(gocron.WithLocation(time.UTC), gocron.WithClock(clock), gocron.WithStopTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return &Scheduler{kinds: cfg.Kinds, log: log, clock: clock, cron: cron, notify: make(chan struct{}, 1),
		entries: map[owner]*entry{}, lastRun: map[owner]int64{}, firing: map[owner]*sync.Mutex{}}, nil
}

// Discard releases a Scheduler that will never Run (gocron starts its
// own goroutines when it is created).
func (s *Scheduler) Discard() {
	if err := s.cron.Shutdown(); err != nil {
		s.log.Error("scheduler: discard", "err", err)
	}
}

// Notify asks the scheduler to re-read the schedules (an owner was
// created, updated or deleted). It never blocks.
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

// sync makes the jobs match the stored schedules. At start-up it also
// fires once for a missed time of the schedules that ask for it. A kind
// whose schedules cannot be read keeps its jobs as they are.
func (s *Scheduler) sync(ctx context.Context, startup bool) {
	now := s.clock.Now()
	var catchUp []owner
	for k, kind := range s.kinds {
		specs, err := kind.Schedules(ctx)
		if err != nil {
			s.log.Error("scheduler: read schedules", "kind", kind.Name, "err", err)
			continue
		}
		s.mu.Lock()
		for o, e := range s.entries {
			if sp, ok := specs[o.id]; o.kind == k && (!ok || !sp.Equal(e.spec)) {
				_ = s.cron.RemoveJob(e.job.ID())
				delete(s.entries, o)
			}
		}
		for id, sp := range specs {
			o := owner{k, id}
			if s.entries[o] != nil {
				continue
			}
			if err := s.add(o, sp, now); err != nil {
				s.log.Error("scheduler: register schedule", kind.Name, id, "err", err)
				continue
			}
			if startup && sp.Missed == RunOnce {
				catchUp = append(catchUp, o)
			}
		}
		s.mu.Unlock()
	}
	for _, o := range catchUp {
		s.catchUp(ctx, o, now)
	}
}

// add registers the job of one schedule; s.mu is held.
func (s *Scheduler) add(o owner, sp Spec, now time.Time) error {
	name := s.kinds[o.kind].Name
	p, err := parsePlan(sp, now)
	if err != nil {
		return err
	}
	def, opts := p.job(now)
	opts = append(opts, gocron.WithName(fmt.Sprintf("%s-%d", name, o.id)))
	job, err := s.cron.NewJob(def, gocron.NewTask(func(ctx context.Context) {
		s.fire(ctx, o, p.scheduledFor(s.clock.Now()))
	}), opts...)
	if err != nil {
		return fmt.Errorf("scheduler: %s %d: %w", name, o.id, err)
	}
	s.entries[o] = &entry{spec: sp, plan: p, job: job}
	return nil
}

// catchUp fires once for the latest time missed since the owner's last
// recorded fire; an owner that never fired missed nothing.
func (s *Scheduler) catchUp(ctx context.Context, o owner, now time.Time) {
	kind := s.kinds[o.kind]
	last, ok, err := kind.Fires.LastFire(ctx, o.id)
	if err != nil {
		s.log.Error("scheduler: read last fire", kind.Name, o.id, "err", err)
		return
	}
	s.mu.Lock()
	e := s.entries[o]
	s.mu.Unlock()
	if !ok || e == nil {
		return
	}
	if missed, ok := e.plan.latestMissed(last, now); ok {
		s.log.Info("scheduler: firing once for a missed time", kind.Name, o.id, "scheduledFor", missed)
		s.fire(ctx, o, missed)
	}
}

// fire claims the scheduled time in the owner's fire table (a time
// already claimed, by this process or an earlier one, is left alone),
// decides whether a run starts, starts it and records the outcome. An
// owner's fires take turns, so each sees the run of the one before; a
// fire that comes while the previous one is still deciding waits for it
// rather than being dropped.
func (s *Scheduler) fire(ctx context.Context, o owner, at time.Time) {
	kind := s.kinds[o.kind]
	s.mu.Lock()
	turn := s.firing[o]
	if turn == nil {
		turn = &sync.Mutex{}
		s.firing[o] = turn
	}
	s.mu.Unlock()
	turn.Lock()
	defer turn.Unlock()
	s.mu.Lock()
	e, prev := s.entries[o], s.lastRun[o]
	s.mu.Unlock()
	if e == nil {
		return // removed since the timer was set
	}
	f := &store.Fire{ScheduledFor: at, FiredAt: s.clock.Now(), Outcome: store.FireError, Reason: "the server stopped before the fire completed"}
	if err := kind.Fires.ClaimFire(ctx, o.id, f); err != nil {
		if !errors.Is(err, errkind.Conflict) && !errors.Is(err, errkind.NotFound) {
			s.log.Error("scheduler: record fire", kind.Name, o.id, "scheduledFor", at, "err", err)
		}
		return
	}
	if shared, ok := kind.Fires.(SharedFires); ok {
		// The previous fire may have been another server's.
		if id, ok, err := shared.LastRun(ctx, o.id); err != nil {
			s.log.Error("scheduler: read the previous fire's run", kind.Name, o.id, "err", err)
		} else if ok {
			prev = id
		}
	}
	f.Outcome, f.Reason, f.RunID = s.decide(ctx, kind.Runs, o.id, e, at, prev)
	if f.RunID != nil {
		s.mu.Lock()
		s.lastRun[o] = *f.RunID
		s.mu.Unlock()
	}
	if err := kind.Fires.SetFireOutcome(context.WithoutCancel(ctx), f.ID, f.Outcome, f.Reason, f.RunID); err != nil {
		s.log.Error("scheduler: record fire outcome", kind.Name, o.id, "err", err)
	}
	s.log.Info("scheduled fire", kind.Name, o.id, "scheduledFor", at, "outcome", f.Outcome, "reason", f.Reason)
	if s.fired != nil {
		s.fired(o, *f)
	}
}

// decide applies the blackout windows, the lever and the concurrency
// policy to the fire of id at the scheduled time at, and starts the run.
func (s *Scheduler) decide(ctx context.Context, runs Runs, id int64, e *entry, at time.Time, prev int64) (outcome, reason string, runID *int64) {
	if b, held := e.plan.blackout(at); held {
		return store.FireSkipped, b.Describe(), nil
	}
	if l := runs.Lever(); l.Engaged {
		return store.FireRefused, "the safety lever is engaged: " + l.Reason, nil
	}
	if prev != 0 && runs.Active(prev) {
		switch e.spec.Concurrency {
		case Allow:
		case Replace:
			if err := runs.Stop(ctx, prev, "replaced by the next scheduled fire"); err != nil && !errors.Is(err, errkind.Conflict) {
				return store.FireError, fmt.Sprintf("stop the previous run %d: %v", prev, err), nil
			}
		default:
			return store.FireSkipped, fmt.Sprintf("the previous scheduled run %d is still active", prev), nil
		}
	}
	started, err := runs.Start(ctx, id)
	if err != nil {
		if l := runs.Lever(); l.Engaged {
			return store.FireRefused, err.Error(), nil
		}
		return store.FireError, err.Error(), nil
	}
	return store.FireRan, "", &started
}
