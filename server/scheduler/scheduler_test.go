package scheduler

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/server/store"
)

// fakeTrigger records queued runs that never execute, and remembers
// what it was asked.
type fakeTrigger struct {
	db      *store.DB
	mu      sync.Mutex
	started []int64 // experiment IDs
	active  map[int64]bool
	stopped map[int64]string
	lever   store.LeverState
}

func newFakeTrigger(db *store.DB) *fakeTrigger {
	return &fakeTrigger{db: db, active: map[int64]bool{}, stopped: map[int64]string{}}
}

func (f *fakeTrigger) Start(ctx context.Context, experimentID, _ int64) (*store.Run, error) {
	r := &store.Run{ExperimentID: &experimentID, ExperimentName: "nightly", ExperimentVersion: 1, Status: store.StatusQueued, Seed: 1}
	if err := f.db.CreateRun(ctx, r); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, experimentID)
	f.active[r.ID] = true
	return r, nil
}

func (f *fakeTrigger) StopBecause(_ context.Context, runID int64, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[runID] = reason
	delete(f.active, runID)
	return nil
}

func (f *fakeTrigger) Active(runID int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active[runID]
}

func (f *fakeTrigger) Lever() store.LeverState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lever
}

func (f *fakeTrigger) starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// fixture is a real database with one experiment and its schedule.
type fixture struct {
	db   *store.DB
	exp  *store.Experiment
	spec Spec
	trig *fakeTrigger
}

func newFixture(t *testing.T, spec Spec) *fixture {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "faultline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &store.Experiment{Name: "nightly", Source: "x", Format: "yaml"}
	if err := db.CreateExperiment(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, exp: e, spec: spec, trig: newFakeTrigger(db)}
}

// scheduler returns a new Scheduler over the fixture, as a fresh process
// would build it; it is shut down when the test ends.
func (fx *fixture) scheduler(t *testing.T) *Scheduler {
	t.Helper()
	s, err := New(Config{Store: fx.db, Trigger: fx.trig, ScheduleOf: func(e *store.Experiment) (*Spec, error) {
		sp := fx.spec
		return &sp, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cron.Shutdown() })
	return s
}

func (fx *fixture) fires(t *testing.T) []store.Fire {
	t.Helper()
	fires, _, err := fx.db.ListFires(t.Context(), fx.exp.ID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return fires
}

func TestNoScheduledTimeFiresTwiceAcrossRestarts(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "0 3 * * 1", Timezone: "Europe/Berlin"})
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 03:00 in Berlin
	first := fx.scheduler(t)
	first.sync(t.Context(), true)
	first.fire(t.Context(), fx.exp.ID, at)
	first.fire(t.Context(), fx.exp.ID, at)
	restarted := fx.scheduler(t)
	restarted.sync(t.Context(), true)
	restarted.fire(t.Context(), fx.exp.ID, at)
	if n := fx.trig.starts(); n != 1 {
		t.Errorf("runs started for one scheduled time = %d, want 1", n)
	}
	fires := fx.fires(t)
	if len(fires) != 1 || fires[0].Outcome != store.FireRan || fires[0].RunID == nil || !fires[0].ScheduledFor.Equal(at) {
		t.Errorf("fires = %+v", fires)
	}
}

func TestMissedFireRunsOnceAfterDowntime(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@hourly", Missed: RunOnce})
	now := time.Now()
	// The server last fired three hours ago, then went down.
	last := now.Truncate(time.Hour).Add(-3 * time.Hour)
	if err := fx.db.CreateFire(t.Context(), &store.Fire{ExperimentID: fx.exp.ID, ScheduledFor: last, Outcome: store.FireRan}); err != nil {
		t.Fatal(err)
	}
	fx.scheduler(t).sync(t.Context(), true)
	fx.scheduler(t).sync(t.Context(), true) // a second restart catches nothing more up
	fires := fx.fires(t)
	if len(fires) != 2 || fx.trig.starts() != 1 {
		t.Fatalf("fires = %+v, starts = %d; want one catch-up fire", fires, fx.trig.starts())
	}
	if want := now.Truncate(time.Hour); !fires[0].ScheduledFor.Equal(want) || fires[0].Outcome != store.FireRan {
		t.Errorf("catch-up fire = %+v, want ran for the missed %v", fires[0], want)
	}
}

func TestMissedFiresAreSkippedByDefault(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@hourly"})
	last := time.Now().Add(-5 * time.Hour)
	if err := fx.db.CreateFire(t.Context(), &store.Fire{ExperimentID: fx.exp.ID, ScheduledFor: last, Outcome: store.FireRan}); err != nil {
		t.Fatal(err)
	}
	fx.scheduler(t).sync(t.Context(), true)
	if n := len(fx.fires(t)); n != 1 || fx.trig.starts() != 0 {
		t.Errorf("fires = %d, starts = %d; want nothing caught up", n, fx.trig.starts())
	}
}

func TestConcurrencyPolicies(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		policy  string
		outcome string
		starts  int
	}{
		{Forbid, store.FireSkipped, 1},
		{Allow, store.FireRan, 2},
		{Replace, store.FireRan, 2},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			fx := newFixture(t, Spec{Cron: "@every 1m", Concurrency: tc.policy})
			s := fx.scheduler(t)
			s.sync(t.Context(), false)
			s.fire(t.Context(), fx.exp.ID, base)
			s.fire(t.Context(), fx.exp.ID, base.Add(time.Minute)) // the first run is still active
			fires := fx.fires(t)
			if len(fires) != 2 || fires[0].Outcome != tc.outcome || fx.trig.starts() != tc.starts {
				t.Fatalf("fires = %+v, starts = %d", fires, fx.trig.starts())
			}
			if tc.policy == Replace {
				if got := fx.trig.stopped[*fires[1].RunID]; got != "replaced by the next scheduled fire" {
					t.Errorf("previous run stopped with %q", got)
				}
			}
		})
	}
}

func TestLeverRefusesFires(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@every 1m"})
	fx.trig.lever = store.LeverState{Engaged: true, Reason: "incident"}
	s := fx.scheduler(t)
	s.sync(t.Context(), false)
	s.fire(t.Context(), fx.exp.ID, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fires := fx.fires(t)
	if len(fires) != 1 || fires[0].Outcome != store.FireRefused || fx.trig.starts() != 0 {
		t.Errorf("fires = %+v, starts = %d", fires, fx.trig.starts())
	}
}

func TestNextFiresInTheScheduleZone(t *testing.T) {
	from := time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC) // a Wednesday; DST starts Sunday the 29th
	got, err := NextFires(Spec{Cron: "0 3 * * 1", Timezone: "Europe/Berlin"}, from, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-03-30T03:00:00+02:00"; len(got) != 2 || got[0].Format(time.RFC3339) != want {
		t.Errorf("next fires = %v, want first %s", got, want)
	}
	every, _ := NextFires(Spec{Cron: "@every 30s"}, from.Add(10*time.Second), 2)
	if len(every) != 2 || !every[0].Equal(from.Add(30*time.Second)) || !every[1].Equal(from.Add(time.Minute)) {
		t.Errorf("@every 30s = %v, want aligned half minutes", every)
	}
	if _, err := NextFires(Spec{Cron: "61 * * * *"}, from, 1); err == nil {
		t.Error("bad cron accepted")
	}
}

func TestRunFiresOnARealIntervalAndStopsCleanly(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@every 1s", Concurrency: Allow})
	s := fx.scheduler(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(4 * time.Second)
	for fx.trig.starts() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fires := fx.fires(t)
	if len(fires) < 2 {
		t.Fatalf("fires after up to 4s of @every 1s = %+v", fires)
	}
	for _, f := range fires {
		if f.Outcome != store.FireRan || f.ScheduledFor.Nanosecond() != 0 || f.FiredAt.Before(f.ScheduledFor) {
			t.Errorf("fire = %+v", f)
		}
	}
}
