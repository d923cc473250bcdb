package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/faultline/faultline/migrations"
)

// writeLockKey is the key of the transaction-level advisory lock that
// every write transaction takes on PostgreSQL (see DB.write): "faultln" in
// ASCII. Advisory locks are per database, so two Faultlines on two
// databases of one server do not wait for each other.
const writeLockKey = 0x6661756c746c6e

// postgresBackend is PostgreSQL, whose timestamptz keeps microseconds.
func postgresBackend() (backend, error) {
	// Goose's session lock (an advisory lock held while migrating) lets
	// several servers start on one database at once: one migrates, the
	// others wait for it, checking every second for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return backend{}, err
	}
	fsys, err := migrations.For(migrations.Postgres)
	if err != nil {
		return backend{}, err
	}
	return backend{
		name:       "postgres",
		dialect:    goose.DialectPostgres,
		migrations: fsys,
		options:    []goose.ProviderOption{goose.WithSessionLocker(locker)},
		precision:  time.Microsecond,
		// Repeatable read, so that the statements of the transaction (a
		// page and its total) see one snapshot; PostgreSQL's default, read
		// committed, gives each statement its own.
		readOnly:   &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		lockWrites: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(writeLockKey)),
	}, nil
}

// maxPostgresConns bounds the connections a DB opens to PostgreSQL.
const maxPostgresConns = 10

// openPostgres connects to the PostgreSQL database the URL dsn names and
// brings its schema up to date. The database and the user must exist; the
// user must be allowed to create tables in the database's default schema
// (the migrations create the tables, goose's goose_db_version among them).
// Parameters of the URL are pgx's (sslmode, connect_timeout, …); a password
// may come from the URL, from PGPASSWORD or from ~/.pgpass, as with libpq.
//
// Sessions use the time zone UTC unless the URL sets timezone; the store's
// times are UTC instants either way, since timestamptz stores the instant
// and the driver reads it back in UTC. The pool holds up to 10 connections.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	name := redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	for param, value := range map[string]string{"timezone": "UTC", "application_name": "faultline"} {
		if _, ok := cfg.RuntimeParams[param]; !ok {
			cfg.RuntimeParams[param] = value
		}
	}
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(scanTimesInUTC))
	sqlDB.SetMaxOpenConns(maxPostgresConns)
	sqlDB.SetMaxIdleConns(maxPostgresConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)

	b, err := postgresBackend()
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig(b.precision))
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	db := &DB{gdb: gdb, sqlDB: sqlDB, backend: b, now: time.Now, listenConfig: cfg.Copy()}
	if err := db.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	return db, nil
}

// scanTimesInUTC makes a new connection read timestamptz values as times
// in UTC; pgx would otherwise return them in the local time zone.
func scanTimesInUTC(_ context.Context, conn *pgx.Conn) error {
	conn.TypeMap().RegisterType(&pgtype.Type{
		Name:  "timestamptz",
		OID:   pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
	})
	return nil
}

// redact returns the URL dsn without its password, for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a PostgreSQL URL that does not parse)"
	}
	return u.Redacted()
}

// SQLSTATE codes of PostgreSQL's errors that translate tells apart
// (Appendix A of PostgreSQL's documentation).
const (
	pgNotNullViolation    = "23502" // not_null_violation
	pgForeignKeyViolation = "23503" // foreign_key_violation
	pgUniqueViolation     = "23505" // unique_violation
	pgCheckViolation      = "23514" // check_violation
	// A value the column's type refuses, such as a report that is not
	// JSON for a json column: the counterpart of SQLite's CHECK
	// (json_valid(report)).
	pgInvalidTextRepresentation = "22P02" // invalid_text_representation
)
