package runstatus_test

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/server/runstatus"
)

func TestEveryStatusIsActiveOrTerminal(t *testing.T) {
	terminal := []runstatus.Status{runstatus.Succeeded, runstatus.Failed, runstatus.Stopped, runstatus.Interrupted, runstatus.Error}
	for _, s := range runstatus.All() {
		wantTerminal := slices.Contains(terminal, s)
		if s.Terminal() != wantTerminal || s.Active() == wantTerminal || !s.Known() {
			t.Errorf("%s: Terminal %v, Active %v, Known %v", s, s.Terminal(), s.Active(), s.Known())
		}
	}
	if got := runstatus.AllActive(); !slices.Equal(got, []runstatus.Status{runstatus.Queued, runstatus.Running}) {
		t.Errorf("AllActive = %v", got)
	}
	for _, s := range []runstatus.Status{"", "skipped", "Running"} {
		if s.Known() || s.Active() || s.Terminal() {
			t.Errorf("%q counts as a run status", s)
		}
	}
}
