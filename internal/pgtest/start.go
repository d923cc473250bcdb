package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/internal/spawn"
)

// Deadlines of the start's steps.
const (
	initdbDeadline   = 60 * time.Second
	postgresDeadline = 30 * time.Second
	stopDeadline     = 10 * time.Second
)

// binaries are what a server is started from.
type binaries struct {
	initdb, postgres string // executables
	version          string // see Server.Version
	// cred is the user to run them as; nil for this process's own.
	cred *syscall.Credential
}

// debianDirs are Debian's /usr/lib/postgresql/<version>/bin directories,
// highest version first.
func debianDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) []int {
		var v []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(dir)), ".") {
			n, _ := strconv.Atoi(f)
			v = append(v, n)
		}
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	return dirs
}

// executable reports whether path is an executable file.
func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// findBinaries returns initdb and postgres from $FAULTLINE_PG_BIN, else
// the highest version of Debian's directories that has both, else from
// PATH, with the user to run them as; or what is missing.
func findBinaries() (b binaries, missing string) {
	var dirs []string
	if d := os.Getenv("FAULTLINE_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, debianDirs()...)
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			b.initdb, b.postgres = filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
			if strings.HasPrefix(d, "/usr/lib/postgresql/") {
				b.version = filepath.Base(filepath.Dir(d))
			}
			break
		}
	}
	if b.initdb == "" {
		initdb, err := exec.LookPath("initdb")
		if err != nil {
			return b, "PostgreSQL's initdb and postgres not found in $FAULTLINE_PG_BIN, /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)"
		}
		// PATH often has a link to initdb only (Debian's postgresql-common
		// links none; others link initdb but not postgres): look beside
		// the file it points to.
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		b.initdb, b.postgres = initdb, filepath.Join(filepath.Dir(initdb), "postgres")
		if !executable(b.postgres) {
			p, err := exec.LookPath("postgres")
			if err != nil {
				return b, fmt.Sprintf("found %s but no postgres beside it or on PATH (apt-get install postgresql)", initdb)
			}
			b.postgres = p
		}
	}
	if b.version == "" {
		out, err := exec.Command(b.postgres, "--version").Output()
		if err != nil {
			return b, fmt.Sprintf("%s --version: %v", b.postgres, err)
		}
		b.version = strings.TrimSpace(string(out))
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return b, "running as root, and there is no user postgres to run PostgreSQL as (PostgreSQL refuses root; apt-get install postgresql creates the user)"
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		b.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return b, ""
}

// start makes a cluster with initdb in a new temporary directory, starts
// postgres on it and returns the server once it accepts connections, with
// a line on how long each step took. On failure nothing is left running.
func start(b binaries) (s *Server, timing string, err error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, "", err
	}
	s = &Server{Version: b.version, dir: dir, spawn: spawn.New(), bin: b}
	defer func() {
		if err != nil {
			s.stop()
			s = nil
		}
	}()
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return s, "", err
	}
	if b.cred != nil {
		for _, d := range []string{dir, sock} {
			if err := os.Chown(d, int(b.cred.Uid), int(b.cred.Gid)); err != nil {
				return s, "", err
			}
		}
	}

	began := time.Now()
	data := filepath.Join(dir, "data")
	initdb, err := s.run("initdb", b, b.initdb,
		"--pgdata="+data, "--auth=trust", "--username="+Superuser,
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return s, "", err
	}
	select {
	case <-initdb.Done():
		if initdb.Err() != nil {
			return s, "", s.failure(initdb, fmt.Errorf("initdb: %v", initdb.Err()))
		}
	case <-time.After(initdbDeadline):
		initdb.Kill()
		return s, "", s.failure(initdb, fmt.Errorf("initdb did not finish in %s", initdbDeadline))
	}
	initdbTook := time.Since(began)

	began = time.Now()
	if err := s.launch(b); err != nil {
		return s, "", err
	}
	return s, fmt.Sprintf("initdb %s, postgres %s", initdbTook.Round(time.Millisecond), time.Since(began).Round(time.Millisecond)), nil
}

// launch starts postgres on the cluster in s.dir and waits until it
// accepts connections.
func (s *Server) launch(b binaries) error {
	// A free port may be taken by someone else between the probe and
	// postgres's bind: try a few.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.port = port
		err = s.launchOn(b)
		if err == nil {
			return nil
		}
		if s.proc == nil || attempt == 3 || !strings.Contains(s.proc.Tail(20), "could not bind") {
			return err
		}
	}
}

// launchOn starts postgres on the cluster in s.dir at s.port and waits
// until it accepts connections; on failure nothing is left running.
func (s *Server) launchOn(b binaries) error {
	var err error
	s.proc, err = s.run("postgres", b, b.postgres,
		"-D", filepath.Join(s.dir, "data"), "-k", filepath.Join(s.dir, "sock"), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200")
	if err != nil {
		return err
	}
	if err := s.waitReady(); err != nil {
		s.proc.Kill()
		return s.failure(s.proc, err)
	}
	return nil
}

// waitReady waits until postgres accepts a connection to its maintenance
// database and answers a query.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(postgresDeadline)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.proc.Done():
			return fmt.Errorf("postgres exited early: %v", s.proc.Err())
		default:
		}
		last = s.ping()
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres not accepting connections on 127.0.0.1:%d after %s: %v", s.port, postgresDeadline, last)
}

// ping connects to the maintenance database and runs a query.
func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// stop shuts postgres down at once (SIGQUIT: it stops its own processes and
// removes its shared memory), kills it if it has not exited within
// stopDeadline, and removes the server's directory.
func (s *Server) stop() {
	if p := s.proc; p != nil {
		select {
		case <-p.Done():
		default:
			p.Signal(syscall.SIGQUIT)
			select {
			case <-p.Done():
			case <-time.After(stopDeadline):
				p.Kill()
			}
		}
	}
	s.spawn.Close()
	os.RemoveAll(s.dir)
}

// failure adds to err the tail of p's log.
func (s *Server) failure(p *spawn.Proc, err error) error {
	return fmt.Errorf("pgtest: %v\n--- last lines of %s's log:\n%s", err, p.Name, p.Tail(30))
}

// freePort returns a port that was free on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts the executable bin with args as b's user in the server's
// directory, logging to <name>.log there. The environment is this
// process's without PG* variables, which would otherwise steer initdb and
// postgres.
func (s *Server) run(name string, b binaries, bin string, args ...string) (*spawn.Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred}
	p, err := s.spawn.Run(name, cmd)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return p, nil
}
