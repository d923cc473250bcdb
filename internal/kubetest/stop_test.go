package kubetest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// gone reports whether process pid no longer runs (it does not exist, or
// is a zombie left for init to reap).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z") || strings.HasPrefix(s[i+1:], " X")
}

func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	etcd, apiserver := c.etcd.cmd.Process.Pid, c.apiserver.cmd.Process.Pid
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
		fmt.Printf("kubetest-orphan %d %d %s\n", c.etcd.cmd.Process.Pid, c.apiserver.cmd.Process.Pid, c.dir)
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
