// Package gamedays runs stored game days in the server: each run is
// recorded, runs in the background with every experiment and steadyState
// step as a stored run of the runs manager, streams its steps to
// subscribers, halts when the safety lever is engaged or a blackout window
// of its schedule opens, and notifies its webhook when it ends.
package gamedays

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/runs"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/store"
	"github.com/faultline/faultline/server/webhook"
)

// Store is what the manager needs of the database.
type Store interface {
	GetGameDay(ctx context.Context, id int64) (*store.GameDay, error)
	GetExperimentByName(ctx context.Context, name string) (*store.Experiment, error)
	StartGameDayRun(ctx context.Context, r *store.GameDayRun) (running int64, err error)
	FinishGameDayRun(ctx context.Context, id int64, status runstatus.Status, verdict, reason string, report []byte, at time.Time) error
	GetGameDayRun(ctx context.Context, id int64) (*store.GameDayRun, error)
	SaveGameDayRunReport(ctx context.Context, id int64, report []byte) error
	RecordWebhookDelivery(ctx context.Context, d *store.WebhookDelivery) error
}

// Runs is what the manager needs of the runs manager (*runs.Manager).
type Runs interface {
	Lever() store.LeverState
	StartStep(ctx context.Context, s runs.StepRun) (*store.Run, error)
	Wait(ctx context.Context, id int64) (*store.Run, error)
	StopBecause(ctx context.Context, id int64, reason string) error
}

// Notifier delivers a webhook; *webhook.Sender is one.
type Notifier interface {
	Send(ctx context.Context, url, event string, payload any) webhook.Delivery
	// Check applies the target rules to a webhook's URL as a game day
	// is saved; a refusal says why.
	Check(ctx context.Context, url string) error
}

// ErrNotRunning is returned when stopping a game-day run that already ended.
var ErrNotRunning = fmt.Errorf("gamedays: %w: the game-day run is not running", errkind.Conflict)

// BlackoutError refuses a game day while a blackout window of its
// schedule holds. It is an errkind.Conflict, so the API answers 409.
type BlackoutError struct {
	GameDay string
	Window  scenarios.Blackout
}

func (e *BlackoutError) Error() string {
	return fmt.Sprintf("game day %q may not start now: the %s holds", e.GameDay, e.Window.Describe())
}

// Unwrap makes a BlackoutError an errkind.Conflict.
func (e *BlackoutError) Unwrap() error { return errkind.Conflict }

// Code names the refusal for API clients: "blackout".
func (e *BlackoutError) Code() string { return "blackout" }

// RunningError refuses a game day while a run of it is running. It is an
// errkind.Conflict.
type RunningError struct {
	GameDay string
	RunID   int64
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("game day %q is already running (game-day run %d)", e.GameDay, e.RunID)
}

// Unwrap makes a RunningError an errkind.Conflict.
func (e *RunningError) Unwrap() error { return errkind.Conflict }

// Code names the refusal for API clients: "running".
func (e *RunningError) Code() string { return "running" }

// Config configures a Manager.
type Config struct {
	Store Store
	Runs  Runs
	// Webhooks delivers the end of a game day to its webhook; nil means
	// unsigned deliveries to public addresses only.
	Webhooks Notifier
	// Admit applies the server's safety policy (target allow-list, load
	// ceilings) to each experiment a game day names; nil means
	// safety.Admit with loopback only and safety.DefaultLimits.
	Admit  func(doc *scenarios.Document) error
	Logger *slog.Logger
	// Now is the clock blackout windows are read against; nil means
	// time.Now.
	Now func() time.Time
	// BlackoutEvery is how often a running game day checks its blackout
	// windows; default 1s.
	BlackoutEvery time.Duration
	// DeliveryGrace is how long Close waits for webhook deliveries still
	// under way before cancelling them; default 5s.
	DeliveryGrace time.Duration
	// OnFinish, when set, learns each game-day run's end (after it is
	// recorded) with its status.
	OnFinish func(runID int64, status runstatus.Status)
	// RemoteStop, with other servers on the database, asks them to stop
	// a game-day run one of them runs (its manager's StopLocal halts
	// it); it must not block. Nil on a server alone on its database.
	RemoteStop func(runID int64, reason string)
	// Relay, with other servers on the database, carries each step event
	// of the game days run here (JSON, as subscribers receive it) to
	// them, and nil once a game-day run has ended; their managers hand
	// them to Deliver. It must not block. With it the report so far is
	// also kept in the store, and Snapshot and Subscribe follow the game
	// days of other servers too.
	Relay func(runID int64, event []byte)
}

// Manager owns every running game day.
type Manager struct {
	cfg Config
	log *slog.Logger

	base     context.Context
	shutdown context.CancelCauseFunc
	wg       sync.WaitGroup // game-day runs

	// remote are the game days of other servers followed here
	// (remote.go).
	remoteMu sync.Mutex
	remote   map[int64]map[chan []byte]struct{}

	// Webhook deliveries outlive their game-day run, but not Close by
	// more than DeliveryGrace.
	deliverCtx   context.Context
	stopDelivery context.CancelFunc
	deliveries   sync.WaitGroup
	closeOnce    sync.Once

	// mu guards active and closed. The lever hook takes it too, so a game
	// day is either refused by an engaged lever or halted by it.
	mu     sync.Mutex
	active map[int64]*active // by game-day run ID
	closed bool
}

// ErrShuttingDown refuses a game day once the manager is closing (the
// API answers 503).
var ErrShuttingDown = runs.ErrShuttingDown

// stopCause is the cancel cause of a game day halted on purpose; its
// text becomes the game-day run's reason.
type stopCause struct{ reason string }

func (c *stopCause) Error() string { return c.reason }

var shutdownCause = &stopCause{reason: "stopped: the server is shutting down"}

// New returns a Manager; call Run to tie its game days to a lifetime.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Webhooks == nil {
		cfg.Webhooks = webhook.NewGuarded(nil, &webhook.Guard{})
	}
	if cfg.Admit == nil {
		cfg.Admit = func(doc *scenarios.Document) error { return safety.Admit(doc, nil, safety.DefaultLimits) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BlackoutEvery <= 0 {
		cfg.BlackoutEvery = time.Second
	}
	if cfg.DeliveryGrace <= 0 {
		cfg.DeliveryGrace = 5 * time.Second
	}
	base, cancel := context.WithCancelCause(context.Background())
	dctx, dcancel := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, log: cfg.Logger, base: base, shutdown: cancel, deliverCtx: dctx, stopDelivery: dcancel,
		active: map[int64]*active{}, remote: map[int64]map[chan []byte]struct{}{}}
}

// Run blocks until ctx ends, then stops every game day and waits for each
// to record its end.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.Close()
	return nil
}

// Close stops every game day (status stopped), waits for them to record
// their ends, and gives webhook deliveries still under way DeliveryGrace
// to finish.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.shutdown(shutdownCause)
		m.wg.Wait()
		done := make(chan struct{})
		go func() {
			m.deliveries.Wait()
			close(done)
		}()
		t := time.NewTimer(m.cfg.DeliveryGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			m.stopDelivery()
			<-done
		}
		m.stopDelivery()
	})
}

// LeverMoved is the runs manager's lever hook: an engaged lever halts
// every running game day (status stopped, the reason naming the lever).
func (m *Manager) LeverMoved(s store.LeverState) {
	if !s.Engaged {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.active {
		a.live.Cancel(&stopCause{reason: "stopped by the safety lever: " + s.Reason})
		m.log.Warn("game day halted by the safety lever", "gamedayRun", id, "reason", s.Reason)
	}
}

// Check resolves the experiments a game day names against the stored
// ones, by name, and applies the safety policy to each, and the target
// rules to its webhook. A problem is returned as a
// *scenarios.InvalidError naming the game day's field
// (spec.steadyState, spec.steps[1].experiment,
// spec.notify.webhook.url, …).
func (m *Manager) Check(ctx context.Context, gd *scenarios.GameDay) error {
	_, _, err := m.resolve(ctx, gd)
	wh := gd.Spec.Notify
	if wh == nil || wh.Webhook == nil {
		return err
	}
	werr := m.cfg.Webhooks.Check(ctx, wh.Webhook.URL)
	if werr == nil {
		return err
	}
	const path = "spec.notify.webhook.url"
	p := scenarios.Problem{Severity: scenarios.SeverityError, Document: "GameDay " + gd.Metadata.Name, Path: path,
		Line: gd.Line(path), Message: werr.Error()}
	var invalid *scenarios.InvalidError
	switch {
	case err == nil:
		return &scenarios.InvalidError{Problems: scenarios.Problems{p}}
	case errors.As(err, &invalid):
		invalid.Problems = append(invalid.Problems, p)
	}
	return err
}

// resolve loads the stored experiments a game day names into a plan.
func (m *Manager) resolve(ctx context.Context, gd *scenarios.GameDay) (*gameday.Plan, map[string]*store.Experiment, error) {
	exps := map[string]*store.Experiment{}
	var storeErr error
	load := func(name string) (*scenarios.Document, error) {
		e, err := m.cfg.Store.GetExperimentByName(ctx, name)
		if errors.Is(err, errkind.NotFound) {
			return nil, errors.New("no experiment by that name is stored")
		}
		if err != nil {
			storeErr = err
			return nil, err
		}
		doc, err := scenarios.Parse([]byte(e.Source))
		if err != nil {
			return nil, err
		}
		if err := m.cfg.Admit(doc); err != nil {
			return nil, err
		}
		exps[name] = e
		return doc, nil
	}
	plan, err := gameday.Resolve(gd, load)
	if storeErr != nil {
		return nil, nil, fmt.Errorf("gamedays: resolve %s: %w", gd.Metadata.Name, storeErr)
	}
	if err != nil {
		return nil, nil, err
	}
	return plan, exps, nil
}

// StartGameDay records a running run of the stored game day and runs it in
// the background; trigger is store.TriggerAPI or store.TriggerSchedule.
// It refuses (an errkind.Conflict) while the safety lever
// is engaged (*safety.LeverError), while a blackout window of the game
// day's schedule holds (*BlackoutError) and while a run of the same game
// day is running (*RunningError); an experiment that is not stored or not
// admitted is a *scenarios.InvalidError. Nothing is recorded then.
func (m *Manager) StartGameDay(ctx context.Context, gameDayID int64, trigger string) (int64, error) {
	g, err := m.cfg.Store.GetGameDay(ctx, gameDayID)
	if err != nil {
		return 0, err
	}
	gd, err := scenarios.ParseGameDay([]byte(g.Source))
	if err != nil {
		return 0, err
	}
	plan, exps, err := m.resolve(ctx, gd)
	if err != nil {
		return 0, err
	}

	// Refusals and registration happen under one lock, which the lever
	// hook takes too: a game day is either refused by an engaged lever or
	// registered in time to be halted by it.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrShuttingDown
	}
	if lever := m.cfg.Runs.Lever(); lever.Engaged {
		return 0, &safety.LeverError{Reason: lever.Reason, Refused: "no run may start"}
	}
	if b, ok := gd.Spec.Schedule.BlackoutAt(m.cfg.Now()); ok {
		return 0, &BlackoutError{GameDay: g.Name, Window: b}
	}
	for id, a := range m.active {
		if a.gameDayID == g.ID {
			return 0, &RunningError{GameDay: g.Name, RunID: id}
		}
	}
	id := g.ID
	run := &store.GameDayRun{GameDayID: &id, GameDayName: g.Name, GameDayVersion: g.Version, Source: g.Source, Trigger: trigger}
	if running, err := m.cfg.Store.StartGameDayRun(ctx, run); err != nil {
		if running != 0 {
			// Another server runs it.
			return 0, &RunningError{GameDay: g.Name, RunID: running}
		}
		return 0, err
	}
	runCtx, a := newActive(m.base, run.ID, g.ID, gd)
	m.active[run.ID] = a
	m.wg.Add(1)
	go m.execute(runCtx, a, plan, exps, gd)
	m.log.Info("game day started", "gameday", g.Name, "gamedayRun", run.ID, "trigger", trigger)
	return run.ID, nil
}

// Stop halts a running game-day run with reason ("" means "stopped by
// request") and waits until it has recorded its end or ctx ends. It
// returns ErrNotRunning for a run that already ended and
// an errkind.NotFound for an unknown one.
func (m *Manager) Stop(ctx context.Context, runID int64, reason string) error {
	if reason == "" {
		reason = "stopped by request"
	}
	m.mu.Lock()
	a := m.active[runID]
	m.mu.Unlock()
	if a == nil {
		run, err := m.cfg.Store.GetGameDayRun(ctx, runID)
		if err != nil {
			return err
		}
		if !run.Status.Active() || m.cfg.RemoteStop == nil {
			return ErrNotRunning
		}
		m.cfg.RemoteStop(runID, reason) // another server runs it
		return m.waitStored(ctx, runID)
	}
	a.live.Cancel(&stopCause{reason: reason})
	select {
	case <-a.live.Done():
	case <-ctx.Done():
	}
	return nil
}

// StopLocal halts the game-day run with reason if it runs in this
// process, without waiting for its end, and reports whether it does.
func (m *Manager) StopLocal(runID int64, reason string) bool {
	m.mu.Lock()
	a := m.active[runID]
	m.mu.Unlock()
	if a == nil {
		return false
	}
	a.live.Cancel(&stopCause{reason: reason})
	return true
}

// remoteStopPoll is how often Stop reads a game-day run that another
// server stops, until it has ended.
const remoteStopPoll = 100 * time.Millisecond

// waitStored waits until the store has the game-day run ended, or ctx
// ends.
func (m *Manager) waitStored(ctx context.Context, runID int64) error {
	t := time.NewTicker(remoteStopPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		run, err := m.cfg.Store.GetGameDayRun(ctx, runID)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil && !run.Status.Active() {
			return nil
		}
	}
}

// ActiveRun returns the running run of a game day, if there is one.
func (m *Manager) ActiveRun(gameDayID int64) (runID int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.active {
		if a.gameDayID == gameDayID {
			return id, true
		}
	}
	return 0, false
}

// Running reports how many game days are running now.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active)
}

// Active reports whether the game-day run is running in this process.
func (m *Manager) Active(runID int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[runID] != nil
}

// Snapshot returns the report so far of a running game-day run, as JSON
// (gameday.Report, step reports left out); ok is false when it is not
// running.
func (m *Manager) Snapshot(runID int64) (reportJSON []byte, ok bool) {
	m.mu.Lock()
	a := m.active[runID]
	m.mu.Unlock()
	if a == nil {
		if m.cfg.Relay != nil {
			return m.remoteSnapshot(runID)
		}
		return nil, false
	}
	return a.snapshot(), true
}

// Subscribe returns the report so far of a running game-day run and a
// channel of its step events as JSON ({"start": bool, "step": Step,
// "parent": the ID of the step's parallel group, or ""),
// closed once the run has recorded its end. ok is false when the run is
// not running. cancel releases the subscription. A subscriber that falls
// more than 64 events behind misses events rather than slowing the game
// day.
func (m *Manager) Subscribe(runID int64) (reportJSON []byte, steps <-chan []byte, cancel func(), ok bool) {
	m.mu.Lock()
	a := m.active[runID]
	m.mu.Unlock()
	if a == nil {
		if m.cfg.Relay != nil {
			return m.subscribeRemote(runID)
		}
		return nil, nil, func() {}, false
	}
	return a.subscribe()
}

// JUnit renders a game-day run as JUnit XML (gameday.JUnit): the stored
// report, or the report so far of a running one.
func (m *Manager) JUnit(ctx context.Context, runID int64) ([]byte, error) {
	run, err := m.cfg.Store.GetGameDayRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	body := run.Report
	if snap, ok := m.Snapshot(runID); ok && len(body) == 0 {
		body = snap
	}
	rep := &gameday.Report{GameDay: run.GameDayName, Status: run.Status, Verdict: run.Verdict, Reason: run.Reason, StartedAt: run.CreatedAt}
	if len(body) > 0 {
		if err := json.Unmarshal(body, rep); err != nil {
			return nil, fmt.Errorf("gamedays: read the report of game-day run %d: %w", runID, err)
		}
	}
	if rep.EndedAt.IsZero() && run.EndedAt != nil {
		rep.EndedAt = *run.EndedAt
	}
	if rep.EndedAt.IsZero() {
		rep.EndedAt = time.Now().UTC()
	}
	return gameday.JUnit(rep)
}

// execute runs one game day to its end and records it.
func (m *Manager) execute(ctx context.Context, a *active, plan *gameday.Plan, exps map[string]*store.Experiment, gd *scenarios.GameDay) {
	defer m.wg.Done()
	defer a.live.Cancel(nil)
	bg := context.WithoutCancel(ctx)
	var watchers sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	if s := gd.Spec.Schedule; s != nil && len(s.Blackouts) > 0 {
		watchers.Go(func() { m.watchBlackouts(watchCtx, a, s) })
	}
	exec := &stepExecutor{runs: m.cfg.Runs, gameDayRunID: a.id, exps: exps}
	rep := plan.Run(ctx, exec, m.onStep(bg, a))
	stopWatch()
	watchers.Wait()

	if rep.Status == runstatus.Stopped {
		rep.Reason = stopReason(ctx)
	}
	stripReports(rep)
	status, verdict, reason := rep.Status, rep.Verdict, rep.Reason
	body, err := json.Marshal(rep)
	if err != nil {
		status, reason, body = runstatus.Error, fmt.Sprintf("encode the report: %v", err), nil
	}
	if err := m.cfg.Store.FinishGameDayRun(bg, a.id, status, verdict, reason, body, rep.EndedAt); err != nil {
		m.log.Error("game day: record end", "gamedayRun", a.id, "err", err)
	}
	m.log.Info("game day finished", "gameday", rep.GameDay, "gamedayRun", a.id, "status", status, "verdict", verdict, "reason", reason)
	m.mu.Lock()
	delete(m.active, a.id)
	m.mu.Unlock()
	a.live.End(nil)
	if m.cfg.Relay != nil {
		m.cfg.Relay(a.id, nil)
	}
	if m.cfg.OnFinish != nil {
		m.cfg.OnFinish(a.id, status)
	}

	if wh := gd.Spec.Notify; wh != nil && wh.Webhook != nil {
		p := payloadOf(a.id, rep)
		p.Status, p.Verdict, p.Reason = status, verdict, reason
		m.deliver(wh.Webhook, p)
	}
}

// watchBlackouts halts the game day when a blackout window of its
// schedule opens.
func (m *Manager) watchBlackouts(ctx context.Context, a *active, s *scenarios.Schedule) {
	t := time.NewTicker(m.cfg.BlackoutEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if b, ok := s.BlackoutAt(m.cfg.Now()); ok {
				a.live.Cancel(&stopCause{reason: "stopped by the " + b.Describe()})
				m.log.Warn("game day halted by a blackout window", "gamedayRun", a.id, "window", b.String(), "reason", b.Reason)
				return
			}
		}
	}
}

// stopReason is why a stopped game day stopped.
func stopReason(ctx context.Context) string {
	var sc *stopCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc.reason
	}
	return gameday.ReasonStopped
}

// stripReports drops the step reports: each lives in its own stored run,
// which the step names.
func stripReports(rep *gameday.Report) {
	for _, s := range []*gameday.Step{rep.SteadyStateBefore, rep.SteadyStateAfter} {
		if s != nil {
			s.Report = nil
		}
	}
	rep.Steps = stripSteps(rep.Steps)
}

func stripSteps(steps []gameday.Step) []gameday.Step {
	if steps == nil {
		return nil
	}
	out := slices.Clone(steps)
	for i := range out {
		out[i].Report = nil
		out[i].Steps = stripSteps(out[i].Steps)
	}
	return out
}

// stepExecutor runs a game day's experiment and steadyState steps as
// stored runs of the runs manager.
type stepExecutor struct {
	runs         Runs
	gameDayRunID int64
	exps         map[string]*store.Experiment
}

func (x *stepExecutor) Execute(ctx context.Context, req gameday.Request) (gameday.Result, error) {
	e := x.exps[req.Path]
	if e == nil {
		return gameday.Result{}, fmt.Errorf("the experiment %q was not resolved", req.Path)
	}
	if ctx.Err() != nil {
		// Halted between steps: this one never began.
		return gameday.Result{Report: &report.Report{Experiment: e.Name, Status: runstatus.Stopped, Verdict: report.VerdictNone, Reason: stopReason(ctx)}}, nil
	}
	// Recorded even if the game day halts meanwhile: the AfterFunc below
	// then stops the run at once.
	run, err := x.runs.StartStep(context.WithoutCancel(ctx), runs.StepRun{ExperimentID: e.ID, Name: e.Name, Version: e.Version, Source: e.Source,
		Actions: req.Actions, GameDayRunID: x.gameDayRunID, GameDayStep: req.Step})
	if err != nil {
		return gameday.Result{}, err
	}
	if req.Started != nil {
		req.Started(run.ID)
	}
	// The run belongs to the runs manager: stopping the game day stops it,
	// and the step waits for it to record its end either way.
	stop := context.AfterFunc(ctx, func() {
		_ = x.runs.StopBecause(context.WithoutCancel(ctx), run.ID, stopReason(ctx))
	})
	defer stop()
	done, err := x.runs.Wait(context.WithoutCancel(ctx), run.ID)
	if err != nil {
		return gameday.Result{RunID: run.ID}, err
	}
	res := gameday.Result{RunID: run.ID}
	if len(done.Report) == 0 {
		if done.Status == runstatus.Stopped {
			// Stopped before it began: a report of nothing.
			res.Report = &report.Report{Experiment: done.ExperimentName, Status: done.Status, Verdict: report.VerdictNone, Reason: done.Reason}
			return res, nil
		}
		return res, fmt.Errorf("run %d ended %s: %s", run.ID, done.Status, done.Reason)
	}
	var rep report.Report
	if err := json.Unmarshal(done.Report, &rep); err != nil {
		return res, fmt.Errorf("read the report of run %d: %w", run.ID, err)
	}
	res.Report = &rep
	return res, nil
}

var _ gameday.Executor = (*stepExecutor)(nil)
