package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/faultline/faultline/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestGetSharesOneServer(t *testing.T) {
	a, b := pgtest.Get(t), pgtest.Get(t)
	if a != b || a.Version == "" {
		t.Fatalf("Get returned %p (version %q) then %p", a, a.Version, b)
	}
}

// The server is the throwaway one the package promises: on loopback, with
// fsync off, and the DSN's user is a superuser.
func TestServerSettings(t *testing.T) {
	conn := connect(t, pgtest.Get(t).Database(t))
	for _, tc := range []struct{ query, want string }{
		{"SELECT current_setting('listen_addresses')", "127.0.0.1"},
		{"SELECT current_setting('fsync')", "off"},
		{"SELECT current_setting('server_encoding')", "UTF8"},
		{"SELECT current_user", pgtest.Superuser},
		{"SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user", "true"},
	} {
		var got string
		if err := conn.QueryRow(ctx(t), tc.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.query, got, tc.want)
		}
	}
}

// Each Database is empty, apart from the others, and dropped when its test
// ends, even with a connection still open to it.
func TestDatabaseIsFreshAndDroppedAfterTheTest(t *testing.T) {
	s := pgtest.Get(t)
	var first string
	t.Run("first", func(t *testing.T) {
		first = s.Database(t)
		if !strings.HasPrefix(first, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(first, "?sslmode=disable") {
			t.Errorf("DSN %q", first)
		}
		conn := connect(t, first)
		if _, err := conn.Exec(ctx(t), "CREATE TABLE kept (id int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		// Left open through database/sql on purpose: the drop must not
		// wait for it.
		db, err := sql.Open("pgx", first)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx(t), "INSERT INTO kept VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // runs after the drop: cleanups run last-in first-out

		second := s.Database(t)
		if second == first {
			t.Fatalf("two databases named alike: %s", first)
		}
		var n int
		err = connect(t, second).QueryRow(ctx(t), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("tables in a fresh database: %d, %v; want 0", n, err)
		}
	})
	if first == "" {
		t.Fatal("the subtest made no database")
	}
	_, err := pgx.Connect(ctx(t), first)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		t.Errorf("connecting to a dropped database: %v; want SQLSTATE 3D000", err)
	}
}
