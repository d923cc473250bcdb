package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// fakeRuns starts runs that stay active until finish is called: real rows
// (experiment runs or game-day runs) that never execute. It serves as
// both an ExperimentTrigger and a GameDayTrigger and remembers what it was
// asked.
type fakeRuns struct {
	db       *store.DB
	mu       sync.Mutex
	started  []int64  // owner IDs
	triggers []string // of game-day starts
	active   map[int64]bool
	stopped  map[int64]string
	lever    store.LeverState
}

func newFakeRuns(db *store.DB) *fakeRuns {
	return &fakeRuns{db: db, active: map[int64]bool{}, stopped: map[int64]string{}}
}

func (f *fakeRuns) Start(ctx context.Context, experimentID, _ int64) (*store.Run, error) {
	r := &store.Run{ExperimentID: &experimentID, ExperimentName: "nightly", ExperimentVersion: 1, Status: runstatus.Queued, Seed: 1}
	if err := f.db.CreateRun(ctx, r); err != nil {
		return nil, err
	}
	f.begin(experimentID, r.ID, "")
	return r, nil
}

func (f *fakeRuns) StartGameDay(ctx context.Context, gameDayID int64, trigger string) (int64, error) {
	r := &store.GameDayRun{GameDayID: &gameDayID, GameDayName: "quarterly", GameDayVersion: 1, Source: "kind: GameDay", Trigger: trigger}
	if err := f.db.CreateGameDayRun(ctx, r); err != nil {
		return 0, err
	}
	f.begin(gameDayID, r.ID, trigger)
	return r.ID, nil
}

func (f *fakeRuns) begin(owner, runID int64, trigger string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, owner)
	f.triggers = append(f.triggers, trigger)
	f.active[runID] = true
}

func (f *fakeRuns) StopBecause(ctx context.Context, runID int64, reason string) error {
	return f.Stop(ctx, runID, reason)
}

func (f *fakeRuns) Stop(_ context.Context, runID int64, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[runID] = reason
	delete(f.active, runID)
	return nil
}

// finish ends a run as if it had completed.
func (f *fakeRuns) finish(runID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.active, runID)
}

func (f *fakeRuns) Active(runID int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active[runID]
}

func (f *fakeRuns) Lever() store.LeverState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lever
}

func (f *fakeRuns) starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// weekly is a blackout window on one weekday from one hour to another, in
// the schedule's zone.
type weekly struct {
	day      time.Weekday
	from, to int
	reason   string
}

func (w weekly) Contains(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	return t.Weekday() == w.day && t.Hour() >= w.from && t.Hour() < w.to
}

func (w weekly) Describe() string {
	return fmt.Sprintf("blackout window %s %02d:00-%02d:00: %s", strings.ToLower(w.day.String()[:3]), w.from, w.to, w.reason)
}

// fired is one fire the scheduler recorded.
type fired struct {
	kind string
	fire store.Fire
}

// fixture is a real database with one experiment and one game day, a fake
// clock, and a schedule for each (nil: none).
type fixture struct {
	db      *store.DB
	clock   *clockwork.FakeClock
	exp     *store.Experiment
	gameDay *store.GameDay
	runs    *fakeRuns // experiment runs
	gdRuns  *fakeRuns // game-day runs
	fired   chan fired

	mu     sync.Mutex
	spec   *Spec // the experiment's schedule
	gdSpec *Spec // the game day's schedule
}

func newFixture(t *testing.T, spec Spec, now time.Time) *fixture {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "faultline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &store.Experiment{Name: "nightly", Source: "x", Format: store.FormatYAML}
	if err := db.CreateExperiment(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	g := &store.GameDay{Name: "quarterly", Source: "kind: GameDay", Format: store.FormatYAML}
	if err := db.CreateGameDay(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, clock: clockwork.NewFakeClockAt(now), exp: e, gameDay: g, spec: &spec,
		runs: newFakeRuns(db), gdRuns: newFakeRuns(db), fired: make(chan fired, 100)}
}

// setSpecs replaces the schedules the scheduler reads next.
func (fx *fixture) setSpecs(spec, gdSpec *Spec) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.spec, fx.gdSpec = spec, gdSpec
}

func (fx *fixture) schedules(of func(*fixture) (int64, *Spec)) func(context.Context) (map[int64]Spec, error) {
	return func(context.Context) (map[int64]Spec, error) {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		out := map[int64]Spec{}
		if id, sp := of(fx); sp != nil {
			out[id] = *sp
		}
		return out, nil
	}
}

// scheduler returns a new Scheduler over the fixture, as a fresh process
// would build it; it is shut down when the test ends.
func (fx *fixture) scheduler(t *testing.T) *Scheduler {
	t.Helper()
	s, err := New(Config{Clock: fx.clock, Kinds: []Kind{
		{Name: "experiment", Schedules: fx.schedules(func(fx *fixture) (int64, *Spec) { return fx.exp.ID, fx.spec }),
			Fires: ExperimentFires(fx.db), Runs: ExperimentRuns(fx.runs)},
		{Name: "gameday", Schedules: fx.schedules(func(fx *fixture) (int64, *Spec) { return fx.gameDay.ID, fx.gdSpec }),
			Fires: GameDayFires(fx.db), Runs: GameDayRuns(fx.gdRuns, fx.gdRuns.Lever)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.fired = func(o owner, f store.Fire) { fx.fired <- fired{s.kinds[o.kind].Name, f} }
	t.Cleanup(func() { _ = s.cron.Shutdown() })
	return s
}

// run runs s until the returned stop is called (or the test ends).
func (fx *fixture) run(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// advanceTo waits until jobs timers are set, then moves the clock to at.
func (fx *fixture) advanceTo(t *testing.T, jobs int, at time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := fx.clock.BlockUntilContext(ctx, jobs); err != nil {
		t.Fatalf("waiting for %d job timers: %v", jobs, err)
	}
	fx.clock.Advance(at.Sub(fx.clock.Now()))
}

// next waits for the next recorded fire.
func (fx *fixture) next(t *testing.T) fired {
	t.Helper()
	select {
	case f := <-fx.fired:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no fire recorded within 5s")
		return fired{}
	}
}

func (fx *fixture) fires(t *testing.T) []store.Fire {
	t.Helper()
	fires, _, err := fx.db.ListFires(t.Context(), fx.exp.ID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return fires
}

func (fx *fixture) gameDayFires(t *testing.T) []store.Fire {
	t.Helper()
	fires, _, err := fx.db.ListGameDayFires(t.Context(), fx.gameDay.ID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return fires
}

// monday is a Monday at midnight UTC (01:00 in Berlin, on winter time).
var monday = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestFiresHappenAtTheScheduledTimes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cron  string
		times []time.Time
	}{
		{"cron fields in the schedule's zone", "*/15 1 * * *", // 01:xx Berlin is 00:xx UTC
			[]time.Time{monday, monday.Add(15 * time.Minute), monday.Add(30 * time.Minute)}},
		{"an interval aligned to its multiples", "@every 10m",
			[]time.Time{monday, monday.Add(10 * time.Minute), monday.Add(20 * time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, Spec{Cron: tc.cron, Timezone: "Europe/Berlin", Concurrency: Allow}, monday.Add(-7*time.Minute))
			fx.run(t, fx.scheduler(t))
			for _, at := range tc.times {
				fx.advanceTo(t, 1, at)
				f := fx.next(t)
				if !f.fire.ScheduledFor.Equal(at) || !f.fire.FiredAt.Equal(at) || f.fire.Outcome != store.FireRan {
					t.Errorf("fire = %+v, want ran for and at %v", f.fire, at)
				}
			}
			if got, want := fx.runs.starts(), len(tc.times); got != want {
				t.Errorf("runs started = %d, want %d", got, want)
			}
			if got := fx.fires(t); len(got) != len(tc.times) || !got[0].ScheduledFor.Equal(tc.times[len(tc.times)-1]) {
				t.Errorf("stored fires = %+v, want %d, latest first", got, len(tc.times))
			}
		})
	}
}

func TestForbidSkipsAnOverlappingFireAndRecordsIt(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "0 * * * *", Concurrency: Forbid}, monday.Add(-time.Minute))
	fx.run(t, fx.scheduler(t))
	fx.advanceTo(t, 1, monday)
	first := fx.next(t).fire
	fx.advanceTo(t, 1, monday.Add(time.Hour)) // the first run is still active
	skipped := fx.next(t).fire
	if first.Outcome != store.FireRan || skipped.Outcome != store.FireSkipped || skipped.RunID != nil ||
		skipped.Reason != fmt.Sprintf("the previous scheduled run %d is still active", *first.RunID) {
		t.Fatalf("fires = %+v then %+v, want ran then skipped for the active run", first, skipped)
	}
	fx.runs.finish(*first.RunID)
	fx.advanceTo(t, 1, monday.Add(2*time.Hour))
	if f := fx.next(t).fire; f.Outcome != store.FireRan {
		t.Errorf("fire after the run ended = %+v, want ran", f)
	}
	if got := len(fx.fires(t)); got != 3 || fx.runs.starts() != 2 {
		t.Errorf("stored fires = %d, starts = %d; want 3 and 2", got, fx.runs.starts())
	}
}

func TestReplaceStopsThePreviousRun(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "0 * * * *", Concurrency: Replace}, monday.Add(-time.Minute))
	fx.run(t, fx.scheduler(t))
	fx.advanceTo(t, 1, monday)
	first := fx.next(t).fire
	fx.advanceTo(t, 1, monday.Add(time.Hour))
	second := fx.next(t).fire
	if first.Outcome != store.FireRan || second.Outcome != store.FireRan || *second.RunID == *first.RunID {
		t.Fatalf("fires = %+v then %+v, want two runs", first, second)
	}
	fx.runs.mu.Lock()
	defer fx.runs.mu.Unlock()
	if got := fx.runs.stopped[*first.RunID]; got != "replaced by the next scheduled fire" {
		t.Errorf("previous run stopped with %q", got)
	}
	if fx.runs.active[*first.RunID] || !fx.runs.active[*second.RunID] {
		t.Errorf("active runs = %v, want only the second", fx.runs.active)
	}
}

func TestBlackoutWindowsHold(t *testing.T) {
	window := weekly{day: time.Monday, from: 2, to: 4, reason: "backups"} // Berlin time
	fx := newFixture(t, Spec{Cron: "0 * * * *", Timezone: "Europe/Berlin", Concurrency: Allow, Blackouts: []Blackout{window}},
		monday.Add(-time.Minute))
	fx.run(t, fx.scheduler(t))
	for _, tc := range []struct {
		at      time.Time
		outcome string
	}{
		{monday, store.FireRan},                        // 01:00 Berlin, before the window
		{monday.Add(time.Hour), store.FireSkipped},     // 02:00, the window opens
		{monday.Add(2 * time.Hour), store.FireSkipped}, // 03:00
		{monday.Add(3 * time.Hour), store.FireRan},     // 04:00, the window has closed
	} {
		fx.advanceTo(t, 1, tc.at)
		f := fx.next(t).fire
		if !f.ScheduledFor.Equal(tc.at) || f.Outcome != tc.outcome {
			t.Errorf("fire = %+v, want %s at %v", f, tc.outcome, tc.at)
		}
		if want := "blackout window mon 02:00-04:00: backups"; tc.outcome == store.FireSkipped && (f.Reason != want || f.RunID != nil) {
			t.Errorf("skipped fire = %+v, want reason %q and no run", f, want)
		}
	}
	if got := fx.runs.starts(); got != 2 {
		t.Errorf("runs started = %d, want 2 (outside the window only)", got)
	}
}

func TestRunOnceCatchesUpExactlyOnceAfterDowntime(t *testing.T) {
	now := monday.Add(10*time.Hour + 20*time.Minute)
	fx := newFixture(t, Spec{Cron: "@hourly", Missed: RunOnce}, now)
	// The server last fired at 07:00, then was down until 10:20.
	if err := fx.db.CreateFire(t.Context(), &store.Fire{ExperimentID: fx.exp.ID, ScheduledFor: monday.Add(7 * time.Hour), Outcome: store.FireRan}); err != nil {
		t.Fatal(err)
	}
	stop := fx.run(t, fx.scheduler(t))
	if f := fx.next(t).fire; !f.ScheduledFor.Equal(monday.Add(10*time.Hour)) || f.Outcome != store.FireRan {
		t.Fatalf("catch-up fire = %+v, want ran for the latest missed time, 10:00", f)
	}
	stop()

	// A second restart finds 10:00 claimed and catches nothing up: the
	// next fire it records is 11:00's.
	fx.run(t, fx.scheduler(t))
	fx.advanceTo(t, 1, monday.Add(11*time.Hour))
	if f := fx.next(t).fire; !f.ScheduledFor.Equal(monday.Add(11 * time.Hour)) {
		t.Errorf("first fire after the second restart = %+v, want 11:00's", f)
	}
	if got := len(fx.fires(t)); got != 3 || fx.runs.starts() != 2 {
		t.Errorf("stored fires = %d, starts = %d; want 07:00, 10:00, 11:00 and two runs", got, fx.runs.starts())
	}
}

func TestCatchUpInsideABlackoutWindowIsSkipped(t *testing.T) {
	now := monday.Add(2*time.Hour + 30*time.Minute) // 03:30 Berlin
	fx := newFixture(t, Spec{Cron: "@hourly", Timezone: "Europe/Berlin", Missed: RunOnce,
		Blackouts: []Blackout{weekly{day: time.Monday, from: 2, to: 4, reason: "backups"}}}, now)
	if err := fx.db.CreateFire(t.Context(), &store.Fire{ExperimentID: fx.exp.ID, ScheduledFor: monday.Add(-time.Hour), Outcome: store.FireRan}); err != nil {
		t.Fatal(err)
	}
	fx.run(t, fx.scheduler(t))
	f := fx.next(t).fire
	if !f.ScheduledFor.Equal(monday.Add(2*time.Hour)) || f.Outcome != store.FireSkipped || !strings.HasPrefix(f.Reason, "blackout window") {
		t.Errorf("catch-up fire = %+v, want 03:00 Berlin skipped by the window", f)
	}
	if fx.runs.starts() != 0 {
		t.Errorf("runs started = %d, want none", fx.runs.starts())
	}
}

func TestMissedFiresAreSkippedByDefault(t *testing.T) {
	now := monday.Add(10 * time.Hour)
	fx := newFixture(t, Spec{Cron: "@hourly"}, now)
	if err := fx.db.CreateFire(t.Context(), &store.Fire{ExperimentID: fx.exp.ID, ScheduledFor: now.Add(-5 * time.Hour), Outcome: store.FireRan}); err != nil {
		t.Fatal(err)
	}
	fx.scheduler(t).sync(t.Context(), true)
	if n := len(fx.fires(t)); n != 1 || fx.runs.starts() != 0 {
		t.Errorf("fires = %d, starts = %d; want nothing caught up", n, fx.runs.starts())
	}
}

func TestGameDaysFireThroughTheirOwnTriggerAndTable(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "0 * * * *"}, monday.Add(-time.Minute))
	fx.setSpecs(&Spec{Cron: "0 * * * *"}, &Spec{Cron: "0 * * * *"})
	fx.run(t, fx.scheduler(t))
	fx.advanceTo(t, 2, monday)
	got := map[string]store.Fire{}
	for range 2 {
		f := fx.next(t)
		got[f.kind] = f.fire
	}
	if gd := got["gameday"]; gd.GameDayID != fx.gameDay.ID || gd.ExperimentID != 0 || gd.Outcome != store.FireRan || gd.RunID == nil {
		t.Fatalf("game-day fire = %+v, want ran", gd)
	}
	if e := got["experiment"]; e.ExperimentID != fx.exp.ID || e.Outcome != store.FireRan {
		t.Errorf("experiment fire = %+v, want ran", e)
	}
	if fx.gdRuns.starts() != 1 || fx.gdRuns.started[0] != fx.gameDay.ID || fx.gdRuns.triggers[0] != store.TriggerSchedule {
		t.Errorf("game-day starts = %v with triggers %v, want game day %d by the schedule", fx.gdRuns.started, fx.gdRuns.triggers, fx.gameDay.ID)
	}
	if fx.runs.starts() != 1 {
		t.Errorf("experiment starts = %d, want 1", fx.runs.starts())
	}
	run, err := fx.db.GetGameDayRun(t.Context(), *got["gameday"].RunID)
	if err != nil || run.Trigger != store.TriggerSchedule {
		t.Errorf("the fire's game-day run = %+v, %v", run, err)
	}
	if fires := fx.gameDayFires(t); len(fires) != 1 || *fires[0].RunID != run.ID {
		t.Errorf("stored game-day fires = %+v, want the one naming run %d", fires, run.ID)
	}
	if fires := fx.fires(t); len(fires) != 1 {
		t.Errorf("stored experiment fires = %+v, want one", fires)
	}

	// Forbid holds per kind: the game-day run is still going.
	fx.runs.finish(*got["experiment"].RunID)
	fx.advanceTo(t, 2, monday.Add(time.Hour))
	for range 2 {
		f := fx.next(t)
		if want := map[string]string{"experiment": store.FireRan, "gameday": store.FireSkipped}[f.kind]; f.fire.Outcome != want {
			t.Errorf("%s fire at 01:00 = %+v, want %s", f.kind, f.fire, want)
		}
	}
}

func TestNoScheduledTimeFiresTwiceAcrossRestarts(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "0 3 * * 1", Timezone: "Europe/Berlin"}, monday)
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 03:00 in Berlin
	o := owner{0, fx.exp.ID}
	first := fx.scheduler(t)
	first.sync(t.Context(), true)
	first.fire(t.Context(), o, at)
	first.fire(t.Context(), o, at)
	restarted := fx.scheduler(t)
	restarted.sync(t.Context(), true)
	restarted.fire(t.Context(), o, at)
	if n := fx.runs.starts(); n != 1 {
		t.Errorf("runs started for one scheduled time = %d, want 1", n)
	}
	fires := fx.fires(t)
	if len(fires) != 1 || fires[0].Outcome != store.FireRan || fires[0].RunID == nil || !fires[0].ScheduledFor.Equal(at) {
		t.Errorf("fires = %+v", fires)
	}
}

func TestLeverRefusesFires(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@every 1m"}, monday)
	fx.runs.lever = store.LeverState{Engaged: true, Reason: "incident"}
	s := fx.scheduler(t)
	s.sync(t.Context(), false)
	s.fire(t.Context(), owner{0, fx.exp.ID}, monday)
	fires := fx.fires(t)
	if len(fires) != 1 || fires[0].Outcome != store.FireRefused || fires[0].Reason != "the safety lever is engaged: incident" || fx.runs.starts() != 0 {
		t.Errorf("fires = %+v, starts = %d", fires, fx.runs.starts())
	}
}

func TestAChangedScheduleReplacesItsJob(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@hourly", Blackouts: []Blackout{weekly{time.Monday, 2, 4, "backups"}}}, monday)
	s := fx.scheduler(t)
	o := owner{0, fx.exp.ID}
	s.sync(t.Context(), false)
	job := s.entries[o].job.ID()
	s.sync(t.Context(), false)
	if s.entries[o].job.ID() != job {
		t.Error("an unchanged schedule was registered again")
	}
	fx.setSpecs(&Spec{Cron: "@hourly", Blackouts: []Blackout{weekly{time.Monday, 2, 5, "backups"}}}, nil)
	s.sync(t.Context(), false)
	if e := s.entries[o]; e == nil || e.job.ID() == job || e.spec.Blackouts[0].(weekly).to != 5 {
		t.Errorf("entry after the window changed = %+v, want a new job with the new window", e)
	}
	fx.setSpecs(nil, nil)
	s.sync(t.Context(), false)
	if len(s.entries) != 0 {
		t.Errorf("entries after the schedule was removed = %v", s.entries)
	}
}

func TestSpecEqual(t *testing.T) {
	w := func(to int, reason string) Blackout { return weekly{time.Monday, 2, to, reason} }
	base := Spec{Cron: "@hourly", Timezone: "UTC", Blackouts: []Blackout{w(4, "backups")}}
	for _, tc := range []struct {
		name  string
		other Spec
		want  bool
	}{
		{"the same fields", Spec{Cron: "@hourly", Timezone: "UTC", Blackouts: []Blackout{w(4, "backups")}}, true},
		{"a window's end moved", Spec{Cron: "@hourly", Timezone: "UTC", Blackouts: []Blackout{w(5, "backups")}}, false},
		{"a window's reason changed: fires record it", Spec{Cron: "@hourly", Timezone: "UTC", Blackouts: []Blackout{w(4, "deploys")}}, false},
		{"a window removed", Spec{Cron: "@hourly", Timezone: "UTC"}, false},
		{"another zone", Spec{Cron: "@hourly", Blackouts: []Blackout{w(4, "backups")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := base.Equal(tc.other); got != tc.want {
				t.Errorf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRefusesAnIncompleteKind(t *testing.T) {
	fires := ExperimentFires(nil)
	runs := ExperimentRuns(nil)
	schedules := func(context.Context) (map[int64]Spec, error) { return nil, nil }
	for _, tc := range []struct {
		name  string
		kinds []Kind
	}{
		{"no kinds", nil},
		{"a kind without runs", []Kind{{Name: "experiment", Schedules: schedules, Fires: fires}}},
		{"two kinds of one name", []Kind{{"experiment", schedules, fires, runs}, {"experiment", schedules, fires, runs}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := New(Config{Kinds: tc.kinds}); err == nil {
				s.Discard()
				t.Error("New accepted the config")
			}
		})
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

func TestNextFiresPassOverBlackoutWindows(t *testing.T) {
	window := weekly{day: time.Monday, from: 2, to: 4, reason: "backups"}
	got, err := NextFires(Spec{Cron: "@hourly", Blackouts: []Blackout{window}}, monday.Add(30*time.Minute), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{monday.Add(time.Hour), monday.Add(4 * time.Hour), monday.Add(5 * time.Hour)}
	if len(got) != 3 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) || !got[2].Equal(want[2]) {
		t.Errorf("next fires = %v, want %v (02:00 and 03:00 held)", got, want)
	}
	// A window that always holds gives nothing, after a bounded search.
	always := Spec{Cron: "@every 1s", Blackouts: []Blackout{alwaysClosed{}}}
	if got, err := NextFires(always, monday, 3); err != nil || len(got) != 0 {
		t.Errorf("next fires under a window that always holds = %v, %v; want none", got, err)
	}
}

// alwaysClosed is a blackout window that holds every time.
type alwaysClosed struct{}

func (alwaysClosed) Contains(time.Time, *time.Location) bool { return true }
func (alwaysClosed) Describe() string                        { return "blackout window always" }

func TestRunFiresOnARealClockAndStopsCleanly(t *testing.T) {
	fx := newFixture(t, Spec{Cron: "@every 1s", Concurrency: Allow}, monday)
	s, err := New(Config{Kinds: []Kind{{Name: "experiment", Schedules: fx.schedules(func(fx *fixture) (int64, *Spec) { return fx.exp.ID, fx.spec }),
		Fires: ExperimentFires(fx.db), Runs: ExperimentRuns(fx.runs)}}})
	if err != nil {
		t.Fatal(err)
	}
	s.fired = func(o owner, f store.Fire) { fx.fired <- fired{"experiment", f} }
	stop := fx.run(t, s)
	for range 2 {
		if f := fx.next(t).fire; f.Outcome != store.FireRan || f.ScheduledFor.Nanosecond() != 0 || f.FiredAt.Before(f.ScheduledFor) {
			t.Errorf("fire = %+v", f)
		}
	}
	stop()
}
