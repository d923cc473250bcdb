package gamedays

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
)

// active is the live state of one running game-day run: its report so
// far, built from the step events, and its subscribers.
type active struct {
	id, gameDayID int64
	cancel        context.CancelCauseFunc
	// done is closed once the run has recorded its end.
	done chan struct{}

	mu    sync.Mutex
	rep   gameday.Report
	subs  map[chan []byte]struct{}
	ended bool
}

func newActive(id, gameDayID int64, cancel context.CancelCauseFunc, gd *scenarios.GameDay) *active {
	return &active{id: id, gameDayID: gameDayID, cancel: cancel, done: make(chan struct{}), subs: map[chan []byte]struct{}{},
		rep: gameday.Report{GameDay: gd.Metadata.Name, Status: report.StatusRunning, Verdict: report.VerdictNone,
			OnFailure: gd.Spec.FailurePolicy(), StartedAt: time.Now().UTC(), Steps: []gameday.Step{}}}
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
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case st.ID == gameday.CheckBefore:
		a.rep.SteadyStateBefore = &st
	case st.ID == gameday.CheckAfter:
		a.rep.SteadyStateAfter = &st
	case ev.Parent == "":
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
			if g.ID != ev.Parent {
				continue
			}
			for len(g.Steps) <= st.Index {
				g.Steps = append(g.Steps, gameday.Step{})
			}
			g.Steps[st.Index] = st
		}
	}
	if err != nil {
		return nil
	}
	for ch := range a.subs {
		select {
		case ch <- body:
		default: // a slow subscriber misses an event, never blocks the game day
		}
	}
	return body
}

// snapshot is the report so far as JSON.
func (a *active) snapshot() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.snapshotLocked()
}

func (a *active) snapshotLocked() []byte {
	body, err := json.Marshal(a.rep)
	if err != nil {
		return nil
	}
	return body
}

func (a *active) subscribe() (reportJSON []byte, steps <-chan []byte, cancel func(), ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return nil, nil, func() {}, false
	}
	ch := make(chan []byte, 64)
	a.subs[ch] = struct{}{}
	return a.snapshotLocked(), ch, func() { a.unsubscribe(ch) }, true
}

func (a *active) unsubscribe(ch chan []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.subs[ch]; ok {
		delete(a.subs, ch)
		close(ch)
	}
}

// end closes every subscription and marks the run ended; the run's end is
// already recorded.
func (a *active) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended = true
	for ch := range a.subs {
		close(ch)
		delete(a.subs, ch)
	}
	close(a.done)
}
