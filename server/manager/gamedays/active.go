package gamedays

import (
	"context"
	"encoding/json"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/manager/live"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// active is one running game-day run: its live state, whose state is the
// report so far as JSON and whose events are its step events as JSON,
// and the report so far itself, built from the step events.
type active struct {
	id, gameDayID int64
	live          *live.Run[[]byte, []byte]
	// rep is the report so far; only apply touches it, under the live
	// state's lock.
	rep gameday.Report
}

// stepBuffer is how many step events a subscriber to a game day may fall
// behind before it misses some.
const stepBuffer = 64

// newActive returns the live state of game-day run id and the context it
// runs in, under parent.
func newActive(parent context.Context, id, gameDayID int64, gd *scenarios.GameDay) (context.Context, *active) {
	a := &active{id: id, gameDayID: gameDayID,
		rep: gameday.Report{GameDay: gd.Metadata.Name, Status: runstatus.Running, Verdict: report.VerdictNone,
			OnFailure: gd.Spec.FailurePolicy(), StartedAt: time.Now().UTC(), Steps: []gameday.Step{}}}
	ctx, lr := live.New[[]byte, []byte](parent, a.reportJSON(), stepBuffer)
	a.live = lr
	return ctx, a
}

// stepEventJSON is a step event as subscribers receive it.
type stepEventJSON struct {
	Start bool         `json:"start"`
	Step  gameday.Step `json:"step"`
	// Parent is the ID of the parallel group the step belongs to; "" for
	// a step of spec.steps and for the steady-state checks.
	Parent string `json:"parent"`
}

// apply records a step event in the report so far and hands it to the
// subscribers; it returns the event as they receive it (nil when it does
// not encode). The runner calls it one event at a time.
func (a *active) apply(ev gameday.StepEvent) []byte {
	st := ev.Step
	st.Report = nil
	st.Steps = stripSteps(st.Steps)
	body, err := json.Marshal(stepEventJSON{Start: ev.Start, Step: st, Parent: ev.Parent})
	a.live.Publish(func(reportJSON *[]byte) ([]byte, bool) {
		a.record(ev.Parent, st)
		*reportJSON = a.reportJSON()
		return body, err == nil
	})
	if err != nil {
		return nil
	}
	return body
}

// record puts a step in the report so far.
func (a *active) record(parent string, st gameday.Step) {
	switch {
	case st.ID == gameday.CheckBefore:
		a.rep.SteadyStateBefore = &st
	case st.ID == gameday.CheckAfter:
		a.rep.SteadyStateAfter = &st
	case parent == "":
		for len(a.rep.Steps) <= st.Index {
			a.rep.Steps = append(a.rep.Steps, gameday.Step{})
		}
		if st.Steps == nil {
			// A group's start event: keep the steps it has already begun.
			st.Steps = a.rep.Steps[st.Index].Steps
		}
		a.rep.Steps[st.Index] = st
	default:
		for i := range a.rep.Steps {
			g := &a.rep.Steps[i]
			if g.ID != parent {
				continue
			}
			for len(g.Steps) <= st.Index {
				g.Steps = append(g.Steps, gameday.Step{})
			}
			g.Steps[st.Index] = st
		}
	}
}

// reportJSON is the report so far as JSON; nil when it does not encode.
func (a *active) reportJSON() []byte {
	body, err := json.Marshal(a.rep)
	if err != nil {
		return nil
	}
	return body
}

// snapshot is the report so far as JSON.
func (a *active) snapshot() []byte { return a.live.State() }

func (a *active) subscribe() (reportJSON []byte, steps <-chan []byte, cancel func(), ok bool) {
	reportJSON, steps, cancel, ok = a.live.Subscribe()
	if !ok {
		return nil, nil, cancel, false
	}
	return reportJSON, steps, cancel, true
}
