// Package store persists experiments and runs through gorm, in SQLite (the
// default, with the pure-Go driver github.com/glebarez/sqlite, so the binary
// stays static) or in PostgreSQL (gorm's driver over pgx). [Open] chooses by
// its argument: a postgres:// or postgresql:// URL is PostgreSQL, anything
// else a SQLite file.
//
// The schema belongs to the SQL files in package migrations (one set for
// both databases, expanded for each), which [Open] applies with goose; gorm only
// queries. Every method takes a context first, is safe for concurrent use,
// and returns errors that callers classify with errors.Is against
// [ErrNotFound], [ErrConflict] and [ErrInvalid], which are also the
// server's neutral kinds errkind.NotFound, Conflict and Invalid; gorm and
// driver errors never need to be inspected outside this package. Both databases behave
// alike behind this API, down to those errors; where they differ, the
// documentation says so.
//
// All times are stored and returned in UTC, at the precision the database
// keeps: nanoseconds in SQLite, microseconds in PostgreSQL. The store
// truncates a time to that precision before it writes it, so a time a write
// returns (a created run's CreatedAt, say) equals the one reads return.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/faultline/faultline/server/errkind"
)

var (
	// ErrNotFound reports that the experiment, version or run does not
	// exist. It is an errkind.NotFound, as are ErrConflict and ErrInvalid
	// of their kinds.
	ErrNotFound = fmt.Errorf("store: %w", errkind.NotFound)
	// ErrConflict reports a write that clashes with the stored state: a
	// duplicate experiment name, deleting an experiment with an active run,
	// or finishing a run that has already finished.
	ErrConflict = fmt.Errorf("store: %w", errkind.Conflict)
	// ErrInvalid reports an argument the store refuses before writing: an
	// unknown status or format, an empty name, a report that is not JSON.
	ErrInvalid = fmt.Errorf("store: %w", errkind.Invalid)
	// ErrLocked reports that another process holds the database's server
	// lock (Lock).
	ErrLocked = errors.New("another faultline may be using this database")
)

// DB is the Faultline database. Create it with [Open] and release it with
// [DB.Close]. It is safe for concurrent use.
type DB struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB
	backend backend
	// now is the clock for timestamps that callers do not supply; tests in
	// this package replace it.
	now func() time.Time
	// replica and leaseTTL are the owner and the lease of the runs this
	// DB creates (SetReplica).
	replica  string
	leaseTTL time.Duration
	// listenConfig is the connection Listen opens; nil on SQLite.
	listenConfig *pgx.ConnConfig
	// offset is how far the database server's clock is ahead of now's,
	// in nanoseconds (SyncClock); clock adds it.
	offset atomic.Int64
}

// backend is what the store does differently on each database.
type backend struct {
	// name is "sqlite" or "postgres".
	name string
	// dialect and migrations are the goose dialect and the migration files
	// for the database; options are the provider's further options.
	dialect    goose.Dialect
	migrations fs.FS
	options    []goose.ProviderOption
	// precision is the finest time the database's timestamps keep.
	precision time.Duration
	// readOnly are the options of a read transaction: a consistent
	// snapshot for reads of several statements that blocks no writer.
	readOnly *sql.TxOptions
	// lockWrites, unless empty, is the statement each write transaction
	// runs first (see DB.write).
	lockWrites string
}

// Open opens the database dsn names and brings its schema up to date with
// the migrations embedded in package migrations.
//
// A dsn that starts with postgres:// or postgresql:// is a PostgreSQL URL
// (see openPostgres): postgres://user@host:5432/faultline?sslmode=disable.
// Anything else is the path of a SQLite file, created if needed (see
// openSQLite).
func Open(ctx context.Context, dsn string) (*DB, error) {
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// isPostgres reports whether dsn is a PostgreSQL URL rather than a SQLite
// file path.
// Redacted is dsn as it may be logged: a PostgreSQL URL without its
// password; a SQLite path as it is.
func Redacted(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// gormConfig is the gorm configuration on either database: no implicit
// transactions (the store makes its own), no logging, and gorm's own
// timestamps in UTC at the database's precision.
func gormConfig(precision time.Duration) *gorm.Config {
	return &gorm.Config{
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(precision) },
	}
}

// migrator returns the goose provider of db's migrations.
func (db *DB) migrator() (*goose.Provider, error) {
	opts := append([]goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}, db.backend.options...)
	return goose.NewProvider(db.backend.dialect, db.sqlDB, db.backend.migrations, opts...)
}

// migrate applies the migrations db has not applied yet.
func (db *DB) migrate(ctx context.Context) error {
	p, err := db.migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
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

// write runs fn in a write transaction. On SQLite the transaction takes the
// database's write lock at BEGIN (_txlock=immediate). On PostgreSQL it
// first takes a transaction-level advisory lock that every write
// transaction of the store takes, in any process on the database: write
// transactions then run one at a time there too, so that what one reads
// before it writes (a document's current version, the runs still active
// before a delete) cannot change under it, as on SQLite. Reads, and writes
// of a single statement outside write, do not wait for it.
func (db *DB) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if db.backend.lockWrites != "" {
			if err := tx.Exec(db.backend.lockWrites).Error; err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// clock returns the current time as the database keeps it (see stored).
func (db *DB) clock() time.Time {
	return db.stored(db.now().Add(time.Duration(db.offset.Load())))
}

// stored returns t as the database keeps it: in UTC, without a monotonic
// reading, truncated to the database's precision.
func (db *DB) stored(t time.Time) time.Time { return t.UTC().Truncate(db.backend.precision) }

// storedPtr is stored for an optional time.
func (db *DB) storedPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := db.stored(*t)
	return &u
}

// utc normalises a caller-supplied time (see stored); the zero time means
// "now".
func (db *DB) utc(t time.Time) time.Time {
	if t.IsZero() {
		return db.clock()
	}
	return db.stored(t)
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
	}, db.backend.readOnly)
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

// translate turns an error from gorm or the driver into one of this
// package's sentinels where one applies, and prefixes it with the operation.
// The constraint a write breaks gives the same sentinel on both databases:
// a unique key ErrConflict, a foreign key ErrNotFound, a CHECK or NOT NULL
// ErrInvalid.
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
	if sentinel := constraintSentinel(err); sentinel != nil {
		return fmt.Errorf("store: %s: %s: %w", op, err.Error(), sentinel)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// constraintSentinel returns the sentinel for a broken constraint, as the
// SQLite or the PostgreSQL driver reports it, or nil for any other error.
//
// Only inserts can break a foreign key in this schema (every ON DELETE rule
// cascades or sets NULL): the referenced row is missing, hence ErrNotFound.
func constraintSentinel(err error) error {
	var serr *gosqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return ErrConflict
		case sqliteConstraintForeignKey:
			return ErrNotFound
		case sqliteConstraintCheck, sqliteConstraintNotNull:
			return ErrInvalid
		}
	}
	var perr *pgconn.PgError
	if errors.As(err, &perr) {
		switch perr.Code {
		case pgUniqueViolation:
			return ErrConflict
		case pgForeignKeyViolation:
			return ErrNotFound
		case pgCheckViolation, pgNotNullViolation, pgInvalidTextRepresentation:
			return ErrInvalid
		}
	}
	return nil
}
