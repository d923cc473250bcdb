package store

import (
	"maps"
	"testing"
)

// TestConstraintsGiveSentinels breaks each kind of constraint of the schema
// with a write the store's own checks would have refused, straight into
// the table, and checks that both databases refuse it and that translate
// gives the same sentinel for it: a unique or primary key ErrConflict, a
// foreign key ErrNotFound, a CHECK, a NOT NULL or a json column
// ErrInvalid.
func TestConstraintsGiveSentinels(t *testing.T) {
	at := clockStart.UTC()
	experiment := map[string]any{"name": "e", "description": "", "version": 1, "source": "x", "format": "yaml", "created_at": at, "updated_at": at}
	version := map[string]any{"experiment_id": 1, "version": 2, "source": "x", "format": "yaml", "created_at": at}
	run := map[string]any{"experiment_id": 1, "experiment_name": "e", "experiment_version": 1, "status": "queued", "seed": 1, "created_at": at}
	fire := map[string]any{"experiment_id": 1, "scheduled_for": at, "fired_at": at, "outcome": "ran"}
	gameDayRun := map[string]any{"gameday_name": "g", "gameday_version": 1, "source": "x", "trigger": "api", "status": "running", "created_at": at}
	audit := map[string]any{"at": at, "actor": "alice", "method": "POST", "route": "/", "path": "/", "status": 201}
	mesh := map[string]any{"environment_id": 1, "run_id": 1, "namespace": "ns", "api_version": "v1", "kind": "K", "name": "n", "state": "saved", "expires_at": at, "created_at": at}
	// with returns row with the given columns changed.
	with := func(row map[string]any, kv ...any) map[string]any {
		out := maps.Clone(row)
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}

	tests := []struct {
		name  string
		table string
		row   map[string]any
		want  error
	}{
		{"a name in use (UNIQUE)", "experiments", with(experiment), ErrConflict},
		{"an empty name (CHECK)", "experiments", with(experiment, "name", ""), ErrInvalid},
		{"version 0 (CHECK)", "experiments", with(experiment, "name", "v0", "version", 0), ErrInvalid},
		{"an unknown format (CHECK)", "experiments", with(experiment, "name", "toml", "format", "toml"), ErrInvalid},
		{"no source (NOT NULL)", "experiments", with(experiment, "name", "nil", "source", nil), ErrInvalid},
		{"a version in use (PRIMARY KEY)", "experiment_versions", with(version, "version", 1), ErrConflict},
		{"a version of no experiment (FOREIGN KEY)", "experiment_versions", with(version, "experiment_id", 99), ErrNotFound},
		{"a run of no experiment (FOREIGN KEY)", "runs", with(run, "experiment_id", 99), ErrNotFound},
		{"an unknown run status (CHECK)", "runs", with(run, "status", "paused"), ErrInvalid},
		{"a report that is not JSON (CHECK json_valid; json)", "runs", with(run, "report", "{nope"), ErrInvalid},
		{"a scheduled time fired already (UNIQUE)", "schedule_fires", with(fire), ErrConflict},
		{"an unknown outcome (CHECK)", "schedule_fires", with(fire, "scheduled_for", at.Add(1e9), "outcome", "maybe"), ErrInvalid},
		{"an unknown trigger (CHECK)", "gameday_runs", with(gameDayRun, "trigger", "cron"), ErrInvalid},
		{"an unknown game-day run status (CHECK)", "gameday_runs", with(gameDayRun, "status", "queued"), ErrInvalid},
		{"an audit entry without an actor (CHECK)", "audit_log", with(audit, "actor", ""), ErrInvalid},
		{"an unknown mesh change state (CHECK)", "mesh_changes", with(mesh, "state", "lost"), ErrInvalid},
		{"a mesh change without a namespace (CHECK)", "mesh_changes", with(mesh, "namespace", ""), ErrInvalid},
	}
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		// The rows the cases clash with or point at.
		for _, seed := range []struct {
			table string
			row   map[string]any
		}{{"experiments", experiment}, {"experiment_versions", with(version, "version", 1)}, {"runs", run}, {"schedule_fires", fire}} {
			if err := db.gdb.WithContext(t.Context()).Table(seed.table).Create(maps.Clone(seed.row)).Error; err != nil {
				t.Fatalf("seeding %s: %v", seed.table, err)
			}
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := translate("insert", db.gdb.WithContext(t.Context()).Table(tc.table).Create(tc.row).Error)
				wantErr(t, tc.table+": "+tc.name, err, tc.want)
			})
		}
	})
}
