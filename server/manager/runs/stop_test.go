package runs

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// failsWhenHalted is a run stopped while it sets up: what it was doing
// fails because its context ended (a mesh apply cut short, say).
func failsWhenHalted(ctx context.Context, _ *scenarios.Document, opts experiment.Options) (*report.Report, error) {
	opts.OnProgress(report.Progress{Status: runstatus.Running})
	<-ctx.Done()
	return nil, fmt.Errorf("engine: mesh: apply VirtualService reviews: %w", ctx.Err())
}

// A run stopped while it sets up ends as stopped, for the stop's reason,
// not as an error for the failure the stop caused.
func TestAStopDuringSetUpIsAStoppedRun(t *testing.T) {
	st := newFakeStore()
	m := New(st, failsWhenHalted, Config{})
	defer m.Close()
	run := startBlocked(t, m)
	waitStored(t, st, run.ID, runstatus.Running)
	if err := m.Stop(t.Context(), run.ID); err != nil {
		t.Fatal(err)
	}
	r := waitStored(t, st, run.ID, runstatus.Stopped)
	if !strings.Contains(r.Reason, errStopRequested.reason) {
		t.Errorf("reason %q, want the stop's", r.Reason)
	}
}
