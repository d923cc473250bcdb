package runs

import (
	"context"
	"fmt"
	"slices"

	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/store"
)

// ErrShuttingDown refuses a run or a game day once the server is
// stopping. It is temporary: the API answers 503.
var ErrShuttingDown error = shuttingDown{}

type shuttingDown struct{}

func (shuttingDown) Error() string { return "the server is shutting down: try again once it is back" }

// Unavailable marks the refusal as temporary.
func (shuttingDown) Unavailable() bool { return true }

// ErrReasonRequired refuses engaging the lever without a reason.
var ErrReasonRequired = fmt.Errorf("runs: %w: engaging the safety lever needs a reason", errkind.Invalid)

// leverCause is the cancel cause of the runs the lever halts.
func leverCause(reason string) error {
	return &stopCause{reason: "stopped by the safety lever: " + reason}
}

// RestoreLever sets the lever's state as recorded by a previous process,
// without recording it again. Call it before the first Start.
func (m *Manager) RestoreLever(s store.LeverState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lever = s
}

// Lever returns the lever's current state.
func (m *Manager) Lever() store.LeverState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lever
}

// Engage records the lever as engaged and halts every queued and running
// run (status stopped, the reason naming the lever); until Release, Start
// and Rerun refuse with a *safety.LeverError. by optionally names who engaged it.
func (m *Manager) Engage(ctx context.Context, reason, by string) (store.LeverState, error) {
	if reason == "" {
		return store.LeverState{}, ErrReasonRequired
	}
	return m.moveLever(ctx, store.LeverState{Engaged: true, Reason: reason, By: by})
}

// Release records the lever as released; runs may start again.
func (m *Manager) Release(ctx context.Context, reason, by string) (store.LeverState, error) {
	return m.moveLever(ctx, store.LeverState{Reason: reason, By: by})
}

// OnLever registers f to learn every move of the lever, after the
// manager has applied it (so an engaged lever has already halted the
// runs and refuses new ones). f is called on the mover's goroutine and
// may call the manager.
func (m *Manager) OnLever(f func(store.LeverState)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onLever = append(m.onLever, f)
}

// moveLever records the new state first, so the state in memory is never
// one the store would not restore, then applies it and tells the OnLever
// hooks.
func (m *Manager) moveLever(ctx context.Context, s store.LeverState) (store.LeverState, error) {
	// One move at a time, hooks included, so the hooks hear the moves in
	// the order they were made.
	m.leverMove.Lock()
	defer m.leverMove.Unlock()
	stored, hooks, err := m.applyLever(ctx, s)
	if err != nil {
		return store.LeverState{}, err
	}
	for _, f := range hooks {
		f(stored)
	}
	return stored, nil
}

func (m *Manager) applyLever(ctx context.Context, s store.LeverState) (store.LeverState, []func(store.LeverState), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, err := m.store.RecordLever(ctx, s)
	if err != nil {
		return store.LeverState{}, nil, fmt.Errorf("runs: move the safety lever: %w", err)
	}
	m.setLeverLocked(stored, "")
	return stored, slices.Clone(m.onLever), nil
}

// setLeverLocked takes s as the lever's state; an engaged lever halts
// every queued and running run. where ("" or " on another server") says
// in the log where the lever moved. m.mu is held.
func (m *Manager) setLeverLocked(s store.LeverState, where string) {
	m.lever = s
	if !s.Engaged {
		m.log.Info("safety lever released"+where, "reason", s.Reason, "by", s.By)
		return
	}
	for id, a := range m.active {
		a.live.Cancel(leverCause(s.Reason))
		m.log.Warn("run halted by the safety lever", "run", id, "reason", s.Reason)
	}
	m.log.Warn("safety lever engaged"+where, "reason", s.Reason, "by", s.By)
}

// SyncLever reads the lever's state from the store and, when another
// server on the same database moved it, applies it here as Engage and
// Release do (an engaged lever halts this server's runs), without
// recording it again, and tells the OnLever hooks. It reports whether the
// state changed. Servers that share a database call it every fraction of
// a second.
func (m *Manager) SyncLever(ctx context.Context) (bool, error) {
	// Under leverMove, as local moves record theirs: the state read
	// cannot be older than one this server has applied.
	m.leverMove.Lock()
	defer m.leverMove.Unlock()
	s, err := m.store.Lever(ctx)
	if err != nil {
		return false, fmt.Errorf("runs: read the safety lever: %w", err)
	}
	m.mu.Lock()
	if sameLever(m.lever, s) {
		m.mu.Unlock()
		return false, nil
	}
	m.setLeverLocked(s, " on another server")
	hooks := slices.Clone(m.onLever)
	m.mu.Unlock()
	for _, f := range hooks {
		f(s)
	}
	return true, nil
}

// sameLever reports whether a and b are the same recorded move.
func sameLever(a, b store.LeverState) bool {
	return a.Engaged == b.Engaged && a.Reason == b.Reason && a.By == b.By && a.Since.Equal(b.Since)
}

// checkLever returns a *safety.LeverError while the lever is engaged.
func (m *Manager) checkLever() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lever.Engaged {
		return &safety.LeverError{Reason: m.lever.Reason, Refused: "no run may start"}
	}
	return nil
}
