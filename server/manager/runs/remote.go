package runs

import (
	"context"
	"time"

	"github.com/faultline/faultline/server/report"
)

// remoteCheck is how often a run of another server that is followed here
// is read from the store, in case its last snapshot never arrives (its
// server died, or a notification was lost).
const remoteCheck = time.Second

// remoteRun is a run of another server that subscribers here follow.
type remoteRun struct {
	last report.Progress
	subs map[chan report.Progress]struct{}
}

// Deliver hands the manager a progress snapshot that another server's
// Relay sent. Snapshots of runs nobody here follows are dropped; a
// terminal one ends the run's subscriptions.
func (m *Manager) Deliver(p report.Progress) {
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	r := m.remote[p.RunID]
	if r == nil {
		return
	}
	r.last = p
	for ch := range r.subs {
		select {
		case ch <- p:
		default: // as for local runs: a slow subscriber misses a snapshot
		}
	}
	if !p.Status.Active() {
		m.endRemoteLocked(p.RunID)
	}
}

// subscribeRemote is Subscribe for a run that another server executes: ok
// is false unless the store has it queued or running.
func (m *Manager) subscribeRemote(id int64) (report.Progress, <-chan report.Progress, func(), bool) {
	ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
	defer cancel()
	run, err := m.store.GetRun(ctx, id)
	if err != nil || !run.Status.Active() {
		return report.Progress{}, nil, func() {}, false
	}
	ch := make(chan report.Progress, 16)
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	r := m.remote[id]
	if r == nil {
		r = &remoteRun{last: report.Progress{RunID: id, Status: run.Status, Codes: map[string]int64{}}, subs: map[chan report.Progress]struct{}{}}
		m.remote[id] = r
		m.wg.Add(1)
		go m.watchRemote(id)
	}
	r.subs[ch] = struct{}{}
	return r.last, ch, func() { m.unsubscribeRemote(id, ch) }, true
}

// watchRemote ends the subscriptions to a run of another server once the
// store has it ended, should its last snapshot not come; it returns when
// nobody follows the run any more, or at shutdown.
func (m *Manager) watchRemote(id int64) {
	defer m.wg.Done()
	tick := time.NewTicker(remoteCheck)
	defer tick.Stop()
	for {
		select {
		case <-m.base.Done():
			m.remoteMu.Lock()
			m.endRemoteLocked(id)
			m.remoteMu.Unlock()
			return
		case <-tick.C:
		}
		m.remoteMu.Lock()
		followed := m.remote[id] != nil
		m.remoteMu.Unlock()
		if !followed {
			return
		}
		ctx, cancel := context.WithTimeout(m.base, 5*time.Second)
		run, err := m.store.GetRun(ctx, id)
		cancel()
		if err == nil && !run.Status.Active() {
			m.Deliver(report.Progress{RunID: id, Status: run.Status, Codes: map[string]int64{}})
		}
	}
}

// endRemoteLocked closes every subscription to run id; m.remoteMu is held.
func (m *Manager) endRemoteLocked(id int64) {
	r := m.remote[id]
	if r == nil {
		return
	}
	for ch := range r.subs {
		close(ch)
	}
	delete(m.remote, id)
}

func (m *Manager) unsubscribeRemote(id int64, ch chan report.Progress) {
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	r := m.remote[id]
	if r == nil {
		return
	}
	if _, ok := r.subs[ch]; ok {
		delete(r.subs, ch)
		close(ch)
	}
	if len(r.subs) == 0 {
		delete(m.remote, id)
	}
}
