// Package runstatus names the statuses of a run — an experiment's run, a
// game-day run or a game-day step — as the store keeps them and the API,
// the reports and the webhooks show them.
package runstatus

import "slices"

// Status is where a run is in its life. A run moves
//
//	queued → running → succeeded | failed | stopped | interrupted | error
//
// and may also go from queued straight to a terminal status. The last
// five are terminal: once a run has one, it never changes again. A game
// day and its steps never queue: they start running.
type Status string

// The statuses of a run.
const (
	Queued      Status = "queued"      // created, waiting to start
	Running     Status = "running"     // started
	Succeeded   Status = "succeeded"   // ran to the end; the verdict says whether the hypothesis held
	Failed      Status = "failed"      // ran, but failed as the engine defines failure
	Stopped     Status = "stopped"     // halted by a person, the safety lever, a blackout or an abort condition
	Interrupted Status = "interrupted" // the process died while the run was queued or running
	Error       Status = "error"       // could not be carried out (bad target, setup failure)
)

// Active reports whether a run with the status may still leave it:
// queued or running.
func (s Status) Active() bool { return s == Queued || s == Running }

// Terminal reports whether the status is a run's last: succeeded, failed,
// stopped, interrupted or error.
func (s Status) Terminal() bool {
	switch s {
	case Succeeded, Failed, Stopped, Interrupted, Error:
		return true
	}
	return false
}

// Known reports whether s is one of the seven statuses.
func (s Status) Known() bool { return s.Active() || s.Terminal() }

// All returns the seven statuses, in the order a run may take them.
func All() []Status { return []Status{Queued, Running, Succeeded, Failed, Stopped, Interrupted, Error} }

// AllActive returns the active statuses, queued then running: what a
// query for the runs still under way asks for.
func AllActive() []Status {
	return slices.DeleteFunc(All(), func(s Status) bool { return !s.Active() })
}
