package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/internal/pgtest"
)

// TestMain shares one PostgreSQL server among the tests (see pgtest), and
// stops it after them.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backends are the databases the store runs on, each with how a test gets
// a fresh, empty database of it (its DSN, for Open).
var backends = []struct {
	name  string
	fresh func(t *testing.T) string
}{
	{"sqlite", sqliteDSN},
	{"postgres", postgresDSN},
}

// sqliteDSN returns the path of a SQLite file under t.TempDir() that does
// not exist yet.
func sqliteDSN(t *testing.T) string { return filepath.Join(t.TempDir(), "faultline.db") }

// postgresDSN returns the URL of a fresh, empty PostgreSQL database, which
// is dropped when t ends. Without PostgreSQL's binaries t is skipped (it
// fails instead when the environment variable CI is set).
func postgresDSN(t *testing.T) string { return pgtest.Get(t).Database(t) }

// eachBackend runs body once per database the store runs on, as the
// subtests "sqlite" and "postgres", each on a fresh, empty database that
// dsn names.
func eachBackend(t *testing.T, body func(t *testing.T, dsn string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { body(t, b.fresh(t)) })
	}
}
