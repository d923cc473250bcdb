// Package store persists experiments and runs in SQLite, through gorm and the
// pure-Go driver github.com/glebarez/sqlite (so the binary stays static).
//
// The schema belongs to the SQL files in package migrations, which [Open]
// applies with goose; gorm only queries. Every method takes a context first,
// is safe for concurrent use, and returns errors that callers classify with
// errors.Is against [ErrNotFound], [ErrConflict] and [ErrInvalid]; gorm and
// driver errors never need to be inspected outside this package.
//
// All times are stored and returned in UTC with nanosecond precision.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/faultline/faultline/migrations"
)

var (
	// ErrNotFound reports that the experiment, version or run does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict reports a write that clashes with the stored state: a
	// duplicate experiment name, deleting an experiment with an active run,
	// or finishing a run that has already finished.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid reports an argument the store refuses before writing: an
	// unknown status or format, an empty name, a report that is not JSON.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrLocked reports that another process holds the database's server
	// lock (Lock).
	ErrLocked = errors.New("another faultline may be using this database")
)

// DB is the Faultline database. Create it with [Open] and release it with
// [DB.Close]. It is safe for concurrent use.
type DB struct {
	gdb   *gorm.DB
	sqlDB *sql.DB
	// now is the clock for timestamps that callers do not supply; tests in
	// this package replace it.
	now func() time.Time
}

// Open opens (creating it if needed) the SQLite database file at path and
// brings its schema up to date with the migrations embedded in package
// migrations.
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
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %q: %w: want a file path", path, ErrInvalid)
	}
	dsn := "file:" + escapePath(filepath.Clean(path)) +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	// Note: the driver ignores _txlock when _time_format is also set, so the
	// DSN must not gain a _time_format parameter.

	gdb, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
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

	db := &DB{gdb: gdb, sqlDB: sqlDB, now: time.Now}
	if err := db.setUp(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// setUp checks that the DSN pragmas took effect and applies the migrations.
func (db *DB) setUp(ctx context.Context) error {
	var mode string
	if err := db.sqlDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		// WAL is refused on some file systems (network mounts); without it
		// the durability promises above do not hold, so fail loudly.
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.sqlDB, migrations.FS,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Close closes the database. SQLite checkpoints the WAL into the main file
// when its last connection closes.
func (db *DB) Close() error {
	if err := db.sqlDB.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// escapePath makes path safe inside a SQLite "file:" URI, where '?' starts
// the query, '#' the fragment and '%' an escape.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// readOnly starts a deferred (read) transaction: a consistent snapshot for
// multi-query reads that does not take the write lock as _txlock=immediate
// would.
var readOnly = &sql.TxOptions{ReadOnly: true}

// clock returns the current time in UTC, without a monotonic reading.
func (db *DB) clock() time.Time { return db.now().UTC() }

// utc normalises a caller-supplied time; the zero time means "now".
func (db *DB) utc(t time.Time) time.Time {
	if t.IsZero() {
		return db.clock()
	}
	return t.UTC()
}

// Page selects a window of a list.
type Page struct {
	// Limit is the most items returned: 0 (or less) means 50, and values
	// above 500 are capped at 500.
	Limit int
	// Offset is how many items to skip; 0 (or less) starts at the first.
	Offset int
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

// window returns the limit and offset to use for p.
func (p Page) window() (limit, offset int) {
	limit, offset = p.Limit, p.Offset
	if limit <= 0 {
		limit = defaultLimit
	}
	if limit > maxLimit {
		limit = maxLimit
	}
	if offset < 0 {
		offset = 0
	}
	return limit, offset
}

// readPage reads page p of the rows that from selects, in the given order,
// and how many rows it selects in all. Both reads share one read
// transaction, so that the page and the total see the same state. from
// builds a fresh statement on tx each time it is called; columns, when
// set, narrows the page's statement to the columns it reads (the count
// needs none).
func readPage[R any](ctx context.Context, db *DB, p Page, from func(tx *gorm.DB) *gorm.DB, order string, columns func(q *gorm.DB) *gorm.DB) ([]R, int64, error) {
	limit, offset := p.window()
	var (
		rows  []R
		total int64
	)
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := from(tx).Count(&total).Error; err != nil {
			return err
		}
		q := from(tx)
		if columns != nil {
			q = columns(q)
		}
		return q.Order(order).Limit(limit).Offset(offset).Find(&rows).Error
	}, readOnly)
	return rows, total, err
}

// omitReport leaves the report column out of a page of runs: reports can
// be large, and the single-run reads return them.
func omitReport(q *gorm.DB) *gorm.DB { return q.Omit("report") }

// convert turns rows read from a table into the values the store returns.
func convert[R, T any](rows []R, conv func(*R) T) []T {
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = conv(&rows[i])
	}
	return out
}

// deleteByID deletes row id of model's table; no such row gives
// ErrNotFound.
func deleteByID(tx *gorm.DB, model any, id int64) error {
	res := tx.Delete(model, "id = ?", id)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// validateDocument checks what the store requires of a stored document
// (an experiment's or a game day's): a name and a known format. kind
// names the document in the error.
func validateDocument(kind, name, format string) error {
	if name == "" {
		return fmt.Errorf("empty %s name: %w", kind, ErrInvalid)
	}
	if format != FormatYAML && format != FormatJSON {
		return fmt.Errorf("%s format %q, want %q or %q: %w", kind, format, FormatYAML, FormatJSON, ErrInvalid)
	}
	return nil
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

// translate turns an error from gorm or the driver into one of this
// package's sentinels where one applies, and prefixes it with the operation.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	var serr *gosqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return fmt.Errorf("store: %s: %s: %w", op, serr.Error(), ErrConflict)
		case sqliteConstraintForeignKey:
			// Only inserts can break a foreign key in this schema (every
			// ON DELETE rule cascades or sets NULL): the referenced row
			// is missing.
			return fmt.Errorf("store: %s: %s: %w", op, serr.Error(), ErrNotFound)
		case sqliteConstraintCheck, sqliteConstraintNotNull:
			return fmt.Errorf("store: %s: %s: %w", op, serr.Error(), ErrInvalid)
		}
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
