// Package runs manages the runs the API starts: it records each one in the
// store, executes it in the background under a concurrency limit, streams
// its progress to subscribers, and stops it on request or at shutdown.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/live"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/store"
)

// Store is what the manager needs of the database.
type Store interface {
	GetExperiment(ctx context.Context, id int64) (*store.Experiment, error)
	CreateRun(ctx context.Context, r *store.Run) error
	GetRun(ctx context.Context, id int64) (*store.Run, error)
	SetRunStatus(ctx context.Context, id int64, status runstatus.Status, reason string, at time.Time) error
	FinishRun(ctx context.Context, id int64, status runstatus.Status, verdict, reason string, report []byte, at time.Time) error
	GetExperimentVersion(ctx context.Context, id int64, version int) (*store.ExperimentVersion, error)
	PruneRuns(ctx context.Context, experimentID int64, keep int) (int64, error)
	RecordLever(ctx context.Context, s store.LeverState) (store.LeverState, error)
	Lever(ctx context.Context) (store.LeverState, error)
	GetGameDayRun(ctx context.Context, id int64) (*store.GameDayRun, error)
}

// Executor runs one experiment document; experiment.Execute is the real one.
type Executor func(ctx context.Context, doc *scenarios.Document, opts experiment.Options) (*report.Report, error)

// ErrNotRunning is returned when stopping a run that already ended.
var ErrNotRunning = fmt.Errorf("runs: %w: the run is not queued or running", errkind.Conflict)

// Config configures a Manager.
type Config struct {
	// MaxConcurrent runs execute at once; the rest wait as "queued". Default 2.
	MaxConcurrent int
	// MaxQueued bounds the runs waiting as "queued" (for a slot or for
	// their environment); starting one more is refused with a
	// *QueueFullError. Default DefaultMaxQueued.
	MaxQueued int
	// Engine holds the options every run starts from (allow-list, limits, logger).
	Engine experiment.Options
	Logger *slog.Logger
	// KeepRuns bounds the stored runs of each experiment: after a run ends,
	// the oldest finished ones beyond it are deleted. 0 keeps every run.
	KeepRuns int
	// OnFinish, when set, learns every run's end and its proxy's final
	// counters (nil when the run never got a proxy of its own: a run on an
	// environment reports through the environment's data plane).
	OnFinish func(runID int64, status runstatus.Status, stats *proxy.Stats)
	// Environments serves the runs of experiments on environments
	// (spec.environment); nil refuses them.
	Environments Environments
	// Relay, when set, carries every progress snapshot of this server's
	// runs, their last (terminal) one included, to the other servers on
	// the database, whose managers hand them to Deliver. It must not
	// block. With it, Subscribe follows the runs of other servers too.
	Relay func(report.Progress)
	// RemoteStop, when set, asks the other servers on the database to
	// stop a run that one of them executes (whose manager's Stop then
	// halts it); Stop uses it for runs active in the store but not here.
	// It must not block.
	RemoteStop func(runID int64, reason string)
}

// Environments gives the runs of experiments on environments their data
// planes (server/manager/environments).
type Environments interface {
	// Resolve returns the named environment's baseline and its stored
	// version; an unknown name is an errkind.NotFound.
	Resolve(name string) (*scenarios.Document, int, error)
	// Busy reports whether a run or an overlay holds the environment.
	Busy(name string) bool
	// Lease waits for the environment to be free (or, without wait,
	// refuses with an error whose Code is "busy") and gives run runID the
	// hold of its data plane until Release.
	Lease(ctx context.Context, name string, runID int64, experiment string, wait bool) (Lease, error)
}

// Lease is a run's hold on an environment's data plane.
type Lease interface {
	experiment.Plane
	// Baseline is the baseline in force and its version: the run's
	// experiment is parsed on it.
	Baseline() (*scenarios.Document, int)
	// Release reverts to the baseline and lets the next run have the
	// environment.
	Release()
}

// DefaultMaxQueued is Config.MaxQueued when it is not set.
const DefaultMaxQueued = 64

// Manager owns every background run.
type Manager struct {
	store Store
	exec  Executor
	cfg   Config
	log   *slog.Logger
	slots chan struct{}

	base     context.Context
	shutdown context.CancelFunc
	wg       sync.WaitGroup

	// remote are the runs of other servers followed here (remote.go).
	remoteMu sync.Mutex
	remote   map[int64]*remoteRun

	// mu guards active and lever: engaging the lever and admitting a run
	// are ordered by it, so no run slips past an engaged lever.
	mu     sync.Mutex
	active map[int64]*activeRun
	// queued counts the runs admitted and not yet holding a slot.
	queued  int
	lever   store.LeverState
	onLever []func(store.LeverState)
	// leverMove serialises moves of the lever with their hooks.
	leverMove sync.Mutex
}

// activeRun is one queued or running run: its live state, whose events
// are its progress snapshots, and what only runs have.
type activeRun struct {
	live         *live.Run[report.Progress, report.Progress]
	experimentID int64
	// dequeued is set (under Manager.mu) once the run no longer counts
	// as queued.
	dequeued bool
	// added is when the run became active here, after it was stored.
	added time.Time

	// relay is Config.Relay.
	relay func(report.Progress)

	mu    sync.Mutex
	proxy *proxy.Proxy
}

// progressBuffer is how many snapshots a subscriber to a run may fall
// behind before it misses some.
const progressBuffer = 16

// stopCause is the cancel cause of a run halted on purpose; its text
// becomes the run's reason.
type stopCause struct {
	reason string
	// status is what the run ends as: stopped, unless the stop is a
	// failure (error: the server lost its database).
	status runstatus.Status
}

func (c *stopCause) Error() string { return c.reason }

// errStopRequested is the cancel cause of a run stopped through the API.
var errStopRequested = &stopCause{reason: "stopped by request"}

// New returns a Manager; call Run to tie its runs to a lifetime.
func New(st Store, exec Executor, cfg Config) *Manager {
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 2
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Manager{
		store: st, exec: exec, cfg: cfg, log: log,
		slots: make(chan struct{}, cfg.MaxConcurrent),
		base:  base, shutdown: cancel,
		active: map[int64]*activeRun{}, remote: map[int64]*remoteRun{},
	}
}

// Run blocks until ctx ends, then stops every run and waits for each to
// record its end.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.Close()
	return nil
}

// Close stops every run and waits for them.
func (m *Manager) Close() {
	m.shutdown()
	m.wg.Wait()
}

// Start records a queued run of the experiment's current version and
// executes it in the background. A document that no longer validates is
// returned as *scenarios.InvalidError, a load above the ceilings as
// *safety.LimitError, a container the server does not start as
// *safety.ContainerError, a full queue as *QueueFullError; nothing is
// recorded then.
func (m *Manager) Start(ctx context.Context, experimentID int64, seed int64) (*store.Run, error) {
	exp, err := m.store.GetExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	return m.start(ctx, startSpec{experimentID: exp.ID, name: exp.Name, version: exp.Version, source: exp.Source, seed: seed})
}

// StartUnqueued is Start for a caller that will not wait for the
// experiment's environment: while a run or an overlay holds it, the run
// is refused (an error whose Code is "busy") instead of queued.
func (m *Manager) StartUnqueued(ctx context.Context, experimentID int64, seed int64) (*store.Run, error) {
	exp, err := m.store.GetExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	return m.start(ctx, startSpec{experimentID: exp.ID, name: exp.Name, version: exp.Version, source: exp.Source, seed: seed, noWait: true})
}

// StepRun is a run a game-day step asks for: a version of a stored
// experiment, with extra container actions, linked to the game-day run
// and its step.
type StepRun struct {
	ExperimentID int64
	Name         string
	Version      int
	// Source is the experiment's document at Version.
	Source string
	// Actions are added to the experiment's spec.actions for this run.
	Actions []scenarios.ContainerAction
	// GameDayRunID and GameDayStep link the run to the game-day run and
	// the step (its field path) that started it.
	GameDayRunID int64
	GameDayStep  string
	// Seed draws the faults; 0 means the experiment's spec.seed or a fresh one.
	Seed int64
}

// StartStep records a queued run for a game-day step and executes it in
// the background, as Start does (the concurrency limit and the safety
// lever apply alike). Wait follows it to its end.
func (m *Manager) StartStep(ctx context.Context, s StepRun) (*store.Run, error) {
	if s.GameDayRunID == 0 || s.GameDayStep == "" {
		return nil, fmt.Errorf("runs: start a game-day step: %w: the game-day run and step are required", errkind.Invalid)
	}
	return m.start(ctx, startSpec{experimentID: s.ExperimentID, name: s.Name, version: s.Version, source: s.Source, seed: s.Seed,
		actions: s.Actions, gameDayRunID: s.GameDayRunID, gameDayStep: s.GameDayStep})
}

// Wait blocks until the run has recorded its end (or ctx ends) and returns
// it as stored, report included. A run that is not active in this process
// is returned as stored at once.
func (m *Manager) Wait(ctx context.Context, id int64) (*store.Run, error) {
	m.mu.Lock()
	a := m.active[id]
	m.mu.Unlock()
	if a != nil {
		select {
		case <-a.live.Done():
		case <-ctx.Done():
			return nil, fmt.Errorf("runs: wait for run %d: %w", id, context.Cause(ctx))
		}
	}
	return m.store.GetRun(ctx, id)
}

// Rerun replays a run: the same experiment version with the same seed, so
// the proxy draws the same fault and routing decisions for the same
// request order, and — for a game-day step's run — the container actions
// the game day's action steps added to it. The replay is a run of its
// own, not part of the game day.
func (m *Manager) Rerun(ctx context.Context, runID int64) (*store.Run, error) {
	prev, err := m.store.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	if prev.ExperimentID == nil {
		return nil, fmt.Errorf("runs: rerun %d: %w: its experiment was deleted", runID, errkind.Conflict)
	}
	v, err := m.store.GetExperimentVersion(ctx, *prev.ExperimentID, prev.ExperimentVersion)
	if err != nil {
		return nil, fmt.Errorf("runs: rerun %d: version %d: %w", runID, prev.ExperimentVersion, err)
	}
	actions, err := m.gameDayActions(ctx, prev, v.Source)
	if err != nil {
		return nil, fmt.Errorf("runs: rerun %d: %w", runID, err)
	}
	return m.start(ctx, startSpec{experimentID: *prev.ExperimentID, name: prev.ExperimentName, version: prev.ExperimentVersion, source: v.Source, seed: prev.Seed,
		actions: actions})
}

// gameDayActions returns the actions the game day of a step's run added to
// it, read from the game day as that run of it stored it; none for a run
// no game day started (or whose game-day run was deleted).
func (m *Manager) gameDayActions(ctx context.Context, run *store.Run, source string) ([]scenarios.ContainerAction, error) {
	if run.GameDayRunID == nil {
		return nil, nil
	}
	gdr, err := m.store.GetGameDayRun(ctx, *run.GameDayRunID)
	if errors.Is(err, errkind.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	gd, err := scenarios.ParseGameDay([]byte(gdr.Source))
	if err != nil {
		return nil, fmt.Errorf("game-day run %d: %w", gdr.ID, err)
	}
	doc, err := scenarios.Parse([]byte(source))
	if err != nil {
		return nil, err
	}
	return gd.ActionsFor(run.GameDayStep, doc), nil
}

// startSpec is what start records and runs.
type startSpec struct {
	experimentID int64
	name         string
	version      int
	source       string
	seed         int64
	actions      []scenarios.ContainerAction
	gameDayRunID int64
	gameDayStep  string
	// noWait refuses the run while its environment is held.
	noWait bool
}

func (m *Manager) start(ctx context.Context, sp startSpec) (*store.Run, error) {
	experimentID, name, version, seed := sp.experimentID, sp.name, sp.version, sp.seed
	doc, envVersion, err := m.parse(sp.source)
	if err != nil {
		return nil, err
	}
	envName := doc.Experiment.Spec.Environment
	if envName != "" && sp.noWait && m.cfg.Environments.Busy(envName) {
		return nil, &BusyError{Environment: envName}
	}
	// The document was parsed for this run alone, so the game day's
	// actions can join its own.
	doc.Experiment.Spec.Actions = append(doc.Experiment.Spec.Actions, sp.actions...)
	if err := safety.Admit(doc, m.cfg.Engine.AllowTarget, m.cfg.Engine.Limits); err != nil {
		return nil, err
	}
	// The experiment may have been stored before the policy changed.
	if err := safety.CheckContainers(doc, m.cfg.Engine.Containers); err != nil {
		return nil, err
	}
	// What validate says of it, the start refuses at once: a load that
	// reaches a host the proxy cannot serve is no run to queue.
	if err := experiment.CheckError(experiment.Check(doc, m.cfg.Engine)); err != nil {
		return nil, err
	}
	if err := m.checkLever(); err != nil {
		return nil, err
	}
	if seed == 0 {
		seed = doc.Experiment.Spec.Seed
	}
	if seed == 0 {
		seed = experiment.NewSeed()
	}
	if m.base.Err() != nil {
		return nil, ErrShuttingDown
	}
	if err := m.enqueue(); err != nil {
		return nil, err
	}
	id := experimentID
	run := &store.Run{ExperimentID: &id, ExperimentName: name, ExperimentVersion: version, Status: runstatus.Queued, Seed: seed,
		Environment: envName, EnvironmentVersion: envVersion}
	if sp.gameDayRunID != 0 {
		gd := sp.gameDayRunID
		run.GameDayRunID, run.GameDayStep = &gd, sp.gameDayStep
	}
	if err := m.store.CreateRun(ctx, run); err != nil {
		m.mu.Lock()
		m.queued--
		m.mu.Unlock()
		return nil, err
	}
	runCtx, lr := live.New[report.Progress, report.Progress](m.base,
		report.Progress{RunID: run.ID, Status: runstatus.Queued, Codes: map[string]int64{}}, progressBuffer)
	a := &activeRun{live: lr, experimentID: experimentID, relay: m.cfg.Relay}
	m.mu.Lock()
	a.added = time.Now()
	m.active[run.ID] = a
	if m.lever.Engaged {
		// The lever was engaged after the check above: the run is
		// recorded, so it ends as stopped rather than vanishing.
		lr.Cancel(leverCause(m.lever.Reason))
	}
	m.mu.Unlock()
	m.wg.Add(1)
	go m.execute(runCtx, run, version, doc, sp, a)
	return run, nil
}

// enqueue takes a place in the queue for a run about to be recorded, or
// refuses it when the queue is full.
func (m *Manager) enqueue() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.queued >= m.cfg.MaxQueued {
		return &QueueFullError{Queued: m.queued}
	}
	m.queued++
	return nil
}

// dequeue gives up the run's place in the queue: it got a slot, or ended
// without one.
func (m *Manager) dequeue(a *activeRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !a.dequeued {
		a.dequeued = true
		m.queued--
	}
}

// QueueFullError refuses a run while Config.MaxQueued runs wait already.
// The API answers 429 with Retry-After.
type QueueFullError struct{ Queued int }

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("the run queue is full: %d runs are waiting for a slot (serve --max-queued bounds them); start this one when some have run", e.Queued)
}

// Code names the refusal for API clients: "queue_full".
func (e *QueueFullError) Code() string { return "queue_full" }

// RetryAfter is when a client may try again: the queue moves as runs end.
func (e *QueueFullError) RetryAfter() time.Duration { return queueRetryAfter }

// queueRetryAfter is the wait a refused client is told to take.
const queueRetryAfter = 10 * time.Second

// parse reads an experiment's source; one on an environment is parsed on
// the environment's baseline, whose version it returns.
func (m *Manager) parse(source string) (*scenarios.Document, int, error) {
	doc, err := scenarios.Parse([]byte(source))
	if err != nil {
		return nil, 0, err
	}
	name := doc.Experiment.Spec.Environment
	if name == "" {
		return doc, 0, nil
	}
	if m.cfg.Environments == nil {
		return nil, 0, &EnvironmentError{Message: "this server keeps no environments"}
	}
	base, v, err := m.cfg.Environments.Resolve(name)
	if errors.Is(err, errkind.NotFound) {
		return nil, 0, &EnvironmentError{Message: fmt.Sprintf("names no stored environment: %q", name)}
	}
	if err != nil {
		return nil, 0, err
	}
	doc, err = scenarios.ParseOn([]byte(source), base)
	return doc, v, err
}

// EnvironmentError is an experiment whose spec.environment cannot be had.
type EnvironmentError struct{ Message string }

func (e *EnvironmentError) Error() string { return "spec.environment: " + e.Message }

// FieldPath names the field at fault.
func (e *EnvironmentError) FieldPath() string { return "spec.environment" }

// BusyError refuses a run that would have to wait for its environment.
type BusyError struct{ Environment string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("environment %s is busy: a run or an overlay holds it (start without wait=false to queue)", e.Environment)
}

// Code names the refusal for API clients.
func (e *BusyError) Code() string { return "busy" }

// Unwrap makes a BusyError an errkind.Conflict (409).
func (e *BusyError) Unwrap() error { return errkind.Conflict }

// execute waits for a slot, runs the experiment and records the outcome.
func (m *Manager) execute(ctx context.Context, run *store.Run, version int, doc *scenarios.Document, sp startSpec, a *activeRun) {
	defer m.wg.Done()
	defer func() {
		m.dequeue(a) // a run that ends while queued
		m.mu.Lock()
		delete(m.active, run.ID)
		m.mu.Unlock()
	}()
	// The store must record the end even when ctx is cancelled.
	bg := context.WithoutCancel(ctx)
	var lease Lease
	if env := doc.Experiment.Spec.Environment; env != "" {
		// One run at a time per environment: wait (queued) for it first.
		var err error
		if lease, doc, err = m.lease(ctx, run, env, sp); err != nil {
			if ctx.Err() != nil {
				m.finish(bg, a, run.ID, runstatus.Stopped, report.VerdictNone, stopReason(ctx, "stopped while queued"), nil)
			} else {
				m.finish(bg, a, run.ID, runstatus.Error, report.VerdictNone, err.Error(), nil)
			}
			return
		}
		defer lease.Release()
	}
	select {
	case m.slots <- struct{}{}:
		m.dequeue(a)
		defer func() { <-m.slots }()
	case <-ctx.Done():
		m.finish(bg, a, run.ID, runstatus.Stopped, report.VerdictNone, stopReason(ctx, "stopped while queued"), nil)
		return
	}
	if err := m.store.SetRunStatus(bg, run.ID, runstatus.Running, "", time.Now().UTC()); err != nil {
		m.log.Error("run: record running", "run", run.ID, "err", err)
	}
	a.publish(report.Progress{RunID: run.ID, Status: runstatus.Running, Codes: map[string]int64{}})

	opts := m.cfg.Engine
	opts.Seed = run.Seed
	opts.OnProgress = func(p report.Progress) {
		p.RunID = run.ID
		a.publish(p)
	}
	opts.OnProxy = func(px *proxy.Proxy) { a.setProxy(px) }
	if lease != nil {
		// The environment's data plane is not the run's: its page and
		// metrics show it.
		opts.Plane, opts.OnProxy = lease, nil
	}
	rep, err := m.exec(ctx, doc, opts)
	if lease != nil {
		lease.Revert() // the baseline is back before the end is recorded
	}
	if err != nil {
		status, reason := runstatus.Error, err.Error()
		if ctx.Err() != nil {
			// Stopped while it set up (a mesh run applying its resources,
			// say): the stop ended it, not the error the stop caused.
			status, reason = runstatus.Stopped, stopReason(ctx, "stopped before the load started")
			if st := stopStatus(ctx); st != "" {
				status = st
			}
		}
		m.finish(bg, a, run.ID, status, report.VerdictNone, reason, nil)
		return
	}
	rep.RunID, rep.ExperimentVersion = run.ID, version
	if rep.Status == runstatus.Stopped {
		rep.Reason = stopReason(ctx, rep.Reason)
		if st := stopStatus(ctx); st != "" {
			rep.Status, rep.Verdict = st, report.VerdictNone
		}
	}
	m.finish(bg, a, run.ID, rep.Status, rep.Verdict, rep.Reason, rep)
}

// lease waits for the run's environment and parses the run's experiment
// again on the baseline in force then (the environment may have changed
// while the run was queued).
func (m *Manager) lease(ctx context.Context, run *store.Run, env string, sp startSpec) (Lease, *scenarios.Document, error) {
	lease, err := m.cfg.Environments.Lease(ctx, env, run.ID, run.ExperimentName, !sp.noWait)
	if err != nil {
		return nil, nil, err
	}
	base, _ := lease.Baseline()
	doc, err := scenarios.ParseOn([]byte(sp.source), base)
	if err != nil {
		lease.Release()
		return nil, nil, fmt.Errorf("the experiment no longer fits environment %s: %w", env, err)
	}
	doc.Experiment.Spec.Actions = append(doc.Experiment.Spec.Actions, sp.actions...)
	return lease, doc, nil
}

// stopStatus is the status a stopped run ends as when its stop says
// (error, for a server cut off from its database); empty means stopped.
func stopStatus(ctx context.Context) runstatus.Status {
	var sc *stopCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc.status
	}
	return ""
}

func stopReason(ctx context.Context, fallback string) string {
	var sc *stopCause
	if errors.As(context.Cause(ctx), &sc) {
		return sc.reason
	}
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return "stopped: the server is shutting down"
	}
	return fallback
}

func (m *Manager) finish(ctx context.Context, a *activeRun, id int64, status runstatus.Status, verdict, reason string, rep *report.Report) {
	if m.cfg.OnFinish != nil {
		var stats *proxy.Stats
		if rep != nil && rep.Environment == "" {
			stats = &rep.Proxy
		}
		m.cfg.OnFinish(id, status, stats)
	}
	a.setProxy(nil)
	var body []byte
	if rep != nil {
		var err error
		if body, err = json.Marshal(rep); err != nil {
			status, reason, body = runstatus.Error, fmt.Sprintf("encode report: %v", err), nil
		}
	}
	// Pruned before the end is recorded, while this run still counts as
	// active and keeps its place: a client that sees the run end sees the
	// older runs gone too.
	if m.cfg.KeepRuns > 0 && a.experimentID != 0 {
		if n, err := m.store.PruneRuns(ctx, a.experimentID, m.cfg.KeepRuns); err != nil {
			m.log.Error("run: prune old runs", "experiment", a.experimentID, "err", err)
		} else if n > 0 {
			m.log.Info("pruned old runs", "experiment", a.experimentID, "deleted", n)
		}
	}
	m.recordEnd(ctx, id, status, verdict, reason, body, time.Now().UTC())
	m.log.Info("run finished", "run", id, "status", status, "verdict", verdict, "reason", reason)
	a.end(status)
}

// recordEndFor bounds how long a run's end is retried while the store
// cannot be reached (a database that went away): long enough for a
// restart, short enough that a shutdown does not hang on it.
const recordEndFor = time.Minute

// recordEnd stores the run's end. A store that cannot be reached is
// retried, backing off, for recordEndFor, so a run cut short by a lost
// database is recorded once the database is back; an end the store
// refuses (the run ended already, say) is not retried, nor is one still
// unrecorded when the manager closes (the lease, or the next start, ends
// the run as interrupted then).
func (m *Manager) recordEnd(ctx context.Context, id int64, status runstatus.Status, verdict, reason string, body []byte, at time.Time) {
	deadline := time.Now().Add(recordEndFor)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := m.store.FinishRun(ctx, id, status, verdict, reason, body, at)
		if err == nil {
			return
		}
		if errors.Is(err, errkind.Conflict) || errors.Is(err, errkind.NotFound) || errors.Is(err, errkind.Invalid) || time.Now().After(deadline) {
			m.log.Error("run: record end", "run", id, "err", err)
			return
		}
		m.log.Warn("run: record end, retrying", "run", id, "err", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-m.base.Done():
			m.log.Error("run: record end: the server is closing", "run", id, "err", err)
			return
		}
	}
}

// Stop halts a queued or running run. It returns ErrNotRunning for a run
// that already ended and an errkind.NotFound for an unknown one.
func (m *Manager) Stop(ctx context.Context, id int64) error {
	return m.StopBecause(ctx, id, errStopRequested.reason)
}

// StopBecause is Stop with the reason the run records.
func (m *Manager) StopBecause(ctx context.Context, id int64, reason string) error {
	if m.StopLocal(id, reason) {
		return nil
	}
	run, err := m.store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if m.cfg.RemoteStop != nil && run.Status.Active() {
		m.cfg.RemoteStop(id, reason) // another server runs it
		return nil
	}
	return ErrNotRunning
}

// StopLocal halts the run, with reason, if it is active in this process,
// and reports whether it was.
func (m *Manager) StopLocal(id int64, reason string) bool {
	m.mu.Lock()
	a := m.active[id]
	m.mu.Unlock()
	if a == nil {
		return false
	}
	a.live.Cancel(&stopCause{reason: reason})
	return true
}

// KeepLeased stops, with reason, every run active in this process since
// before renewedAt that is not among leased, the runs whose leases the
// store renewed at renewedAt: the store no longer counts them as this
// server's (another server found the lease expired and marked them
// interrupted). Runs that became active later, or that ended meanwhile,
// are left alone. The runs end as status (empty: stopped; error for a
// server cut off from its database). It returns the runs it stopped.
func (m *Manager) KeepLeased(renewedAt time.Time, leased []int64, reason string, status runstatus.Status) []int64 {
	keep := make(map[int64]bool, len(leased))
	for _, id := range leased {
		keep[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var stopped []int64
	for id, a := range m.active {
		if keep[id] || !a.added.Before(renewedAt) {
			continue
		}
		select {
		case <-a.live.Done():
			continue
		default:
		}
		a.live.Cancel(&stopCause{reason: reason, status: status})
		stopped = append(stopped, id)
	}
	return stopped
}

// Active reports whether the run is queued or running in this process.
func (m *Manager) Active(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[id] != nil
}

// Subscribe returns the run's current progress and a channel of later
// snapshots, closed when the run ends. ok is false when the run is not
// active. cancel releases the subscription.
func (m *Manager) Subscribe(id int64) (current report.Progress, updates <-chan report.Progress, cancel func(), ok bool) {
	m.mu.Lock()
	a := m.active[id]
	m.mu.Unlock()
	if a == nil {
		if m.cfg.Relay != nil {
			return m.subscribeRemote(id)
		}
		return report.Progress{}, nil, func() {}, false
	}
	return a.live.Subscribe()
}

// LiveProxy returns the listeners and current counters of a running run's
// proxy; ok is false when the run has no proxy running.
func (m *Manager) LiveProxy(id int64) (listeners []proxy.Listener, stats proxy.Stats, ok bool) {
	px := m.Proxies()[id]
	if px == nil {
		return nil, proxy.Stats{}, false
	}
	return px.Listeners(), px.Stats(), true
}

// Proxies returns the live proxy of every running run, by run id.
func (m *Manager) Proxies() map[int64]*proxy.Proxy {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int64]*proxy.Proxy{}
	for id, a := range m.active {
		a.mu.Lock()
		if a.proxy != nil {
			out[id] = a.proxy
		}
		a.mu.Unlock()
	}
	return out
}

func (a *activeRun) publish(p report.Progress) {
	a.live.Publish(func(last *report.Progress) (report.Progress, bool) {
		*last = p
		return p, true
	})
	if a.relay != nil {
		a.relay(p)
	}
}

func (a *activeRun) setProxy(px *proxy.Proxy) {
	a.mu.Lock()
	a.proxy = px
	a.mu.Unlock()
}

// end hands subscribers the run's last snapshot, with its end status, and
// closes their subscriptions; the run's end is recorded.
func (a *activeRun) end(status runstatus.Status) {
	var last report.Progress
	a.live.End(func(p *report.Progress) (report.Progress, bool) {
		p.Status = status
		last = *p
		return last, true
	})
	if a.relay != nil {
		a.relay(last) // after the end is stored: other servers read it then
	}
}
