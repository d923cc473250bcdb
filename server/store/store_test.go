package store

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/faultline/faultline/server/runstatus"
)

// stepClock is a fake clock: every reading is step later than the one
// before. It starts in a non-UTC zone with nanoseconds so that tests see
// the store normalise to UTC without losing precision.
type stepClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

var clockStart = time.Date(2026, 11, 25, 22, 10, 0, 123456789, time.FixedZone("CET", 3600))

func newStepClock() *stepClock { return &stepClock{next: clockStart, step: 1500 * time.Millisecond} }

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

// openTestDB opens the database dsn names (see eachBackend) with a step
// clock and closes it when the test ends.
func openTestDB(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	db.now = newStepClock().now
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func createExperiment(t *testing.T, db *DB, name string) *Experiment {
	t.Helper()
	e := &Experiment{Name: name, Source: "metadata:\n  name: " + name + "\n", Format: FormatYAML}
	if err := db.CreateExperiment(t.Context(), e); err != nil {
		t.Fatalf("CreateExperiment(%q): %v", name, err)
	}
	return e
}

func createRun(t *testing.T, db *DB, e *Experiment, status runstatus.Status) *Run {
	t.Helper()
	r := &Run{ExperimentName: "adhoc", ExperimentVersion: 1, Status: status, Seed: 42}
	if e != nil {
		r.ExperimentID, r.ExperimentName, r.ExperimentVersion = &e.ID, e.Name, e.Version
	}
	if err := db.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return r
}

// queryString runs a query of one row and one column, through gorm so that
// its ? placeholders suit either database.
func queryString(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	var s string
	if err := db.gdb.WithContext(t.Context()).Raw(query, args...).Row().Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// queryInt is queryString for an integer.
func queryInt(t *testing.T, db *DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.gdb.WithContext(t.Context()).Raw(query, args...).Row().Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// dialectSQL picks the statement for db's database, where SQLite and
// PostgreSQL spell it differently.
func dialectSQL(db *DB, sqlite, postgres string) string {
	if db.backend.name == "postgres" {
		return postgres
	}
	return sqlite
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func TestOpenAppliesMigrations(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		tables := dialectSQL(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
			"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?")
		for _, table := range []string{"experiments", "experiment_versions", "runs", "run_transitions", "lever_events", "schedule_fires",
			"gamedays", "gameday_runs", "gameday_fires", "webhook_deliveries", "environments", "environment_versions", "audit_log",
			"mesh_changes", "environment_leases", "goose_db_version"} {
			if n := queryInt(t, db, tables, table); n != 1 {
				t.Errorf("table %s: found %d, want 1", table, n)
			}
		}
		indexes := dialectSQL(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?",
			"SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?")
		for _, index := range []string{"runs_experiment_id_id", "runs_status", "run_transitions_run_id_id", "mesh_changes_open", "runs_owner", "gameday_runs_owner"} {
			if n := queryInt(t, db, indexes, index); n != 1 {
				t.Errorf("index %s: found %d, want 1", index, n)
			}
		}
		if got, want := queryInt(t, db, "SELECT max(version_id) FROM goose_db_version WHERE is_applied"), int64(8); got != want { // the latest migration
			t.Errorf("goose version: got %d, want %d", got, want)
		}
	})
}

// TestOpenSetsUpTheConnections checks what Open promises of the
// connections to each database.
func TestOpenSetsUpTheConnections(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := openTestDB(t, sqliteDSN(t))
		if got := db.sqlDB.Stats().MaxOpenConnections; got != 1 {
			t.Errorf("pool size: got %d, want 1", got)
		}
		// The pool has one connection, so these read the same connection the
		// store uses.
		pragmas := []struct{ name, want string }{
			{"journal_mode", "wal"},
			{"busy_timeout", "5000"},
			{"foreign_keys", "1"},
			{"synchronous", "1"}, // NORMAL
		}
		for _, p := range pragmas {
			if got := queryString(t, db, "PRAGMA "+p.name); got != p.want {
				t.Errorf("PRAGMA %s: got %q, want %q", p.name, got, p.want)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db := openTestDB(t, postgresDSN(t))
		if got := db.sqlDB.Stats().MaxOpenConnections; got != maxPostgresConns {
			t.Errorf("pool size: got %d, want %d", got, maxPostgresConns)
		}
		for _, s := range []struct{ name, want string }{
			{"TimeZone", "UTC"},
			{"application_name", "faultline"},
		} {
			if got := queryString(t, db, "SELECT current_setting(?)", s.name); got != s.want {
				t.Errorf("%s: got %q, want %q", s.name, got, s.want)
			}
		}
		// A read transaction is one snapshot; a write transaction holds the
		// store's write lock.
		var isolation, readOnly string
		err := db.gdb.WithContext(t.Context()).Transaction(func(tx *gorm.DB) error {
			if err := tx.Raw("SELECT current_setting('transaction_isolation')").Row().Scan(&isolation); err != nil {
				return err
			}
			return tx.Raw("SELECT current_setting('transaction_read_only')").Row().Scan(&readOnly)
		}, db.backend.readOnly)
		if err != nil || isolation != "repeatable read" || readOnly != "on" {
			t.Errorf("read transaction: isolation %q, read only %q, %v; want repeatable read, on", isolation, readOnly, err)
		}
		var locks int64
		err = db.write(t.Context(), func(tx *gorm.DB) error {
			return tx.Raw("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted").Row().Scan(&locks)
		})
		if err != nil || locks != 1 {
			t.Errorf("advisory locks held in a write transaction: %d, %v; want 1", locks, err)
		}
	})
}

func TestOpenRefusesNonFilePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		db, err := Open(t.Context(), path)
		if err == nil {
			db.Close()
		}
		wantErr(t, fmt.Sprintf("Open(%q)", path), err, ErrInvalid)
	}
}

// TestOpenOddPath: characters that mean something in a SQLite URI must
// still name the file literally.
func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b#c?d%25e.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the literal path: %v", err)
	}
}

// TestMigrationsDownAndUp checks that the Down sections undo the Up sections
// cleanly, so a later migration can be rolled back through them.
func TestMigrationsDownAndUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		createExperiment(t, db, "before-down")
		p, err := db.migrator()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(t.Context(), 0); err != nil {
			t.Fatalf("DownTo(0): %v", err)
		}
		left := dialectSQL(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT IN ('goose_db_version', 'sqlite_sequence')",
			"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'")
		if n := queryInt(t, db, left); n != 0 {
			t.Errorf("after down: %d tables left", n)
		}
		if _, err := p.Up(t.Context()); err != nil {
			t.Fatalf("Up: %v", err)
		}
		createExperiment(t, db, "after-up")
	})
}

// TestTimesRoundTripUTC pins down how times are stored: in UTC at the
// database's precision (SQLite: text with nanoseconds; PostgreSQL:
// timestamptz with microseconds), read back as an equal time.Time in UTC.
func TestTimesRoundTripUTC(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		e := createExperiment(t, db, "times")
		want := clockStart.UTC().Truncate(db.backend.precision)
		if got := e.CreatedAt; got != want {
			t.Errorf("CreatedAt set on create: got %v, want %v", got, want)
		}
		got, err := db.GetExperiment(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CreatedAt != want {
			t.Errorf("CreatedAt read back: got %v, want %v in UTC", got.CreatedAt, want)
		}
		if got.CreatedAt != e.CreatedAt {
			t.Errorf("read back %#v differs from the value set on create %#v", got.CreatedAt, e.CreatedAt)
		}
		// An expression, so that the driver does not parse it.
		raw := queryString(t, db, dialectSQL(db,
			"SELECT typeof(created_at) || ' ' || created_at FROM experiments WHERE id = ?",
			"SELECT pg_typeof(created_at)::text || ' ' || (created_at AT TIME ZONE 'UTC')::text FROM experiments WHERE id = ?"), e.ID)
		wantRaw := dialectSQL(db, "text 2026-11-25 21:10:00.123456789+00:00", "timestamp with time zone 2026-11-25 21:10:00.123456")
		if raw != wantRaw {
			t.Errorf("stored: got %q, want %q", raw, wantRaw)
		}

		// A caller-supplied time with a monotonic reading and a zone.
		at := time.Now().In(time.FixedZone("X", -5*3600))
		r := createRun(t, db, e, runstatus.Queued)
		if err := db.SetRunStatus(t.Context(), r.ID, runstatus.Running, "", at); err != nil {
			t.Fatal(err)
		}
		run, err := db.GetRun(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := at.UTC().Truncate(db.backend.precision); run.StartedAt == nil || *run.StartedAt != want {
			t.Errorf("StartedAt: got %v, want %v", run.StartedAt, want)
		}
	})
}

// verbatimSources are documents whose bytes must survive exactly: comments,
// CRLF, tabs, trailing blanks, a BOM, non-ASCII, no final newline.
var verbatimSources = []string{
	"# v1: the first draft\napiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata:\n  name: x   \n\n\n",
	"\ufeff# v2 — with a BOM and CRLF\r\nmetadata:\r\n\tname: x # trailing comment\r\n  description: \"ünïcödé ✓\"\r\n",
	`{"apiVersion": "faultline.dev/v1alpha1",   "kind":"Experiment"  }`,
}

func TestExperimentVersionsKeepSourcesVerbatim(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()

		e := &Experiment{Name: "x", Description: "first", Source: verbatimSources[0], Format: FormatYAML}
		if err := db.CreateExperiment(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 || e.Version != 1 || e.CreatedAt.IsZero() || e.UpdatedAt != e.CreatedAt {
			t.Fatalf("after create: %+v", e)
		}
		created := e.CreatedAt

		for i, src := range verbatimSources[1:] {
			e.Source, e.Description = src, fmt.Sprintf("update %d", i+1)
			if i == 1 {
				e.Format, e.Name = FormatJSON, "x-renamed"
			}
			if err := db.UpdateExperiment(ctx, e); err != nil {
				t.Fatalf("update %d: %v", i+1, err)
			}
			if got, want := e.Version, i+2; got != want {
				t.Errorf("version after update %d: got %d, want %d", i+1, got, want)
			}
			if e.CreatedAt != created || !e.UpdatedAt.After(created) {
				t.Errorf("after update %d: CreatedAt %v (want %v), UpdatedAt %v", i+1, e.CreatedAt, created, e.UpdatedAt)
			}
		}

		got, err := db.GetExperiment(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *e {
			t.Errorf("GetExperiment:\n got %+v\nwant %+v", *got, *e)
		}
		byName, err := db.GetExperimentByName(ctx, "x-renamed")
		if err != nil || byName.ID != e.ID {
			t.Errorf("GetExperimentByName: got %+v, %v", byName, err)
		}

		formats := []string{FormatYAML, FormatYAML, FormatJSON}
		for i, want := range verbatimSources {
			v, err := db.GetExperimentVersion(ctx, e.ID, i+1)
			if err != nil {
				t.Fatalf("version %d: %v", i+1, err)
			}
			if v.Source != want {
				t.Errorf("version %d source:\n got %q\nwant %q", i+1, v.Source, want)
			}
			if v.Format != formats[i] || v.ExperimentID != e.ID || v.Version != i+1 {
				t.Errorf("version %d: %+v", i+1, v)
			}
		}
		if v, err := db.GetExperimentVersion(ctx, e.ID, 1); err == nil && v.CreatedAt != created {
			t.Errorf("version 1 CreatedAt: got %v, want %v", v.CreatedAt, created)
		}
	})
}

func TestExperimentErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		a := createExperiment(t, db, "a")
		createExperiment(t, db, "b")

		tests := []struct {
			name string
			do   func() error
			want error
		}{
			{"duplicate name on create", func() error {
				return db.CreateExperiment(ctx, &Experiment{Name: "a", Source: "x", Format: FormatYAML})
			}, ErrConflict},
			{"rename onto another experiment's name", func() error {
				return db.UpdateExperiment(ctx, &Experiment{ID: a.ID, Name: "b", Source: "x", Format: FormatYAML})
			}, ErrConflict},
			{"update a missing experiment", func() error {
				return db.UpdateExperiment(ctx, &Experiment{ID: 999, Name: "c", Source: "x", Format: FormatYAML})
			}, ErrNotFound},
			{"get a missing id", func() error { _, err := db.GetExperiment(ctx, 999); return err }, ErrNotFound},
			{"get a missing name", func() error { _, err := db.GetExperimentByName(ctx, "zzz"); return err }, ErrNotFound},
			{"get a missing version", func() error { _, err := db.GetExperimentVersion(ctx, a.ID, 2); return err }, ErrNotFound},
			{"delete a missing experiment", func() error { return db.DeleteExperiment(ctx, 999) }, ErrNotFound},
			{"empty name", func() error {
				return db.CreateExperiment(ctx, &Experiment{Source: "x", Format: FormatYAML})
			}, ErrInvalid},
			{"unknown format", func() error {
				return db.CreateExperiment(ctx, &Experiment{Name: "c", Source: "x", Format: "toml"})
			}, ErrInvalid},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.do()
				wantErr(t, tc.name, err, tc.want)
				if err != nil && !strings.HasPrefix(err.Error(), "store: ") {
					t.Errorf("error %q lacks the store: prefix", err)
				}
			})
		}

		// The failed rename rolled back completely: still version 1, one version row.
		got, err := db.GetExperiment(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "a" || got.Version != 1 {
			t.Errorf("after failed rename: %+v", got)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM experiment_versions WHERE experiment_id = ?", a.ID); n != 1 {
			t.Errorf("version rows after failed rename: %d, want 1", n)
		}
	})
}

func TestListExperimentsPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		for i := range 7 {
			createExperiment(t, db, fmt.Sprintf("e%d", i))
		}
		tests := []struct {
			name    string
			page    Page
			wantIDs []int64
		}{
			{"zero page means the first 50", Page{}, []int64{1, 2, 3, 4, 5, 6, 7}},
			{"first page", Page{Limit: 3}, []int64{1, 2, 3}},
			{"middle page", Page{Limit: 3, Offset: 3}, []int64{4, 5, 6}},
			{"short last page", Page{Limit: 3, Offset: 6}, []int64{7}},
			{"past the end is empty, not an error", Page{Limit: 3, Offset: 10}, nil},
			{"negative offset starts at the first", Page{Limit: 2, Offset: -4}, []int64{1, 2}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := db.ListExperiments(t.Context(), tc.page)
				if err != nil {
					t.Fatal(err)
				}
				if total != 7 {
					t.Errorf("total: got %d, want 7", total)
				}
				var ids []int64
				for _, e := range got {
					ids = append(ids, e.ID)
					if e.Source == "" || e.Version != 1 {
						t.Errorf("listed experiment incomplete: %+v", e)
					}
				}
				if !slices.Equal(ids, tc.wantIDs) {
					t.Errorf("ids: got %v, want %v", ids, tc.wantIDs)
				}
			})
		}
	})
}

func TestPageWindow(t *testing.T) {
	tests := []struct {
		name                  string
		page                  Page
		wantLimit, wantOffset int
	}{
		{"zero limit is the default", Page{}, 50, 0},
		{"negative limit is the default", Page{Limit: -1}, 50, 0},
		{"limit kept", Page{Limit: 10, Offset: 20}, 10, 20},
		{"limit at the cap kept", Page{Limit: 500}, 500, 0},
		{"limit above the cap capped", Page{Limit: 501}, 500, 0},
		{"negative offset is zero", Page{Offset: -1}, 50, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, o := tc.page.window()
			if l != tc.wantLimit || o != tc.wantOffset {
				t.Errorf("got (%d, %d), want (%d, %d)", l, o, tc.wantLimit, tc.wantOffset)
			}
		})
	}
}

func TestDeleteExperimentCascadesAndKeepsRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		e := createExperiment(t, db, "doomed")
		e.Source = "v2"
		if err := db.UpdateExperiment(ctx, e); err != nil {
			t.Fatal(err)
		}
		other := createExperiment(t, db, "other")
		r := createRun(t, db, e, runstatus.Queued)
		if err := db.FinishRun(ctx, r.ID, runstatus.Succeeded, "pass", "", []byte(`{"requests":1}`), time.Time{}); err != nil {
			t.Fatal(err)
		}
		otherRun := createRun(t, db, other, runstatus.Queued)

		if err := db.DeleteExperiment(ctx, e.ID); err != nil {
			t.Fatalf("DeleteExperiment: %v", err)
		}
		_, err := db.GetExperiment(ctx, e.ID)
		wantErr(t, "get deleted experiment", err, ErrNotFound)
		_, err = db.GetExperimentVersion(ctx, e.ID, 1)
		wantErr(t, "get version of deleted experiment", err, ErrNotFound)
		if n := queryInt(t, db, "SELECT count(*) FROM experiment_versions WHERE experiment_id = ?", e.ID); n != 0 {
			t.Errorf("version rows left: %d", n)
		}

		got, err := db.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatalf("run of deleted experiment: %v", err)
		}
		if got.ExperimentID != nil || got.ExperimentName != "doomed" || got.ExperimentVersion != 2 || string(got.Report) != `{"requests":1}` {
			t.Errorf("run of deleted experiment: %+v", got)
		}
		if tr, err := db.Transitions(ctx, r.ID); err != nil || len(tr) != 2 {
			t.Errorf("transitions of the kept run: %v, %v", tr, err)
		}
		if got, err := db.GetRun(ctx, otherRun.ID); err != nil || got.ExperimentID == nil || *got.ExperimentID != other.ID {
			t.Errorf("other experiment's run touched: %+v, %v", got, err)
		}
		wantErr(t, "delete twice", db.DeleteExperiment(ctx, e.ID), ErrNotFound)
	})
}

func TestDeleteExperimentWithActiveRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		for _, status := range runstatus.AllActive() {
			t.Run(string(status), func(t *testing.T) {
				db := openTestDB(t, dsn)
				ctx := t.Context()
				e := createExperiment(t, db, "busy")
				r := createRun(t, db, e, runstatus.Queued)
				if status == runstatus.Running {
					if err := db.SetRunStatus(ctx, r.ID, runstatus.Running, "", time.Time{}); err != nil {
						t.Fatal(err)
					}
				}
				wantErr(t, "delete with active run", db.DeleteExperiment(ctx, e.ID), ErrConflict)
				if _, err := db.GetExperiment(ctx, e.ID); err != nil {
					t.Errorf("experiment gone after refused delete: %v", err)
				}
				if err := db.FinishRun(ctx, r.ID, runstatus.Stopped, "", "by test", nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
				if err := db.DeleteExperiment(ctx, e.ID); err != nil {
					t.Errorf("delete once the run finished: %v", err)
				}
			})
		}
	})
}

func TestRunLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		e := createExperiment(t, db, "life")
		// Microseconds: the finest both databases keep (TestTimesRoundTripUTC
		// covers precision).
		t0 := time.Date(2026, 11, 25, 10, 0, 0, 1000, time.UTC)
		t1, t2, t3 := t0.Add(time.Second), t0.Add(5*time.Second), t0.Add(9*time.Second)

		r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: e.Version,
			Status: runstatus.Queued, Reason: "manual", Seed: -7, CreatedAt: t0}
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := db.SetRunStatus(ctx, r.ID, runstatus.Running, "", t1); err != nil {
			t.Fatal(err)
		}
		// A second "running" (say, a progress note) must not move StartedAt.
		if err := db.SetRunStatus(ctx, r.ID, runstatus.Running, "load phase", t2); err != nil {
			t.Fatal(err)
		}
		report := []byte(`{"experiment":"life","status":"succeeded","verdict":"pass","codes":{"200":30}}`)
		if err := db.FinishRun(ctx, r.ID, runstatus.Succeeded, "pass", "", report, t3); err != nil {
			t.Fatal(err)
		}

		got, err := db.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := Run{ID: r.ID, ExperimentID: &e.ID, ExperimentName: "life", ExperimentVersion: 1,
			Status: runstatus.Succeeded, Verdict: "pass", Seed: -7, CreatedAt: t0, StartedAt: &t1, EndedAt: &t3, Report: report}
		if got.ID != want.ID || *got.ExperimentID != *want.ExperimentID || got.ExperimentName != want.ExperimentName ||
			got.ExperimentVersion != want.ExperimentVersion || got.Status != want.Status || got.Reason != want.Reason ||
			got.Verdict != want.Verdict || got.Seed != want.Seed || got.CreatedAt != want.CreatedAt ||
			got.StartedAt == nil || *got.StartedAt != t1 || got.EndedAt == nil || *got.EndedAt != t3 ||
			string(got.Report) != string(report) {
			t.Errorf("GetRun:\n got %+v\nwant %+v", *got, want)
		}
		// The report is stored as JSON text, usable from SQL.
		query := dialectSQL(db, "SELECT typeof(report) || ' ' || json_extract(report, '$.verdict') FROM runs WHERE id = ?",
			"SELECT pg_typeof(report)::text || ' ' || (report->>'verdict') FROM runs WHERE id = ?")
		if got, want := queryString(t, db, query, r.ID), dialectSQL(db, "text pass", "json pass"); got != want {
			t.Errorf("report in SQL: got %q, want %q", got, want)
		}

		tr, err := db.Transitions(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantTr := []Transition{
			{r.ID, runstatus.Queued, "manual", t0},
			{r.ID, runstatus.Running, "", t1},
			{r.ID, runstatus.Running, "load phase", t2},
			{r.ID, runstatus.Succeeded, "", t3},
		}
		if !slices.Equal(tr, wantTr) {
			t.Errorf("transitions:\n got %v\nwant %v", tr, wantTr)
		}

		// Once terminal, a run never changes again, and no transition is added.
		wantErr(t, "FinishRun twice", db.FinishRun(ctx, r.ID, runstatus.Failed, "fail", "", nil, time.Time{}), ErrConflict)
		wantErr(t, "running after finish", db.SetRunStatus(ctx, r.ID, runstatus.Running, "", time.Time{}), ErrConflict)
		if tr, _ := db.Transitions(ctx, r.ID); len(tr) != len(wantTr) {
			t.Errorf("transitions after refused changes: %d, want %d", len(tr), len(wantTr))
		}
		if got, _ := db.GetRun(ctx, r.ID); got.Status != runstatus.Succeeded || got.Verdict != "pass" {
			t.Errorf("run changed by a refused FinishRun: %+v", got)
		}
	})
}

func TestRunErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		r := createRun(t, db, nil, runstatus.Queued)
		missing := int64(999)

		tests := []struct {
			name string
			do   func() error
			want error
		}{
			{"create with an unknown status", func() error {
				return db.CreateRun(ctx, &Run{ExperimentName: "x", Status: "done"})
			}, ErrInvalid},
			{"create with an empty status", func() error { return db.CreateRun(ctx, &Run{ExperimentName: "x"}) }, ErrInvalid},
			{"create for a missing experiment", func() error {
				return db.CreateRun(ctx, &Run{ExperimentID: &missing, ExperimentName: "x", Status: runstatus.Queued})
			}, ErrNotFound},
			{"get a missing run", func() error { _, err := db.GetRun(ctx, missing); return err }, ErrNotFound},
			{"transitions of a missing run", func() error { _, err := db.Transitions(ctx, missing); return err }, ErrNotFound},
			{"status of a missing run", func() error {
				return db.SetRunStatus(ctx, missing, runstatus.Running, "", time.Time{})
			}, ErrNotFound},
			{"unknown status", func() error { return db.SetRunStatus(ctx, r.ID, "paused", "", time.Time{}) }, ErrInvalid},
			{"terminal status through SetRunStatus", func() error {
				return db.SetRunStatus(ctx, r.ID, runstatus.Succeeded, "", time.Time{})
			}, ErrInvalid},
			{"finish a missing run", func() error {
				return db.FinishRun(ctx, missing, runstatus.Failed, "", "", nil, time.Time{})
			}, ErrNotFound},
			{"finish with a non-terminal status", func() error {
				return db.FinishRun(ctx, r.ID, runstatus.Running, "", "", nil, time.Time{})
			}, ErrInvalid},
			{"finish with a report that is not JSON", func() error {
				return db.FinishRun(ctx, r.ID, runstatus.Succeeded, "", "", []byte("{nope"), time.Time{})
			}, ErrInvalid},
			{"list with an unknown status", func() error { _, _, err := db.ListRuns(ctx, RunFilter{Status: "x"}); return err }, ErrInvalid},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.do(), tc.want) })
		}
		if got, err := db.GetRun(ctx, r.ID); err != nil || got.Status != runstatus.Queued {
			t.Errorf("run changed by refused calls: %+v, %v", got, err)
		}
	})
}

func TestListRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		a, b := createExperiment(t, db, "a"), createExperiment(t, db, "b")
		var aRuns []int64
		for i := range 5 {
			r := createRun(t, db, a, runstatus.Queued)
			aRuns = append(aRuns, r.ID)
			if i%2 == 0 {
				if err := db.FinishRun(ctx, r.ID, runstatus.Failed, "fail", "", []byte(`{"big":"report"}`), time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		bRun := createRun(t, db, b, runstatus.Queued)

		tests := []struct {
			name      string
			filter    RunFilter
			wantIDs   []int64
			wantTotal int64
		}{
			{"all, newest first", RunFilter{}, []int64{bRun.ID, aRuns[4], aRuns[3], aRuns[2], aRuns[1], aRuns[0]}, 6},
			{"one experiment", RunFilter{ExperimentID: a.ID}, []int64{aRuns[4], aRuns[3], aRuns[2], aRuns[1], aRuns[0]}, 5},
			{"one status", RunFilter{Status: runstatus.Queued}, []int64{bRun.ID, aRuns[3], aRuns[1]}, 3},
			{"experiment and status", RunFilter{ExperimentID: a.ID, Status: runstatus.Failed}, []int64{aRuns[4], aRuns[2], aRuns[0]}, 3},
			{"a page", RunFilter{ExperimentID: a.ID, Page: Page{Limit: 2, Offset: 1}}, []int64{aRuns[3], aRuns[2]}, 5},
			{"no match", RunFilter{ExperimentID: 999}, nil, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := db.ListRuns(ctx, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, r := range got {
					ids = append(ids, r.ID)
					if r.Report != nil {
						t.Errorf("run %d: ListRuns loaded the report", r.ID)
					}
					if r.Status == runstatus.Failed && (r.EndedAt == nil || r.Verdict != "fail") {
						t.Errorf("run %d incomplete: %+v", r.ID, r)
					}
				}
				if !slices.Equal(ids, tc.wantIDs) || total != tc.wantTotal {
					t.Errorf("got %v (total %d), want %v (total %d)", ids, total, tc.wantIDs, tc.wantTotal)
				}
			})
		}
	})
}

func TestMarkInterrupted(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		e := createExperiment(t, db, "e")
		queued := createRun(t, db, e, runstatus.Queued)
		running := createRun(t, db, e, runstatus.Queued)
		if err := db.SetRunStatus(ctx, running.ID, runstatus.Running, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		done := createRun(t, db, e, runstatus.Queued)
		if err := db.FinishRun(ctx, done.ID, runstatus.Succeeded, "pass", "", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		doneBefore, err := db.GetRun(ctx, done.ID)
		if err != nil {
			t.Fatal(err)
		}

		at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
		n, err := db.MarkInterrupted(ctx, "server restarted", at)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("MarkInterrupted: got %d, want 2", n)
		}
		for _, id := range []int64{queued.ID, running.ID} {
			r, err := db.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != runstatus.Interrupted || r.Reason != "server restarted" || r.EndedAt == nil || *r.EndedAt != at {
				t.Errorf("run %d: %+v", id, r)
			}
			tr, err := db.Transitions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if last := tr[len(tr)-1]; last != (Transition{id, runstatus.Interrupted, "server restarted", at}) {
				t.Errorf("run %d last transition: %+v", id, last)
			}
		}
		doneAfter, err := db.GetRun(ctx, done.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doneAfter.Status != runstatus.Succeeded || *doneAfter.EndedAt != *doneBefore.EndedAt || doneAfter.Report != nil {
			t.Errorf("finished run touched: %+v", doneAfter)
		}
		if tr, _ := db.Transitions(ctx, done.ID); len(tr) != 2 {
			t.Errorf("finished run got %d transitions, want 2", len(tr))
		}
		if n, err := db.MarkInterrupted(ctx, "again", time.Time{}); err != nil || n != 0 {
			t.Errorf("second MarkInterrupted: %d, %v; want 0", n, err)
		}
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		e := &Experiment{Name: "kept", Source: verbatimSources[1], Format: FormatYAML}
		if err := db.CreateExperiment(ctx, e); err != nil {
			t.Fatal(err)
		}
		r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued, Seed: 1}
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		db, err = Open(ctx, dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer db.Close()
		got, err := db.GetExperimentByName(ctx, "kept")
		if err != nil || *got != *e {
			t.Errorf("experiment after reopen: %+v, %v; want %+v", got, err, e)
		}
		if run, err := db.GetRun(ctx, r.ID); err != nil || run.Status != runstatus.Queued {
			t.Errorf("run after reopen: %+v, %v", run, err)
		}
		files, _ := fs.Glob(db.backend.migrations, "*.sql")
		if n := queryInt(t, db, "SELECT count(*) FROM goose_db_version"); n != int64(1+len(files)) { // goose's row 0 + one per migration
			t.Errorf("goose_db_version rows after reopen: %d, want %d (migrations applied once)", n, 1+len(files))
		}
	})
}

// TestConcurrentCreateRuns: writers in one process queue for the single
// connection instead of failing with SQLITE_BUSY (SQLite), or write at once
// on connections of their own (PostgreSQL).
func TestConcurrentCreateRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		e := createExperiment(t, db, "e")
		const workers, perWorker = 8, 25
		ids := make([][]int64, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range perWorker {
					r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued}
					if err := db.CreateRun(t.Context(), r); err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					ids[w] = append(ids[w], r.ID)
				}
			})
		}
		wg.Wait()
		all := slices.Concat(ids...)
		slices.Sort(all)
		if got := len(slices.Compact(all)); got != workers*perWorker {
			t.Errorf("distinct run ids: %d, want %d", got, workers*perWorker)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM run_transitions"); n != workers*perWorker {
			t.Errorf("transitions: %d, want %d", n, workers*perWorker)
		}
	})
}

// TestConcurrentHandles: two handles on one database stand for two
// processes (the server and a CLI, say). On SQLite, busy_timeout and BEGIN
// IMMEDIATE make their writers wait for each other instead of failing; on
// PostgreSQL, the write lock does.
func TestConcurrentHandles(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db1 := openTestDB(t, dsn)
		db2, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		e := createExperiment(t, db1, "shared")

		const perWorker = 25
		var wg sync.WaitGroup
		for w, db := range []*DB{db1, db1, db1, db1, db2, db2, db2, db2} {
			wg.Go(func() {
				for i := range perWorker {
					r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued}
					if err := db.CreateRun(t.Context(), r); err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					if i%5 == 0 {
						if err := db.FinishRun(t.Context(), r.ID, runstatus.Succeeded, "pass", "", nil, time.Time{}); err != nil {
							t.Errorf("worker %d: %v", w, err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		if _, total, err := db2.ListRuns(t.Context(), RunFilter{}); err != nil || total != 8*perWorker {
			t.Errorf("runs: %d, %v; want %d", total, err, 8*perWorker)
		}
	})
}

const helperEnv = "FAULTLINE_STORE_CRASH_DB"

// TestHelperProcess is not a test: TestCrashLeavesConsistentDatabase runs
// the test binary again with helperEnv set, and this function then writes to
// the database in a loop until it is killed, printing on stdout what it has
// committed.
func TestHelperProcess(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	if dsn == "" {
		t.Skip("helper process for TestCrashLeavesConsistentDatabase")
	}
	ctx := context.Background()
	db, err := Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	body := strings.Repeat("# padding so the WAL grows past a checkpoint\n", 40)
	for i := 0; ; i++ {
		e := &Experiment{Name: fmt.Sprintf("crash-%06d", i), Source: body, Format: FormatYAML}
		if err := db.CreateExperiment(ctx, e); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Printf("experiment %d\n", e.ID) // os.Stdout is unbuffered: printed = committed
		e.Source += "# v2\n"
		if err := db.UpdateExperiment(ctx, e); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Printf("version %d %d\n", e.ID, e.Version)
		r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: e.Version, Status: runstatus.Queued, Seed: int64(i)}
		if err := db.CreateRun(ctx, r); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Printf("run %d\n", r.ID)
	}
}

// TestCrashLeavesConsistentDatabase kills a writing process with SIGKILL and
// checks that the database it leaves is intact and holds every commit the
// process reported.
// crashCycles is how many times the crash test kills a writer: a short
// loop by default (CI), -crash-cycles 32 for the long one.
var crashCycles = flag.Int("crash-cycles", 8, "kill -9 cycles of TestCrashLeavesConsistentDatabase")

func TestCrashLeavesConsistentDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for i := range *crashCycles {
				t.Run(fmt.Sprintf("kill %d", i+1), func(t *testing.T) { crashOnce(t, b.fresh(t)) })
			}
		})
	}
}

// crashOnce kills a process writing to the fresh database dsn at a random
// commit and checks what a restart finds. On PostgreSQL the server outlives
// the writer: what is under test there is that the transaction the kill
// cuts short is rolled back whole.
func crashOnce(t *testing.T, dsn string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails before the kill

	// Kill after a random number of reported commits, so that over many runs
	// the kill lands in every part of the loop (each transaction, checkpoints).
	killAfter := 300 + rand.IntN(600)
	reported := 0
	var (
		experiments = map[int64]bool{}
		versions    = map[int64]int{}
		runs        = map[int64]bool{}
		killed      bool
		lines       = make(chan string)
	)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	guard := time.NewTimer(2 * time.Minute)
	defer guard.Stop()
	start := time.Now()
read:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue // the testing package's own output
			}
			reported++
			id, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "experiment":
				experiments[id] = true
			case "version":
				v, _ := strconv.Atoi(f[2])
				versions[id] = v
			case "run":
				runs[id] = true
			}
			if !killed && reported >= killAfter {
				// Keep reading after the kill: lines already written
				// to the pipe were committed too.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		case <-guard.C:
			t.Fatalf("helper wrote %d experiments in 2 minutes; stderr:\n%s", len(experiments), stderr.String())
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended on its own (%v); stderr:\n%s", err, stderr.String())
	}
	t.Logf("helper killed after %v and %d commits: %d experiments, %d runs reported", time.Since(start).Round(time.Millisecond), killAfter, len(experiments), len(runs))
	if fi, err := os.Stat(dsn + "-wal"); err == nil {
		t.Logf("WAL left behind: %d bytes", fi.Size())
	}

	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer db.Close()
	if db.backend.name == "sqlite" {
		if got := queryString(t, db, "PRAGMA integrity_check"); got != "ok" {
			t.Fatalf("integrity_check: %s", got)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM pragma_foreign_key_check"); n != 0 {
			t.Errorf("foreign_key_check: %d violations", n)
		}
	}
	for id := range experiments {
		e, err := db.GetExperiment(t.Context(), id)
		if err != nil {
			t.Errorf("reported experiment %d: %v", id, err)
			continue
		}
		if want, ok := versions[id]; ok && e.Version != want {
			t.Errorf("experiment %d: version %d, reported %d", id, e.Version, want)
		}
	}
	for id := range runs {
		if _, err := db.GetRun(t.Context(), id); err != nil {
			t.Errorf("reported run %d: %v", id, err)
		}
	}
	// Whatever the kill cut short, each transaction is all or nothing.
	if n := queryInt(t, db, `SELECT count(*) FROM experiments e WHERE (SELECT count(*) FROM experiment_versions v
		WHERE v.experiment_id = e.id AND v.version BETWEEN 1 AND e.version) != e.version`); n != 0 {
		t.Errorf("%d experiments miss version rows", n)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM run_transitions t WHERE t.run_id = r.id)"); n != 0 {
		t.Errorf("%d runs without a transition", n)
	}
	total := queryInt(t, db, "SELECT count(*) FROM experiments")
	if total < int64(len(experiments)) || total > int64(len(experiments))+1 {
		t.Errorf("experiments stored: %d, reported %d (at most one commit may go unreported)", total, len(experiments))
	}
	// What the server does next at start-up.
	n, err := db.MarkInterrupted(t.Context(), "process died", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n < int64(len(runs)) || n > int64(len(runs))+1 {
		t.Errorf("MarkInterrupted: %d runs, reported %d", n, len(runs))
	}
}

func TestPruneRunsKeepsTheNewestAndNeverAnActiveOne(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTestDB(t, dsn)
		e := &Experiment{Name: "prune", Source: "x", Format: FormatYAML}
		if err := db.CreateExperiment(ctx, e); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := range 6 {
			r := &Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: runstatus.Queued, Seed: 1}
			if err := db.CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
			if i == 0 {
				continue // the oldest stays queued: it must survive
			}
			if err := db.FinishRun(ctx, r.ID, runstatus.Succeeded, "pass", "", nil, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.PruneRuns(ctx, e.ID, 3)
		if err != nil || n != 3 {
			t.Fatalf("PruneRuns = %d, %v; want 3 deleted", n, err)
		}
		runs, total, err := db.ListRuns(ctx, RunFilter{ExperimentID: e.ID})
		if err != nil || total != 3 {
			t.Fatalf("ListRuns total %d, %v", total, err)
		}
		got := []int64{runs[0].ID, runs[1].ID, runs[2].ID}
		if want := []int64{ids[5], ids[4], ids[0]}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("kept %v, want %v (the newest two finished and the queued one)", got, want)
		}
		if _, err := db.PruneRuns(ctx, e.ID, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("keep 0: err = %v", err)
		}
	})
}

// TestConcurrentUpdatesGetConsecutiveVersions: updates of one document
// that race each get the next version; none fails or repeats one (on
// PostgreSQL, the write lock keeps the read of the current version and the
// write of the next together).
func TestConcurrentUpdatesGetConsecutiveVersions(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		e := createExperiment(t, db, "raced")
		const workers, perWorker = 8, 5
		versions := make([][]int, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					u := *e
					u.Source = fmt.Sprintf("worker %d, update %d", w, i)
					if err := db.UpdateExperiment(t.Context(), &u); err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					versions[w] = append(versions[w], u.Version)
				}
			})
		}
		wg.Wait()
		all := slices.Sorted(slices.Values(slices.Concat(versions...)))
		for i, v := range all {
			if v != i+2 {
				t.Fatalf("versions given: %v; want 2 to %d, once each", all, workers*perWorker+1)
			}
		}
		if n := queryInt(t, db, "SELECT count(*) FROM experiment_versions WHERE experiment_id = ?", e.ID); n != workers*perWorker+1 {
			t.Errorf("version rows: %d, want %d", n, workers*perWorker+1)
		}
	})
}

// TestOpenPostgresErrorKeepsThePasswordOut: an error of Open names the
// database without the URL's password.
func TestOpenPostgresErrorKeepsThePasswordOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, dsn := range []string{
		"postgres://faultline:s3cret@" + addr + "/faultline?sslmode=disable&connect_timeout=5",
		"postgresql://faultline:s3cret@" + addr + "/faultline?sslmode=bogus",
	} {
		db, err := Open(t.Context(), dsn)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.HasPrefix(err.Error(), "store: open ") {
			t.Errorf("Open: %v; want a store error without the password", err)
		}
	}
}
