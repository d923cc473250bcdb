package spawn

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
)

// StarvedCPU is the CPU a test starves a process on.
const StarvedCPU = "0"

// Starved returns a command that runs name pinned to StarvedCPU at the
// lowest priority (nice 19): beside BusyLoops it gets a few per cent of
// that CPU, so a load generator inside it falls behind its schedule.
func Starved(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", StarvedCPU, "nice", "-n", "19", name}, args...)...)
}

// BusyLoops starts n shell busy loops pinned to StarvedCPU at nice 10
// until the test ends or stop is called. A nice-19 process on that CPU
// gets about 15/(15+110·n) of it; the test's other processes, at nice 0,
// outweigh each loop ninefold, so they are slowed little. It fails the
// test when taskset or nice is missing.
func BusyLoops(t testing.TB, n int) (stop func()) {
	t.Helper()
	for _, tool := range []string{"taskset", "nice"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to starve a process of CPU: %v", tool, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var loops []*exec.Cmd
	for range n {
		loop := exec.CommandContext(ctx, "taskset", "-c", StarvedCPU, "nice", "-n", "10", "sh", "-c", "while :; do :; done")
		if err := loop.Start(); err != nil {
			cancel()
			t.Fatal(fmt.Errorf("start a busy loop: %w", err))
		}
		loops = append(loops, loop)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for _, l := range loops {
			_ = l.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}
