package kubetest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/spawn"
	"github.com/faultline/faultline/internal/wait"
)

// waitGone waits until process pid no longer runs.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	wait.For(t, 10*time.Second, fmt.Sprintf("%s (pid %d) to end", what, pid), func() bool { return spawn.Gone(pid) })
}

// A cluster's stop kills both processes and removes its directory.
func TestStopKillsProcesses(t *testing.T) {
	Get(t) // skips, or fails under CI, when the binaries are missing
	a, missing := findAssets()
	if missing != "" {
		t.Fatal(missing)
	}
	c, _, err := start(a)
	if err != nil {
		t.Fatal(err)
	}
	etcd, apiserver := c.etcd.Pid(), c.apiserver.Pid()
	c.stop()
	waitGone(t, "etcd", etcd)
	waitGone(t, "kube-apiserver", apiserver)
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("%s after stop: %v; want it removed", c.dir, err)
	}
}

// The processes die with the test binary even when nothing stops them
// (a test binary killed by its timeout, or Get without Main).
func TestProcessesDieWithTestBinary(t *testing.T) {
	if os.Getenv("KUBETEST_ORPHAN_HELPER") == "1" {
		a, missing := findAssets()
		if missing != "" {
			t.Fatal(missing)
		}
		c, _, err := start(a)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("kubetest-orphan %d %d %s\n", c.etcd.Pid(), c.apiserver.Pid(), c.dir)
		os.Exit(0) // without stopping c
	}
	Get(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesDieWithTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KUBETEST_ORPHAN_HELPER=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var etcd, apiserver int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		// Its processes log to files, so the pipe ends when the helper does.
		fmt.Sscanf(sc.Text(), "kubetest-orphan %d %d %s", &etcd, &apiserver, &dir)
	}
	err = cmd.Wait()
	if etcd == 0 {
		t.Fatalf("the helper test binary started no cluster: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	waitGone(t, "etcd", etcd)
	waitGone(t, "kube-apiserver", apiserver)
}
