package gamedays

import (
	"context"
	"time"

	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/store"
)

// remoteCheck is how often a game-day run of another server that is
// followed here is read from the store, in case its end never arrives.
const remoteCheck = time.Second

// onStep is the runner's step callback for game-day run a: it applies the
// event and, with other servers on the database, keeps the report so far
// in the store and relays the event.
func (m *Manager) onStep(ctx context.Context, a *active) func(gameday.StepEvent) {
	if m.cfg.Relay == nil {
		return func(ev gameday.StepEvent) { a.apply(ev) }
	}
	return func(ev gameday.StepEvent) {
		event := a.apply(ev)
		if err := m.cfg.Store.SaveGameDayRunReport(ctx, a.id, a.snapshot()); err != nil {
			m.log.Error("game day: keep the report so far", "gamedayRun", a.id, "err", err)
		}
		if event != nil {
			m.cfg.Relay(a.id, event)
		}
	}
}

// Deliver hands the manager a step event of another server's game-day run
// (Relay); nil ends its subscriptions here.
func (m *Manager) Deliver(runID int64, event []byte) {
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	subs := m.remote[runID]
	if event == nil {
		for ch := range subs {
			close(ch)
		}
		delete(m.remote, runID)
		return
	}
	for ch := range subs {
		select {
		case ch <- event:
		default: // as for local subscribers: a slow one misses an event
		}
	}
}

// remoteRun reads a game-day run that another server may be running; ok
// is false unless it is running.
func (m *Manager) remoteRun(runID int64) (*store.GameDayRun, bool) {
	ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
	defer cancel()
	run, err := m.cfg.Store.GetGameDayRun(ctx, runID)
	if err != nil || !run.Status.Active() {
		return nil, false
	}
	return run, true
}

// remoteSnapshot is Snapshot for a game-day run of another server: its
// report so far, as the store keeps it.
func (m *Manager) remoteSnapshot(runID int64) ([]byte, bool) {
	run, ok := m.remoteRun(runID)
	if !ok || run.Report == nil {
		return nil, false
	}
	return run.Report, true
}

// subscribeRemote is Subscribe for a game-day run of another server.
func (m *Manager) subscribeRemote(runID int64) ([]byte, <-chan []byte, func(), bool) {
	run, ok := m.remoteRun(runID)
	if !ok {
		return nil, nil, func() {}, false
	}
	ch := make(chan []byte, 64)
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	if m.remote[runID] == nil {
		m.remote[runID] = map[chan []byte]struct{}{}
		m.wg.Add(1)
		go m.watchRemote(runID)
	}
	m.remote[runID][ch] = struct{}{}
	return run.Report, ch, func() { m.unsubscribeRemote(runID, ch) }, true
}

// watchRemote ends the subscriptions to another server's game-day run
// once the store has it ended, should its end not arrive; it returns when
// nobody follows the run any more, or at shutdown.
func (m *Manager) watchRemote(runID int64) {
	defer m.wg.Done()
	t := time.NewTicker(remoteCheck)
	defer t.Stop()
	for {
		select {
		case <-m.base.Done():
			m.Deliver(runID, nil)
			return
		case <-t.C:
		}
		m.remoteMu.Lock()
		followed := m.remote[runID] != nil
		m.remoteMu.Unlock()
		if !followed {
			return
		}
		if _, running := m.remoteRun(runID); !running {
			m.Deliver(runID, nil)
		}
	}
}

func (m *Manager) unsubscribeRemote(runID int64, ch chan []byte) {
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	subs := m.remote[runID]
	if _, ok := subs[ch]; !ok {
		return
	}
	delete(subs, ch)
	close(ch)
	if len(subs) == 0 {
		delete(m.remote, runID)
	}
}
