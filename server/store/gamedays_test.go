package store

import (
	"testing"
	"time"

	"github.com/faultline/faultline/server/runstatus"
)

func createGameDay(t *testing.T, db *DB, name string) *GameDay {
	t.Helper()
	g := &GameDay{Name: name, Description: "d", Source: "# kept verbatim\nmetadata: {name: " + name + "}\n", Format: FormatYAML}
	if err := db.CreateGameDay(t.Context(), g); err != nil {
		t.Fatalf("CreateGameDay(%q): %v", name, err)
	}
	return g
}

func createGameDayRun(t *testing.T, db *DB, g *GameDay) *GameDayRun {
	t.Helper()
	r := &GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, GameDayVersion: g.Version, Source: g.Source, Trigger: TriggerAPI}
	if err := db.CreateGameDayRun(t.Context(), r); err != nil {
		t.Fatalf("CreateGameDayRun: %v", err)
	}
	return r
}

func TestGameDayCRUD(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		g := createGameDay(t, db, "weekly")
		if g.ID == 0 || g.Version != 1 || g.CreatedAt.IsZero() || g.CreatedAt != g.UpdatedAt {
			t.Fatalf("created = %+v", g)
		}
		wantErr(t, "duplicate name", db.CreateGameDay(ctx, &GameDay{Name: "weekly", Source: "x", Format: FormatYAML}), ErrConflict)
		wantErr(t, "empty name", db.CreateGameDay(ctx, &GameDay{Source: "x", Format: FormatYAML}), ErrInvalid)
		wantErr(t, "bad format", db.CreateGameDay(ctx, &GameDay{Name: "x", Source: "x", Format: "toml"}), ErrInvalid)

		got, err := db.GetGameDay(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *g {
			t.Errorf("read back %+v, want %+v", got, g)
		}

		other := createGameDay(t, db, "monthly")
		up := &GameDay{ID: g.ID, Name: "weekly-2", Source: "new\n  source # verbatim", Format: FormatJSON}
		if err := db.UpdateGameDay(ctx, up); err != nil {
			t.Fatal(err)
		}
		if up.Version != 2 || up.CreatedAt != g.CreatedAt || !up.UpdatedAt.After(g.UpdatedAt) {
			t.Errorf("updated = %+v", up)
		}
		if got, _ := db.GetGameDay(ctx, g.ID); got.Source != up.Source || got.Name != "weekly-2" || got.Version != 2 || got.Format != FormatJSON {
			t.Errorf("read back after update = %+v", got)
		}
		wantErr(t, "update to a taken name", db.UpdateGameDay(ctx, &GameDay{ID: g.ID, Name: other.Name, Source: "x", Format: FormatYAML}), ErrConflict)
		wantErr(t, "update unknown", db.UpdateGameDay(ctx, &GameDay{ID: 999, Name: "z", Source: "x", Format: FormatYAML}), ErrNotFound)

		list, total, err := db.ListGameDays(ctx, Page{Limit: 1, Offset: 1})
		if err != nil || total != 2 || len(list) != 1 || list[0].ID != other.ID {
			t.Errorf("ListGameDays = %+v, %d, %v", list, total, err)
		}

		// A running game day cannot be deleted; a finished one leaves its runs.
		r := createGameDayRun(t, db, other)
		wantErr(t, "delete with a running run", db.DeleteGameDay(ctx, other.ID), ErrConflict)
		if err := db.FinishGameDayRun(ctx, r.ID, runstatus.Succeeded, "pass", "", []byte(`{"ok":true}`), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteGameDay(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "get deleted", func() error { _, err := db.GetGameDay(ctx, other.ID); return err }(), ErrNotFound)
		wantErr(t, "delete again", db.DeleteGameDay(ctx, other.ID), ErrNotFound)
		kept, err := db.GetGameDayRun(ctx, r.ID)
		if err != nil || kept.GameDayID != nil || kept.GameDayName != "monthly" || string(kept.Report) != `{"ok":true}` {
			t.Errorf("run of a deleted game day = %+v, %v", kept, err)
		}
	})
}

func TestGameDayRunLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		g := createGameDay(t, db, "gd")
		wantErr(t, "unknown trigger", db.CreateGameDayRun(ctx, &GameDayRun{GameDayID: &g.ID, GameDayName: g.Name, Trigger: "cron"}), ErrInvalid)
		missing := int64(999)
		wantErr(t, "unknown game day", db.CreateGameDayRun(ctx, &GameDayRun{GameDayID: &missing, GameDayName: "x", Trigger: TriggerAPI}), ErrNotFound)

		var ids []int64
		for range 3 {
			ids = append(ids, createGameDayRun(t, db, g).ID)
		}
		r, err := db.GetGameDayRun(ctx, ids[0])
		if err != nil || r.Status != runstatus.Running || r.EndedAt != nil || r.Report != nil || r.Trigger != TriggerAPI || r.Source != g.Source {
			t.Fatalf("new run = %+v, %v", r, err)
		}
		wantErr(t, "finish as running", db.FinishGameDayRun(ctx, ids[0], runstatus.Running, "", "", nil, time.Time{}), ErrInvalid)
		wantErr(t, "report not JSON", db.FinishGameDayRun(ctx, ids[0], runstatus.Failed, "fail", "", []byte("{"), time.Time{}), ErrInvalid)
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", 7200)) // microseconds, which both databases keep
		if err := db.FinishGameDayRun(ctx, ids[0], runstatus.Failed, "fail", "failed steps: spec.steps[0]", []byte(`{"steps":[]}`), at); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "finish twice", db.FinishGameDayRun(ctx, ids[0], runstatus.Succeeded, "pass", "", nil, time.Time{}), ErrConflict)
		wantErr(t, "finish unknown", db.FinishGameDayRun(ctx, 999, runstatus.Succeeded, "pass", "", nil, time.Time{}), ErrNotFound)
		r, _ = db.GetGameDayRun(ctx, ids[0])
		if r.Status != runstatus.Failed || r.Verdict != "fail" || r.Reason != "failed steps: spec.steps[0]" || r.EndedAt == nil || !r.EndedAt.Equal(at) || r.EndedAt.Location() != time.UTC {
			t.Errorf("finished run = %+v", r)
		}

		page, total, err := db.ListGameDayRuns(ctx, g.ID, Page{Limit: 2})
		if err != nil || total != 3 || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
			t.Fatalf("first page = %+v, %d, %v", page, total, err)
		}
		page, _, _ = db.ListGameDayRuns(ctx, g.ID, Page{Limit: 2, Offset: 2})
		if len(page) != 1 || page[0].ID != ids[0] || page[0].Report != nil || page[0].Status != runstatus.Failed {
			t.Errorf("second page = %+v (reports are left out)", page)
		}

		// The two runs still running belonged to a process that died.
		moved, err := db.MarkGameDaysInterrupted(ctx, "the server stopped", time.Time{})
		if err != nil || len(moved) != 2 || moved[0] != ids[1] || moved[1] != ids[2] {
			t.Fatalf("MarkGameDaysInterrupted = %v, %v", moved, err)
		}
		for _, id := range ids[1:] {
			r, _ := db.GetGameDayRun(ctx, id)
			if r.Status != runstatus.Interrupted || r.Reason != "the server stopped" || r.EndedAt == nil {
				t.Errorf("run %d after the mark = %+v", id, r)
			}
		}
		if r, _ := db.GetGameDayRun(ctx, ids[0]); r.Status != runstatus.Failed {
			t.Errorf("an ended run was marked too: %+v", r)
		}
		if moved, err := db.MarkGameDaysInterrupted(ctx, "again", time.Time{}); err != nil || len(moved) != 0 {
			t.Errorf("second mark = %v, %v", moved, err)
		}
	})
}

func TestWebhookDeliveriesAndStepRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		g := createGameDay(t, db, "gd")
		gr := createGameDayRun(t, db, g)
		d1 := &WebhookDelivery{GameDayRunID: gr.ID, Event: "failed", URL: "http://127.0.0.1:1/hook", Attempts: 3, Error: "connection refused"}
		d2 := &WebhookDelivery{GameDayRunID: gr.ID, Event: "failed", URL: "http://127.0.0.1:2/hook", StatusCode: 204, Attempts: 1}
		for _, d := range []*WebhookDelivery{d1, d2} {
			if err := db.RecordWebhookDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, "no event", db.RecordWebhookDelivery(ctx, &WebhookDelivery{GameDayRunID: gr.ID, URL: "http://x"}), ErrInvalid)
		wantErr(t, "unknown run", db.RecordWebhookDelivery(ctx, &WebhookDelivery{GameDayRunID: 999, Event: "failed", URL: "http://x"}), ErrNotFound)
		list, err := db.ListWebhookDeliveries(ctx, gr.ID)
		if err != nil || len(list) != 2 || list[0] != *d1 || list[1] != *d2 || list[0].DeliveredAt.IsZero() {
			t.Errorf("deliveries = %+v, %v", list, err)
		}

		// A step's run names its game-day run and step, and stays out of the
		// experiment's pruning.
		e := createExperiment(t, db, "exp")
		step := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued, Seed: 1,
			GameDayRunID: &gr.ID, GameDayStep: "spec.steps[2].parallel[0]"}
		if err := db.CreateRun(ctx, step); err != nil {
			t.Fatal(err)
		}
		own := createRun(t, db, e, runstatus.Queued)
		for _, id := range []int64{step.ID, own.ID} {
			if err := db.FinishRun(ctx, id, runstatus.Succeeded, "pass", "", nil, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.GetRun(ctx, step.ID)
		if err != nil || got.GameDayRunID == nil || *got.GameDayRunID != gr.ID || got.GameDayStep != "spec.steps[2].parallel[0]" {
			t.Errorf("step run = %+v, %v", got, err)
		}
		runs, total, err := db.ListRuns(ctx, RunFilter{GameDayRunID: gr.ID})
		if err != nil || total != 1 || runs[0].ID != step.ID || runs[0].GameDayStep == "" {
			t.Errorf("runs of the game-day run = %+v, %d, %v", runs, total, err)
		}
		createRun(t, db, e, runstatus.Failed)
		if n, err := db.PruneRuns(ctx, e.ID, 1); err != nil || n != 1 {
			t.Errorf("PruneRuns = %d, %v; want the older run of its own deleted", n, err)
		}
		if _, err := db.GetRun(ctx, step.ID); err != nil {
			t.Errorf("pruning deleted a game-day step's run: %v", err)
		}
		wantErr(t, "own run pruned", func() error { _, err := db.GetRun(ctx, own.ID); return err }(), ErrNotFound)
	})
}
