package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"github.com/faultline/faultline/migrations"
)

// sqliteBackend is SQLite, which keeps times as text with nanoseconds.
func sqliteBackend() (backend, error) {
	fsys, err := migrations.For(migrations.SQLite)
	if err != nil {
		return backend{}, err
	}
	return backend{
		name:       "sqlite",
		dialect:    goose.DialectSQLite3,
		migrations: fsys,
		precision:  time.Nanosecond,
		// A deferred transaction: a consistent snapshot that does not take
		// the write lock as _txlock=immediate would.
		readOnly: &sql.TxOptions{ReadOnly: true},
	}, nil
}

// openSQLite opens (creating it if needed) the SQLite database file at path
// and brings its schema up to date.
//
// path is a file path, not a DSN: "", ":memory:" and "file:…" are refused
// (an in-memory database cannot run in WAL mode and vanishes with its
// connection; tests use a file under t.TempDir()). Any character may appear
// in the path; the directory must exist.
//
// The connection is set up for a single-process service:
//   - journal_mode=WAL: readers never block the writer, and a killed process
//     leaves a consistent database (the WAL is replayed on the next open).
//   - synchronous=NORMAL: in WAL mode this is still safe against corruption;
//     a commit survives the process being killed, but the last commits
//     before a power loss or OS crash may be rolled back.
//   - busy_timeout=5000: a writer waits up to 5 s for a lock held by another
//     process (the CLI, say) instead of failing with SQLITE_BUSY.
//   - foreign_keys=1: the ON DELETE rules of the schema are enforced.
//   - _txlock=immediate: transactions take the write lock at BEGIN, so a
//     transaction never fails half-way by upgrading a read lock.
//
// The pool holds one connection: SQLite has a single writer anyway, and one
// connection turns contention inside the process into waiting in
// database/sql's queue rather than lock retries. The price is that reads
// also queue behind writes; every query here is short.
//
// Goose has no lock for SQLite, so two processes must not Open a database
// that needs migrating at the same moment; the server opens it once at
// start-up.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %q: %w: want a file path", path, ErrInvalid)
	}
	dsn := "file:" + escapePath(filepath.Clean(path)) +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	// Note: the driver ignores _txlock when _time_format is also set, so the
	// DSN must not gain a _time_format parameter.

	b, err := sqliteBackend()
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	gdb, err := gorm.Open(sqlite.Open(dsn), gormConfig(b.precision))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)

	db := &DB{gdb: gdb, sqlDB: sqlDB, backend: b, now: time.Now}
	if err := db.setUpSQLite(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// setUpSQLite checks that the DSN pragmas took effect and applies the
// migrations.
func (db *DB) setUpSQLite(ctx context.Context) error {
	var mode string
	if err := db.sqlDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		// WAL is refused on some file systems (network mounts); without it
		// the durability promises above do not hold, so fail loudly.
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return db.migrate(ctx)
}

// escapePath makes path safe inside a SQLite "file:" URI, where '?' starts
// the query, '#' the fragment and '%' an escape.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Extended result codes of SQLite (sqlite3.h) that translate tells apart.
// They are spelled out here so that this package needs no import of
// modernc.org/sqlite, which must never be linked beside glebarez.
const (
	sqliteConstraintCheck      = 275  // SQLITE_CONSTRAINT_CHECK
	sqliteConstraintForeignKey = 787  // SQLITE_CONSTRAINT_FOREIGNKEY
	sqliteConstraintNotNull    = 1299 // SQLITE_CONSTRAINT_NOTNULL
	sqliteConstraintPrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE
)
