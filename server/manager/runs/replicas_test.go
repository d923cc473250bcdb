package runs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/store"
)

// fakeStore keeps runs and the lever in memory, as several servers on one
// database would see them.
type fakeStore struct {
	mu    sync.Mutex
	runs  map[int64]*store.Run
	lever store.LeverState
	next  int64
}

func newFakeStore() *fakeStore { return &fakeStore{runs: map[int64]*store.Run{}} }

const testExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: test}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}
  load: {url: "http://httpbin:8000/get", qps: 10, duration: 1h}
`

func (s *fakeStore) GetExperiment(_ context.Context, id int64) (*store.Experiment, error) {
	return &store.Experiment{ID: id, Name: "test", Version: 1, Source: testExperiment}, nil
}

func (s *fakeStore) CreateRun(_ context.Context, r *store.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	r.ID = s.next
	c := *r
	s.runs[r.ID] = &c
	return nil
}

func (s *fakeStore) GetRun(_ context.Context, id int64) (*store.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	if r == nil {
		return nil, store.ErrNotFound
	}
	c := *r
	return &c, nil
}

func (s *fakeStore) setStatus(id int64, status runstatus.Status, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[id].Status, s.runs[id].Reason = status, reason
}

func (s *fakeStore) SetRunStatus(_ context.Context, id int64, status runstatus.Status, reason string, _ time.Time) error {
	s.setStatus(id, status, reason)
	return nil
}

func (s *fakeStore) FinishRun(_ context.Context, id int64, status runstatus.Status, _, reason string, _ []byte, _ time.Time) error {
	s.setStatus(id, status, reason)
	return nil
}

func (s *fakeStore) GetExperimentVersion(context.Context, int64, int) (*store.ExperimentVersion, error) {
	return nil, store.ErrNotFound
}
func (s *fakeStore) PruneRuns(context.Context, int64, int) (int64, error) { return 0, nil }
func (s *fakeStore) GetGameDayRun(context.Context, int64) (*store.GameDayRun, error) {
	return nil, store.ErrNotFound
}

func (s *fakeStore) RecordLever(_ context.Context, l store.LeverState) (store.LeverState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.Since = time.Now().UTC()
	s.lever = l
	return l, nil
}

func (s *fakeStore) Lever(context.Context) (store.LeverState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lever, nil
}

// blockingExec runs until its run is halted, reporting progress once.
func blockingExec(ctx context.Context, _ *scenarios.Document, opts experiment.Options) (*report.Report, error) {
	opts.OnProgress(report.Progress{Status: runstatus.Running, Requests: 1})
	<-ctx.Done()
	return &report.Report{Status: runstatus.Stopped}, nil
}

func startBlocked(t *testing.T, m *Manager) *store.Run {
	t.Helper()
	run, err := m.Start(t.Context(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func waitStored(t *testing.T, st *fakeStore, id int64, status runstatus.Status) *store.Run {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := st.GetRun(t.Context(), id)
		if r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d is %s, want %s", id, r.Status, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplicaSyncLever: a lever another server moved halts this one's
// runs, without being recorded again; a release lets runs start again.
func TestReplicaSyncLever(t *testing.T) {
	st := newFakeStore()
	m := New(st, blockingExec, Config{})
	defer m.Close()
	var heard []bool
	m.OnLever(func(s store.LeverState) { heard = append(heard, s.Engaged) })
	run := startBlocked(t, m)
	waitStored(t, st, run.ID, runstatus.Running)

	if changed, err := m.SyncLever(t.Context()); err != nil || changed {
		t.Fatalf("SyncLever with nothing moved: %v, %v", changed, err)
	}
	// Another server engages it.
	engaged, _ := st.RecordLever(t.Context(), store.LeverState{Engaged: true, Reason: "elsewhere"})
	if changed, err := m.SyncLever(t.Context()); err != nil || !changed {
		t.Fatalf("SyncLever after a move: %v, %v", changed, err)
	}
	r := waitStored(t, st, run.ID, runstatus.Stopped)
	if !strings.Contains(r.Reason, "elsewhere") {
		t.Errorf("reason %q", r.Reason)
	}
	if l := m.Lever(); !l.Engaged || !l.Since.Equal(engaged.Since) {
		t.Errorf("lever here: %+v", l)
	}
	if _, err := m.Start(t.Context(), 1, 1); !safety.IsLeverError(err) {
		t.Errorf("Start with the lever engaged elsewhere: %v", err)
	}
	if changed, _ := m.SyncLever(t.Context()); changed {
		t.Error("the same move applied twice")
	}
	st.RecordLever(t.Context(), store.LeverState{Reason: "all clear"})
	if changed, _ := m.SyncLever(t.Context()); !changed {
		t.Error("a release elsewhere not applied")
	}
	if !slices.Equal(heard, []bool{true, false}) {
		t.Errorf("hooks heard %v", heard)
	}
	startBlocked(t, m)
}

// TestReplicaKeepLeased: a run whose lease the store no longer renews for
// this server is stopped; one that became active after the renewal is
// not.
func TestReplicaKeepLeased(t *testing.T) {
	st := newFakeStore()
	m := New(st, blockingExec, Config{})
	defer m.Close()
	kept, lost := startBlocked(t, m), startBlocked(t, m)
	waitStored(t, st, lost.ID, runstatus.Running)
	renewedAt := time.Now()
	late := startBlocked(t, m)
	stopped := m.KeepLeased(renewedAt, []int64{kept.ID}, "lease lost", "")
	if !slices.Equal(stopped, []int64{lost.ID}) {
		t.Fatalf("stopped %v, want [%d]", stopped, lost.ID)
	}
	if r := waitStored(t, st, lost.ID, runstatus.Stopped); r.Reason != "lease lost" {
		t.Errorf("reason %q", r.Reason)
	}
	if !m.Active(kept.ID) || !m.Active(late.ID) {
		t.Error("a leased or a later run was stopped")
	}
}

// TestReplicaRemoteEvents: with a relay, this server follows a run of
// another one through Deliver, to its end; and a stop of such a run goes
// to RemoteStop.
func TestReplicaRemoteEvents(t *testing.T) {
	st := newFakeStore()
	var relayed []report.Progress
	var mu sync.Mutex
	var stops []int64
	m := New(st, blockingExec, Config{
		Relay:      func(p report.Progress) { mu.Lock(); relayed = append(relayed, p); mu.Unlock() },
		RemoteStop: func(id int64, _ string) { mu.Lock(); stops = append(stops, id); mu.Unlock() },
	})
	defer m.Close()
	// A run another server executes.
	other := &store.Run{ExperimentName: "test", Status: runstatus.Running, Owner: "other"}
	st.CreateRun(t.Context(), other)

	current, updates, cancel, ok := m.Subscribe(other.ID)
	defer cancel()
	if !ok || current.Status != runstatus.Running {
		t.Fatalf("Subscribe to a run of another server: %+v, %v", current, ok)
	}
	m.Deliver(report.Progress{RunID: other.ID, Status: runstatus.Running, Requests: 7})
	m.Deliver(report.Progress{RunID: other.ID + 100, Status: runstatus.Running}) // nobody follows it
	if p := <-updates; p.Requests != 7 {
		t.Errorf("first update %+v", p)
	}
	st.setStatus(other.ID, runstatus.Succeeded, "") // its server records the end, then relays it
	m.Deliver(report.Progress{RunID: other.ID, Status: runstatus.Succeeded})
	if p := <-updates; p.Status != runstatus.Succeeded {
		t.Errorf("last update %+v", p)
	}
	if _, open := <-updates; open {
		t.Error("updates still open after the end")
	}

	if err := m.Stop(t.Context(), other.ID); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop of an ended run of another server: %v", err)
	}
	st.setStatus(other.ID, runstatus.Running, "")
	if err := m.Stop(t.Context(), other.ID); err != nil {
		t.Errorf("Stop of a running run of another server: %v", err)
	}
	mu.Lock()
	if !slices.Equal(stops, []int64{other.ID}) {
		t.Errorf("remote stops %v", stops)
	}
	mu.Unlock()

	// A run of this server: the relay carries its progress and its end.
	run := startBlocked(t, m)
	waitStored(t, st, run.ID, runstatus.Running)
	if err := m.Stop(t.Context(), run.ID); err != nil {
		t.Fatal(err)
	}
	waitStored(t, st, run.ID, runstatus.Stopped)
	if _, err := m.Wait(t.Context(), run.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(relayed); n < 2 || relayed[n-1].Status != runstatus.Stopped || relayed[n-1].RunID != run.ID {
		t.Errorf("relayed %+v", relayed)
	}
}
