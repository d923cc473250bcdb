// Package pgtest runs a throwaway PostgreSQL server on loopback for tests
// that need a real PostgreSQL database, and gives each test a fresh,
// empty database on it.
//
// A test package shares one server per test binary:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.Get(t).Database(t) // postgres://postgres@127.0.0.1:port/t_…?sslmode=disable
//		...
//	}
//
// The server's binaries, initdb and postgres, are looked up in
// $FAULTLINE_PG_BIN (a directory), then in Debian's
// /usr/lib/postgresql/<version>/bin (the highest version that has both),
// then on PATH (apt-get install postgresql provides them). When they cannot
// be found the test is skipped with a message saying how to get them,
// except when the environment variable CI is non-empty: then it fails, so
// that CI never skips these tests.
//
// The cluster is made by initdb in a temporary directory, with trust
// authentication and one superuser, "postgres", and is started with
// fsync=off: nothing of it needs to survive the test binary. PostgreSQL
// refuses to run as root, so when the tests run as root, initdb and postgres
// run as the operating system's user "postgres" (which Debian's package
// creates). The server listens on 127.0.0.1 at a free port, and on a Unix
// socket in the temporary directory, never in /var/run/postgresql.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/internal/spawn"
)

// Superuser is the role every DSN that Database returns connects as: the
// cluster's only role, a superuser, authenticated by trust (no password).
const Superuser = "postgres"

// Server is a running PostgreSQL server, on loopback, that Get returns.
type Server struct {
	// Version is the server's major version, as its binaries' directory
	// names it ("15"), or the output of postgres --version when they were
	// found elsewhere.
	Version string

	port  int
	dir   string // temporary directory: the cluster's data, its socket, the log
	proc  *spawn.Proc
	spawn *spawn.Spawner
	bin   binaries
}

// Private starts a server of the test's own, stopped (and its files
// removed) in t.Cleanup: a test that takes its database away (Pause) must
// not share one. It skips or fails as Get does.
func Private(t testing.TB) *Server {
	t.Helper()
	b, missing := findBinaries()
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: %s (CI is set, so this fails instead of skipping)", missing)
		}
		t.Skipf("pgtest: %s", missing)
	}
	s, _, err := start(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// Pause shuts the server down, as a database that went away: a fast
// shutdown (SIGINT), which ends every connection and keeps what was
// committed (the server runs without fsync and synchronous commit, so an
// immediate one could lose it) for Resume.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	p := s.proc
	p.Signal(syscall.SIGINT)
	select {
	case <-p.Done():
	case <-time.After(stopDeadline):
		p.Kill()
		<-p.Done()
	}
}

// Resume starts a paused server again on the same port and waits until
// it accepts connections.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.launchOn(s.bin); err != nil {
		t.Fatal(err)
	}
}

var shared struct {
	mu      sync.Mutex
	started bool    // start was tried
	s       *Server // the server, when it started
	missing string  // what is missing to start one, when something is
	err     error   // why it failed to start otherwise
}

// Main runs the tests of m and returns their exit code, for TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// The tests share one server that the first call of Get starts; Main stops
// it (and removes its files) once m.Run has returned. A package whose tests
// call Get should use Main.
func Main(m *testing.M) int { return MainFunc(m.Run) }

// MainFunc is Main for a TestMain that runs its tests through another
// harness as well: run runs them and returns their exit code, and the
// server is stopped once it has returned.
//
//	func TestMain(m *testing.M) {
//		os.Exit(pgtest.MainFunc(func() int { return kubetest.Main(m) }))
//	}
func MainFunc(run func() int) int {
	code := run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s != nil {
		shared.s.stop()
		shared.s = nil
		shared.err = fmt.Errorf("pgtest: the shared server was stopped when Main returned")
	}
	return code
}

// Get returns the test binary's shared server, starting it on first use
// (once per test binary: later calls, from any test, return the same
// server, or fail or skip as the first did). When initdb or postgres cannot
// be found, or the tests run as root and there is no user "postgres" to run
// them as, t is skipped with a message saying what is missing, or fails
// when the environment variable CI is non-empty. When the server fails to
// start, t fails with the tail of its log.
//
// Main stops the server after the tests. Without Main nothing stops it
// before the test binary exits: the server then dies with it (it is started
// with a parent-death signal), but its temporary directory stays.
func Get(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		b, missing := findBinaries()
		if missing != "" {
			shared.missing = missing
		} else {
			began := time.Now()
			s, timing, err := start(b)
			if err != nil {
				shared.err = err
			} else {
				shared.s = s
				t.Logf("pgtest: PostgreSQL %s is up on 127.0.0.1:%d (%s; %s in all)", s.Version, s.port, timing, time.Since(began).Round(time.Millisecond))
			}
		}
	}
	switch {
	case shared.missing != "":
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: %s (CI is set, so this fails instead of skipping)", shared.missing)
		}
		t.Skipf("pgtest: %s", shared.missing)
	case shared.err != nil:
		t.Fatal(shared.err)
	}
	return shared.s
}

// dsn returns the URL of database db on s, as Superuser.
func (s *Server) dsn(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     "127.0.0.1:" + strconv.Itoa(s.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// admin runs statement on the server's maintenance database "postgres",
// over a connection of its own (so that tests may call it concurrently).
func (s *Server) admin(ctx context.Context, statement string) error {
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, statement)
	return err
}

// Database creates a fresh, empty database with a random name ("t_" and 8
// hex digits) and returns its URL,
// postgres://postgres@127.0.0.1:<port>/t_<hex>?sslmode=disable, which
// database/sql with pgx's stdlib, pgx itself and gorm's PostgreSQL driver
// all accept. The database is dropped in t.Cleanup, connections still open
// to it included (DROP DATABASE … WITH (FORCE)).
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}
