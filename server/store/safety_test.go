package store

import (
	"errors"
	"testing"
	"time"
)

func TestLeverStateIsTheLastEventAndSurvivesReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		if s, err := db.Lever(ctx); err != nil || s.Engaged || !s.Since.IsZero() {
			t.Fatalf("fresh lever = %+v, %v; want released, never moved", s, err)
		}
		if _, err := db.RecordLever(ctx, LeverState{Engaged: true, Reason: "prod incident", By: "oncall"}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := db.Lever(ctx)
		if err != nil || !s.Engaged || s.Reason != "prod incident" || s.By != "oncall" || s.Since.IsZero() {
			t.Errorf("lever after reopen = %+v, %v", s, err)
		}
		if _, err := db.RecordLever(ctx, LeverState{Reason: "resolved"}); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.Lever(ctx); s.Engaged || s.Reason != "resolved" {
			t.Errorf("lever after release = %+v", s)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM lever_events"); n != 2 {
			t.Errorf("lever events = %d, want 2", n)
		}
	})
}

func TestAScheduledTimeFiresOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		e := &Experiment{Name: "cron", Source: "x", Format: "yaml"}
		if err := db.CreateExperiment(ctx, e); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.FixedZone("CET", 3600))
		f := &Fire{ExperimentID: e.ID, ScheduledFor: at, Outcome: FireError, Reason: "claimed"}
		if err := db.CreateFire(ctx, f); err != nil {
			t.Fatal(err)
		}
		again := &Fire{ExperimentID: e.ID, ScheduledFor: at.UTC(), Outcome: FireRan}
		if err := db.CreateFire(ctx, again); !errors.Is(err, ErrConflict) {
			t.Errorf("second fire for the same time: %v, want ErrConflict", err)
		}
		if err := db.SetFireOutcome(ctx, f.ID, FireSkipped, "previous run active", nil); err != nil {
			t.Fatal(err)
		}
		later := &Fire{ExperimentID: e.ID, ScheduledFor: at.Add(time.Hour), Outcome: FireRefused}
		if err := db.CreateFire(ctx, later); err != nil {
			t.Fatal(err)
		}
		last, ok, err := db.LastFire(ctx, e.ID)
		if err != nil || !ok || !last.Equal(at.Add(time.Hour)) {
			t.Errorf("LastFire = %v, %v, %v", last, ok, err)
		}
		fires, total, err := db.ListFires(ctx, e.ID, Page{Limit: 1, Offset: 1})
		if err != nil || total != 2 || len(fires) != 1 || fires[0].Outcome != FireSkipped || !fires[0].ScheduledFor.Equal(at) {
			t.Errorf("ListFires = %+v, %d, %v", fires, total, err)
		}
		if err := db.CreateFire(ctx, &Fire{ExperimentID: e.ID, ScheduledFor: at, Outcome: "maybe"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("unknown outcome: %v, want ErrInvalid", err)
		}
	})
}
