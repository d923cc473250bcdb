package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/server/runstatus"
)

// TestStoreLeases: two replicas on one database; a run's lease keeps it
// until it expires, renewals extend it, and InterruptExpired ends only
// the expired one, naming its replica.
func TestStoreLeases(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		base := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
		a, b := openTestDB(t, dsn), openTestDB(t, dsn)
		a.now = func() time.Time { return base }
		b.now = a.now
		a.SetReplica("replica-a", 10*time.Second)
		b.SetReplica("replica-b", 10*time.Second)
		e := createExperiment(t, a, "leased")
		ra := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued, Seed: 1}
		rb := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued, Seed: 2}
		if err := a.CreateRun(ctx, ra); err != nil {
			t.Fatal(err)
		}
		if err := b.CreateRun(ctx, rb); err != nil {
			t.Fatal(err)
		}
		if ra.Owner != "replica-a" || ra.LeaseUntil == nil || !ra.LeaseUntil.Equal(base.Add(10*time.Second)) {
			t.Fatalf("run of a: owner %q lease %v", ra.Owner, ra.LeaseUntil)
		}
		gdr := &GameDayRun{GameDayName: "gd", GameDayVersion: 1, Source: "x", Trigger: TriggerAPI}
		if err := a.CreateGameDayRun(ctx, gdr); err != nil {
			t.Fatal(err)
		}

		if got, err := b.InterruptExpired(ctx, base.Add(9*time.Second), nil); err != nil || len(got.Runs) != 0 || len(got.GameDayRuns) != 0 {
			t.Fatalf("before the TTL: %+v, %v", got, err)
		}
		renewed, err := a.RenewLeases(ctx, base.Add(20*time.Second))
		if err != nil || !slices.Equal(renewed.Runs, []int64{ra.ID}) || !slices.Equal(renewed.GameDayRuns, []int64{gdr.ID}) {
			t.Fatalf("renew a: %+v, %v", renewed, err)
		}
		got, err := a.InterruptExpired(ctx, base.Add(15*time.Second), nil)
		if err != nil || len(got.Runs) != 1 || got.Runs[rb.ID] != "replica-b" || len(got.GameDayRuns) != 0 {
			t.Fatalf("after b's TTL: %+v, %v", got, err)
		}
		stored, err := a.GetRun(ctx, rb.ID)
		if err != nil || stored.Status != runstatus.Interrupted || !strings.Contains(stored.Reason, "replica replica-b") {
			t.Fatalf("b's run: %+v, %v", stored, err)
		}
		if stored, _ := a.GetRun(ctx, ra.ID); stored.Status != runstatus.Queued {
			t.Fatalf("a's run: %s", stored.Status)
		}
		tr, err := a.Transitions(ctx, rb.ID)
		if err != nil || tr[len(tr)-1].Status != runstatus.Interrupted {
			t.Fatalf("transitions of b's run: %+v, %v", tr, err)
		}
		if renewed, err := b.RenewLeases(ctx, base.Add(30*time.Second)); err != nil || len(renewed.Runs) != 0 {
			t.Fatalf("renew b after its run was interrupted: %+v, %v", renewed, err)
		}
		got, err = b.InterruptExpired(ctx, base.Add(21*time.Second), nil)
		if err != nil || got.Runs[ra.ID] != "replica-a" || !slices.Equal(got.GameDayRuns, []int64{gdr.ID}) {
			t.Fatalf("after a's renewed lease: %+v, %v", got, err)
		}
		if g, _ := a.GetGameDayRun(ctx, gdr.ID); g.Status != runstatus.Interrupted || !strings.Contains(g.Reason, "replica-a") {
			t.Fatalf("game-day run: %+v", g)
		}
	})
}

// TestStoreEnvironmentLeases: one replica holds an environment until its
// lease expires; then another may claim it, and the first no longer
// renews it.
func TestStoreEnvironmentLeases(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
		a, b := openTestDB(t, dsn), openTestDB(t, dsn)
		a.now = func() time.Time { return now }
		b.now = a.now
		a.SetReplica("replica-a", 10*time.Second)
		b.SetReplica("replica-b", 10*time.Second)
		e := &Environment{Name: "staging", Source: "x", Format: FormatYAML}
		if err := a.CreateEnvironment(ctx, e); err != nil {
			t.Fatal(err)
		}
		if h, err := a.ClaimEnvironment(ctx, e.ID, now.Add(10*time.Second)); err != nil || h != "replica-a" {
			t.Fatalf("a claims: %q, %v", h, err)
		}
		if h, err := b.ClaimEnvironment(ctx, e.ID, now.Add(10*time.Second)); err != nil || h != "replica-a" {
			t.Fatalf("b claims a held environment: %q, %v", h, err)
		}
		if h, ok, err := b.EnvironmentHolder(ctx, e.ID); err != nil || !ok || h != "replica-a" {
			t.Fatalf("holder: %q %v %v", h, ok, err)
		}
		now = now.Add(11 * time.Second)
		if _, ok, err := b.EnvironmentHolder(ctx, e.ID); err != nil || ok {
			t.Fatalf("holder after the lease: %v %v", ok, err)
		}
		if h, err := b.ClaimEnvironment(ctx, e.ID, now.Add(10*time.Second)); err != nil || h != "replica-b" {
			t.Fatalf("b claims after a's lease expired: %q, %v", h, err)
		}
		if r, err := a.RenewLeases(ctx, now.Add(10*time.Second)); err != nil || len(r.Environments) != 0 {
			t.Fatalf("a renews after losing the environment: %+v, %v", r, err)
		}
		if r, err := b.RenewLeases(ctx, now.Add(10*time.Second)); err != nil || !slices.Equal(r.Environments, []int64{e.ID}) {
			t.Fatalf("b renews: %+v, %v", r, err)
		}
		if err := b.ReleaseEnvironments(ctx); err != nil {
			t.Fatal(err)
		}
		if h, err := a.ClaimEnvironment(ctx, e.ID, now.Add(10*time.Second)); err != nil || h != "replica-a" {
			t.Fatalf("a claims after b released: %q, %v", h, err)
		}
		if _, err := a.ClaimEnvironment(ctx, e.ID+100, now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("claim of an unknown environment: %v", err)
		}
	})
}

// TestStoreSyncClock: on PostgreSQL the store's clock follows the
// database server's, however far this process's clock is off.
func TestStoreSyncClock(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		db.now = func() time.Time { return time.Now().Add(-time.Hour) } // this machine's clock is an hour late
		offset, err := db.SyncClock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !db.Postgres() {
			if offset != 0 || time.Since(db.Clock()) < 59*time.Minute {
				t.Fatalf("SQLite: offset %v, clock %v", offset, db.Clock())
			}
			return
		}
		if d := offset - time.Hour; d > time.Second || d < -time.Second {
			t.Fatalf("offset %v, want about 1h", offset)
		}
		if d := time.Since(db.Clock()); d > time.Second || d < -time.Second {
			t.Fatalf("the store's clock is %v off the database's", d)
		}
	})
}

// TestStoreGameDayRunsOnceAtATime: StartGameDayRun records at most one
// running run per game day, whichever replica starts it.
func TestStoreGameDayRunsOnceAtATime(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		a, b := openTestDB(t, dsn), openTestDB(t, dsn)
		a.SetReplica("replica-a", time.Minute)
		b.SetReplica("replica-b", time.Minute)
		g := &GameDay{Name: "once", Source: "x", Format: FormatYAML}
		if err := a.CreateGameDay(ctx, g); err != nil {
			t.Fatal(err)
		}
		first := &GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, GameDayVersion: 1, Source: "x", Trigger: TriggerAPI}
		if running, err := a.StartGameDayRun(ctx, first); err != nil || running != 0 || first.ID == 0 || first.Status != runstatus.Running {
			t.Fatalf("first: %d, %v, %+v", running, err, first)
		}
		second := &GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, GameDayVersion: 1, Source: "x", Trigger: TriggerSchedule}
		if running, err := b.StartGameDayRun(ctx, second); !errors.Is(err, ErrConflict) || running != first.ID || second.ID != 0 {
			t.Fatalf("second while the first runs: %d, %v", running, err)
		}
		if err := a.FinishGameDayRun(ctx, first.ID, runstatus.Succeeded, "pass", "", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if running, err := b.StartGameDayRun(ctx, second); err != nil || running != 0 || second.ID == 0 {
			t.Fatalf("second after the first ended: %d, %v", running, err)
		}
		if r, _ := a.GetGameDayRun(ctx, second.ID); r.Status != runstatus.Running {
			t.Fatalf("second: %+v", r)
		}
	})
}

// TestStoreGameDayReportSoFar: the report so far of a running game-day
// run is kept until its end replaces it.
func TestStoreGameDayReportSoFar(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openTestDB(t, dsn)
		g := &GameDay{Name: "so-far", Source: "x", Format: FormatYAML}
		if err := db.CreateGameDay(ctx, g); err != nil {
			t.Fatal(err)
		}
		r := &GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, GameDayVersion: 1, Source: "x", Trigger: TriggerAPI}
		if _, err := db.StartGameDayRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveGameDayRunReport(ctx, r.ID, []byte(`{"steps":[1]}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetGameDayRun(ctx, r.ID); string(got.Report) != `{"steps":[1]}` || got.Status != runstatus.Running {
			t.Fatalf("so far: %+v", got)
		}
		wantErr(t, "not JSON", db.SaveGameDayRunReport(ctx, r.ID, []byte("{")), ErrInvalid)
		if err := db.FinishGameDayRun(ctx, r.ID, runstatus.Succeeded, "pass", "", []byte(`{"steps":[1,2]}`), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveGameDayRunReport(ctx, r.ID, []byte(`{"steps":[]}`)); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetGameDayRun(ctx, r.ID); string(got.Report) != `{"steps":[1,2]}` {
			t.Fatalf("after the end: %s", got.Report)
		}
	})
}
