package store

import (
	"testing"

	"github.com/faultline/faultline/server/runstatus"
)

func TestEnvironmentsAreVersioned(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		e := &Environment{Name: "staging", Description: "the team's staging", Source: "kind: Environment # v1\n", Format: FormatYAML}
		if err := db.CreateEnvironment(ctx, e); err != nil {
			t.Fatalf("CreateEnvironment: %v", err)
		}
		if e.ID == 0 || e.Version != 1 {
			t.Fatalf("created: id %d version %d", e.ID, e.Version)
		}
		wantErr(t, "second environment with the name", db.CreateEnvironment(ctx, &Environment{Name: "staging", Source: "x", Format: FormatYAML}), ErrConflict)
		wantErr(t, "no name", db.CreateEnvironment(ctx, &Environment{Source: "x", Format: FormatYAML}), ErrInvalid)

		e.Source = "{\"kind\": \"Environment\"}"
		e.Format = FormatJSON
		if err := db.UpdateEnvironment(ctx, e); err != nil {
			t.Fatalf("UpdateEnvironment: %v", err)
		}
		if e.Version != 2 {
			t.Errorf("version after update: got %d, want 2", e.Version)
		}
		got, err := db.GetEnvironmentByName(ctx, "staging")
		if err != nil {
			t.Fatalf("GetEnvironmentByName: %v", err)
		}
		if got.ID != e.ID || got.Source != e.Source || got.Format != FormatJSON || got.Description != "the team's staging" {
			t.Errorf("stored: %+v", got)
		}
		v1, err := db.GetEnvironmentVersion(ctx, e.ID, 1)
		if err != nil {
			t.Fatalf("GetEnvironmentVersion: %v", err)
		}
		if v1.Source != "kind: Environment # v1\n" || v1.Format != FormatYAML || v1.OwnerID != e.ID {
			t.Errorf("version 1: %+v", v1)
		}
		wantErr(t, "unknown version", errOf(db.GetEnvironmentVersion(ctx, e.ID, 3)), ErrNotFound)
		wantErr(t, "update of an unknown environment", db.UpdateEnvironment(ctx, &Environment{ID: 99, Name: "x", Source: "x", Format: FormatYAML}), ErrNotFound)

		list, total, err := db.ListEnvironments(ctx, Page{})
		if err != nil || total != 1 || len(list) != 1 || list[0].Name != "staging" {
			t.Errorf("ListEnvironments: %v %d %+v", err, total, list)
		}
		// Experiments and environments are apart: same name, other table.
		createExperiment(t, db, "staging")
	})
}

func TestDeleteEnvironmentWithActiveRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		env := &Environment{Name: "staging", Source: "x", Format: FormatYAML}
		if err := db.CreateEnvironment(ctx, env); err != nil {
			t.Fatal(err)
		}
		exp := createExperiment(t, db, "delay")
		r := &Run{ExperimentID: &exp.ID, ExperimentName: exp.Name, ExperimentVersion: 1, Status: runstatus.Running, Seed: 1, Environment: "staging", EnvironmentVersion: 1}
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "delete with a running run", db.DeleteEnvironment(ctx, env.ID), ErrConflict)
		if err := db.FinishRun(ctx, r.ID, runstatus.Succeeded, "pass", "", nil, clockStart); err != nil {
			t.Fatal(err)
		}
		runs, total, err := db.ListRuns(ctx, RunFilter{Environment: "staging"})
		if err != nil || total != 1 || runs[0].Environment != "staging" || runs[0].EnvironmentVersion != 1 {
			t.Fatalf("runs on staging: %v %d %+v", err, total, runs)
		}
		if err := db.DeleteEnvironment(ctx, env.ID); err != nil {
			t.Fatalf("DeleteEnvironment: %v", err)
		}
		wantErr(t, "deleted", errOf(db.GetEnvironment(ctx, env.ID)), ErrNotFound)
		wantErr(t, "delete twice", db.DeleteEnvironment(ctx, env.ID), ErrNotFound)
		if n := queryInt(t, db, "SELECT count(*) FROM environment_versions"); n != 0 {
			t.Errorf("versions left: %d", n)
		}
		kept, err := db.GetRun(ctx, r.ID)
		if err != nil || kept.Environment != "staging" {
			t.Errorf("the run keeps the environment's name: %v %+v", err, kept)
		}
	})
}

func errOf[T any](_ T, err error) error { return err }
