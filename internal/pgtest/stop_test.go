package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/internal/spawn"
	"github.com/faultline/faultline/internal/wait"
)

// waitGone waits until process pid no longer runs.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	wait.For(t, 10*time.Second, fmt.Sprintf("%s (pid %d) to end", what, pid), func() bool { return spawn.Gone(pid) })
}

// pids returns the process IDs of postgres and of every process it has
// started (background workers and backends), as the server reports them.
func (s *Server) pids(t *testing.T) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity")
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return append(pids, s.proc.Pid())
}

// A server's stop ends postgres and all its processes and removes its
// directory.
func TestStopEndsProcesses(t *testing.T) {
	Get(t) // skips, or fails under CI, when the binaries are missing
	b, missing := findBinaries()
	if missing != "" {
		t.Fatal(missing)
	}
	s, _, err := start(b)
	if err != nil {
		t.Fatal(err)
	}
	pids := s.pids(t)
	if len(pids) < 3 {
		t.Fatalf("pids %v; want postgres and its workers", pids)
	}
	s.stop()
	for _, pid := range pids {
		waitGone(t, "a process of postgres", pid)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("%s after stop: %v; want it removed", s.dir, err)
	}
}

// postgres and its processes die with the test binary even when nothing
// stops them (a test binary killed by its timeout, or Get without Main).
func TestProcessesDieWithTestBinary(t *testing.T) {
	if os.Getenv("PGTEST_ORPHAN_HELPER") == "1" {
		b, missing := findBinaries()
		if missing != "" {
			t.Fatal(missing)
		}
		s, _, err := start(b)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("pgtest-orphan %s", s.dir)
		for _, pid := range s.pids(t) {
			fmt.Printf(" %d", pid)
		}
		fmt.Println()
		os.Exit(0) // without stopping s
	}
	Get(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesDieWithTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN_HELPER=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dir string
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		// postgres logs to a file, so the pipe ends when the helper does.
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "pgtest-orphan" {
			continue
		}
		dir = f[1]
		for _, p := range f[2:] {
			var pid int
			fmt.Sscan(p, &pid)
			pids = append(pids, pid)
		}
	}
	err = cmd.Wait()
	if len(pids) == 0 {
		t.Fatalf("the helper test binary started no server: %v", err)
	}
	for _, pid := range pids {
		waitGone(t, "a process of postgres", pid)
	}
	// Clean up after the helper: a postgres that was killed leaves its
	// directory and a small shared memory segment. Starting it again on the
	// directory recovers the cluster and takes the segment over, and a stop
	// removes both. Its pid file goes first: the killed postgres may stay a
	// zombie where nothing reaps orphans, and a pid that exists is a
	// postgres that runs, for postgres.
	if err := os.Remove(filepath.Join(dir, "data", "postmaster.pid")); err != nil {
		t.Error(err)
	}
	b, _ := findBinaries()
	s := &Server{dir: dir, spawn: spawn.New()}
	defer s.stop()
	if err := s.launch(b); err != nil {
		t.Errorf("restarting the killed cluster: %v", err)
	}
}
