package store

import (
	"testing"
	"time"
)

// createGameDayWithRun stores a game day and one running run of it, and
// returns their IDs.
func createGameDayWithRun(t *testing.T, db *DB, name string) (gameDayID, runID int64) {
	t.Helper()
	g := &GameDay{Name: name, Source: "kind: GameDay", Format: FormatYAML}
	if err := db.CreateGameDay(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	r := &GameDayRun{GameDayID: &g.ID, GameDayName: name, GameDayVersion: g.Version, Source: g.Source, Trigger: TriggerSchedule}
	if err := db.CreateGameDayRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return g.ID, r.ID
}

func TestAGameDaysScheduledTimeFiresOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		gd, run := createGameDayWithRun(t, db, "quarterly")
		other, _ := createGameDayWithRun(t, db, "monthly")
		at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.FixedZone("CET", 3600))

		f := &Fire{GameDayID: gd, ScheduledFor: at, Outcome: FireError, Reason: "claimed"}
		if err := db.CreateGameDayFire(ctx, f); err != nil {
			t.Fatal(err)
		}
		if f.ID == 0 || f.FiredAt.IsZero() || f.FiredAt.Location() != time.UTC {
			t.Errorf("claimed fire = %+v, want an ID and a UTC fired-at", f)
		}
		wantErr(t, "second claim of the same time", db.CreateGameDayFire(ctx, &Fire{GameDayID: gd, ScheduledFor: at.UTC(), Outcome: FireRan}), ErrConflict)
		// The key is per game day, and apart from the experiments' table.
		if err := db.CreateGameDayFire(ctx, &Fire{GameDayID: other, ScheduledFor: at, Outcome: FireSkipped}); err != nil {
			t.Errorf("another game day's fire at the same time: %v", err)
		}
		e := createExperiment(t, db, "nightly")
		if err := db.CreateFire(ctx, &Fire{ExperimentID: e.ID, ScheduledFor: at, Outcome: FireRan}); err != nil {
			t.Errorf("an experiment's fire at the same time: %v", err)
		}

		if err := db.SetGameDayFireOutcome(ctx, f.ID, FireRan, "", &run); err != nil {
			t.Fatal(err)
		}
		later := &Fire{GameDayID: gd, ScheduledFor: at.Add(time.Hour), Outcome: FireRefused, Reason: "the safety lever is engaged"}
		if err := db.CreateGameDayFire(ctx, later); err != nil {
			t.Fatal(err)
		}
		last, ok, err := db.LastGameDayFire(ctx, gd)
		if err != nil || !ok || !last.Equal(at.Add(time.Hour)) {
			t.Errorf("LastGameDayFire = %v, %v, %v; want %v", last, ok, err, at.Add(time.Hour))
		}

		fires, total, err := db.ListGameDayFires(ctx, gd, Page{Limit: 1, Offset: 1})
		if err != nil || total != 2 || len(fires) != 1 {
			t.Fatalf("ListGameDayFires = %+v, %d, %v; want the second of two", fires, total, err)
		}
		got := fires[0]
		if got.GameDayID != gd || got.ExperimentID != 0 || got.Outcome != FireRan || got.RunID == nil || *got.RunID != run ||
			!got.ScheduledFor.Equal(at) || got.ScheduledFor.Location() != time.UTC {
			t.Errorf("listed fire = %+v, want game day %d's ran fire of run %d at %v", got, gd, run, at)
		}
	})
}

func TestGameDayFiresRefuseBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		gd, _ := createGameDayWithRun(t, db, "quarterly")
		at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
		for _, tc := range []struct {
			name string
			err  error
			want error
		}{
			{"an unknown outcome is refused before writing",
				db.CreateGameDayFire(ctx, &Fire{GameDayID: gd, ScheduledFor: at, Outcome: "maybe"}), ErrInvalid},
			{"a game day that does not exist",
				db.CreateGameDayFire(ctx, &Fire{GameDayID: gd + 100, ScheduledFor: at, Outcome: FireRan}), ErrNotFound},
			{"a fire that was never claimed",
				db.SetGameDayFireOutcome(ctx, 999, FireRan, "", nil), ErrNotFound},
			{"an outcome that does not exist",
				db.SetGameDayFireOutcome(ctx, 1, "maybe", "", nil), ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.err, tc.want) })
		}
		if n := queryInt(t, db, "SELECT count(*) FROM gameday_fires"); n != 0 {
			t.Errorf("fires after refused writes = %d, want 0", n)
		}
		if _, ok, err := db.LastGameDayFire(ctx, gd); ok || err != nil {
			t.Errorf("LastGameDayFire of a game day that never fired = %v, %v", ok, err)
		}
	})
}

func TestAGameDaysFiresOutliveItsRunsAndGoWithIt(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		gd, run := createGameDayWithRun(t, db, "quarterly")
		f := &Fire{GameDayID: gd, ScheduledFor: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), Outcome: FireRan, RunID: &run}
		if err := db.CreateGameDayFire(ctx, f); err != nil {
			t.Fatal(err)
		}
		// No store method deletes a game-day run; the schema's rule is what is
		// under test.
		if err := db.gdb.WithContext(ctx).Exec("DELETE FROM gameday_runs WHERE id = ?", run).Error; err != nil {
			t.Fatal(err)
		}
		fires, _, err := db.ListGameDayFires(ctx, gd, Page{})
		if err != nil || len(fires) != 1 || fires[0].RunID != nil {
			t.Errorf("fires after the run was deleted = %+v, %v; want the fire kept without its run", fires, err)
		}
		if err := db.DeleteGameDay(ctx, gd); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM gameday_fires"); n != 0 {
			t.Errorf("fires after the game day was deleted = %d, want 0", n)
		}
	})
}
