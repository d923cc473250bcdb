package gamedays_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/gamedays"
	"github.com/faultline/faultline/server/manager/runs"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/store"
)

const steady = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 20}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`

// gameDaySource waits a minute between the checks; its schedule has a
// blackout window from 10:00 to 11:00 UTC every day.
const gameDaySource = `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: long-day}
spec:
  steadyState: steady
  steps:
  - wait: 1m
  schedule:
    cron: "0 3 * * *"
    blackouts: [{from: "10:00", to: "11:00", reason: change freeze}]
`

// clock is a settable clock for the blackout windows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type fixture struct {
	db    *store.DB
	runs  *runs.Manager
	gd    *gamedays.Manager
	clock *clock
	id    int64 // the stored game day
}

// setUp opens a database with the steady experiment and the game day, and
// starts a runs manager and a game-day manager on it, with the clock at
// 09:59 UTC.
func setUp(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "faultline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateExperiment(ctx, &store.Experiment{Name: "steady", Source: steady, Format: store.FormatYAML}); err != nil {
		t.Fatal(err)
	}
	g := &store.GameDay{Name: "long-day", Source: gameDaySource, Format: store.FormatYAML}
	if err := db.CreateGameDay(ctx, g); err != nil {
		t.Fatal(err)
	}
	rm := runs.New(db, experiment.Execute, runs.Config{})
	c := &clock{t: time.Date(2026, 3, 2, 9, 59, 0, 0, time.UTC)}
	gm := gamedays.New(gamedays.Config{Store: db, Runs: rm, Now: c.now, BlackoutEvery: 10 * time.Millisecond})
	rm.OnLever(gm.LeverMoved)
	t.Cleanup(func() {
		gm.Close()
		rm.Close()
	})
	return &fixture{db: db, runs: rm, gd: gm, clock: c, id: g.ID}
}

// waitEnd waits for a game-day run to record its end.
func (f *fixture) waitEnd(t *testing.T, id int64, within time.Duration) *store.GameDayRun {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := f.db.GetGameDayRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != runstatus.Running {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("game-day run %d still running after %v", id, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStep waits until the run's report so far has the step with status.
func (f *fixture) waitStep(t *testing.T, id int64, step string, status runstatus.Status) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if body, ok := f.gd.Snapshot(id); ok {
			var rep gameday.Report
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatal(err)
			}
			for _, s := range rep.Steps {
				if s.ID == step && s.Status == status {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %s of game-day run %d never became %s", step, id, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startRunning starts a run of the game day by API and waits for its
// minute-long wait step to be running.
func (f *fixture) startRunning(t *testing.T) int64 {
	t.Helper()
	id, err := f.gd.StartGameDay(context.Background(), f.id, store.TriggerAPI)
	if err != nil {
		t.Fatal(err)
	}
	f.waitStep(t, id, "spec.steps[0]", "running")
	return id
}

func TestABlackoutWindowRefusesAndHalts(t *testing.T) {
	f := setUp(t)
	ctx := context.Background()
	id := f.startRunning(t)

	// A second run of the same game day is refused while this one runs.
	_, err := f.gd.StartGameDay(ctx, f.id, store.TriggerSchedule)
	var running *gamedays.RunningError
	if !errors.As(err, &running) || !errors.Is(err, errkind.Conflict) || running.RunID != id {
		t.Errorf("second start = %v, want a RunningError naming run %d", err, id)
	}

	// The window opens: the game day halts, naming it.
	opened := time.Now()
	f.clock.set(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	r := f.waitEnd(t, id, time.Second)
	if d := time.Since(opened); d > time.Second {
		t.Errorf("halted after %v", d)
	}
	if r.Status != runstatus.Stopped || r.Reason != "stopped by the blackout window every day 10:00-11:00: change freeze" || r.Verdict != "fail" {
		t.Errorf("halted run = %s %s (%s)", r.Status, r.Verdict, r.Reason)
	}
	var rep gameday.Report
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SteadyStateBefore == nil || rep.SteadyStateBefore.Status != "succeeded" || rep.SteadyStateBefore.RunID == nil ||
		rep.SteadyStateBefore.Report != nil || rep.Steps[0].Status != "stopped" || rep.SteadyStateAfter != nil {
		t.Errorf("report = %+v", rep)
	}
	if err := f.gd.Stop(ctx, id, ""); !errors.Is(err, gamedays.ErrNotRunning) {
		t.Errorf("stopping an ended run = %v", err)
	}

	// While the window holds, nothing starts and nothing is recorded.
	_, err = f.gd.StartGameDay(ctx, f.id, store.TriggerAPI)
	var black *gamedays.BlackoutError
	if !errors.As(err, &black) || !errors.Is(err, errkind.Conflict) || !strings.Contains(err.Error(), "the blackout window every day 10:00-11:00: change freeze holds") {
		t.Errorf("start in a blackout = %v", err)
	}
	if _, total, _ := f.db.ListGameDayRuns(ctx, f.id, store.Page{}); total != 1 {
		t.Errorf("%d runs recorded, want 1", total)
	}
}

func TestTheLeverHaltsAGameDayAndItsStepRun(t *testing.T) {
	f := setUp(t)
	ctx := context.Background()
	id := f.startRunning(t)
	engaged := time.Now()
	if _, err := f.runs.Engage(ctx, "incident 7", "test"); err != nil {
		t.Fatal(err)
	}
	r := f.waitEnd(t, id, time.Second)
	if d := time.Since(engaged); d > time.Second {
		t.Errorf("halted after %v", d)
	}
	if r.Status != runstatus.Stopped || r.Reason != "stopped by the safety lever: incident 7" {
		t.Errorf("run = %s (%s)", r.Status, r.Reason)
	}
	_, err := f.gd.StartGameDay(ctx, f.id, store.TriggerAPI)
	if !safety.IsLeverError(err) || !errors.Is(err, errkind.Conflict) || !strings.Contains(err.Error(), "incident 7") {
		t.Errorf("start with the lever engaged = %v", err)
	}
	// The step runs are linked to the game-day run.
	list, total, err := f.db.ListRuns(ctx, store.RunFilter{GameDayRunID: id})
	if err != nil || total != 1 || list[0].GameDayStep != gameday.CheckBefore || list[0].Status != runstatus.Succeeded {
		t.Errorf("step runs = %+v, %d, %v", list, total, err)
	}
}

func TestStopByRequestAndShutdown(t *testing.T) {
	f := setUp(t)
	ctx := context.Background()
	id := f.startRunning(t)
	if err := f.gd.Stop(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if f.gd.Active(id) {
		t.Error("still active after Stop returned")
	}
	if r, _ := f.db.GetGameDayRun(ctx, id); r.Status != runstatus.Stopped || r.Reason != "stopped by request" {
		t.Errorf("stopped run = %s (%s)", r.Status, r.Reason)
	}

	id = f.startRunning(t)
	f.gd.Close()
	if r, _ := f.db.GetGameDayRun(ctx, id); r.Status != runstatus.Stopped || !strings.Contains(r.Reason, "shutting down") {
		t.Errorf("run at shutdown = %s (%s)", r.Status, r.Reason)
	}
	if _, err := f.gd.StartGameDay(ctx, f.id, store.TriggerAPI); err == nil {
		t.Error("a game day started after Close")
	}
}
