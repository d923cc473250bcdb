package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Status is where a run, a game-day run or a game-day step is: queued →
// running → succeeded | failed | stopped | interrupted | error (a step may
// also be skipped).
type Status string

// Statuses.
const (
	StatusQueued      Status = "queued"
	StatusRunning     Status = "running"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusStopped     Status = "stopped"
	StatusInterrupted Status = "interrupted"
	StatusError       Status = "error"
	StatusSkipped     Status = "skipped"
)

// Done reports whether the status is an end: neither queued nor running.
func (s Status) Done() bool { return s != "" && s != StatusQueued && s != StatusRunning }

// Verdict is what a hypothesis concluded.
type Verdict string

// Verdicts.
const (
	VerdictPass Verdict = "pass"
	VerdictFail Verdict = "fail"
	// VerdictNone: the experiment states no hypothesis, or the run did
	// not finish.
	VerdictNone Verdict = "none"
	// VerdictInconclusive: no check failed, but some could not be graded
	// (latency checks of a run whose load generator fell behind).
	VerdictInconclusive Verdict = "inconclusive"
)

// Run is a run of a stored experiment.
type Run struct {
	ID int64 `json:"id"`
	// ExperimentID is the experiment's id; 0 once it is deleted.
	ExperimentID      int64  `json:"experimentId"`
	Experiment        string `json:"experiment"`
	ExperimentVersion int    `json:"experimentVersion"`
	Status            Status `json:"status"`
	// Reason says why the run ended as it did, or why it waits.
	Reason  string  `json:"reason,omitempty"`
	Verdict Verdict `json:"verdict,omitempty"`
	// Seed drew the run's faults; Rerun replays it.
	Seed      int64     `json:"seed"`
	CreatedAt time.Time `json:"createdAt"`
	// StartedAt and EndedAt are zero until the run starts and ends.
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
	// Transitions are every status the run went through (Get only).
	Transitions []Transition `json:"transitions,omitempty"`
	// Report is the run's report (Get only, once the run recorded one);
	// nil otherwise.
	Report *Report `json:"report,omitempty"`
	// GameDayRunID and GameDayStep name the game-day run and its step
	// (a field path) that started the run; zero and empty otherwise.
	GameDayRunID int64  `json:"gameDayRunId,omitempty"`
	GameDayStep  string `json:"gameDayStep,omitempty"`
	// Environment and EnvironmentVersion name the environment the run
	// laid its resources over.
	Environment        string `json:"environment,omitempty"`
	EnvironmentVersion int    `json:"environmentVersion,omitempty"`
}

// Transition is one status a run went through.
type Transition struct {
	Status Status    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Progress is a live snapshot of a run, sent about once a second.
type Progress struct {
	RunID     int64   `json:"runId,omitempty"`
	Status    Status  `json:"status"`
	ElapsedMs float64 `json:"elapsedMs"`
	// PlannedMs is the load's duration; PlannedRequests its number of
	// calls (zero when the load is bounded by the other).
	PlannedMs       float64          `json:"plannedMs,omitempty"`
	Requests        int64            `json:"requests"`
	PlannedRequests int64            `json:"plannedRequests,omitempty"`
	Errors          int64            `json:"errors"`
	QPS             float64          `json:"qps"`
	Codes           map[string]int64 `json:"codes"`
	P50Ms           float64          `json:"p50Ms"`
	P99Ms           float64          `json:"p99Ms"`
	// Phase is the phase a phased run is in.
	Phase string `json:"phase,omitempty"`
}

// LiveProxy is a running run's proxy: its listeners and counters now.
type LiveProxy struct {
	RunID     int64      `json:"runId"`
	Listeners []Listener `json:"listeners"`
	Stats     ProxyStats `json:"stats"`
}

// Listener is one listener of a proxy or an environment's data plane.
type Listener struct {
	// Name is "mesh", "<gateway>:<port>" or "svc:<host>:<port>".
	Name string `json:"name"`
	// Kind is mesh, gateway or service.
	Kind    string `json:"kind"`
	Gateway string `json:"gateway,omitempty"`
	Host    string `json:"host,omitempty"`
	Port    int    `json:"port,omitempty"`
	// Protocol is HTTP, or TCP / TLS for a listener that proxies
	// connections (a TCP-like port, or TLS passed through by SNI).
	Protocol string `json:"protocol"`
	// Addr is where it listens, host:port.
	Addr string `json:"addr"`
}

// StartOptions are the options of RunsService.Start.
type StartOptions struct {
	// Seed replays a run's fault decisions; zero takes the experiment's
	// spec.seed, or draws one.
	Seed int64
	// NoQueue refuses the run (409, Code busy) while a run or an overlay
	// holds the experiment's environment, instead of queueing it.
	NoQueue bool
}

// RunListOptions select the runs RunsService.List reads.
type RunListOptions struct {
	ListOptions
	// Experiment keeps the runs of this experiment; zero keeps all.
	Experiment int64
	// Status keeps the runs with this status; empty keeps all.
	Status Status
}

// RunsService starts, follows, stops and reads runs: /api/v1/runs.
type RunsService struct{ c *Client }

// Start queues a run of the experiment's current version and returns it
// (status queued) at once; Wait follows it to its end. It is refused
// (409) while the safety lever is engaged (Code lever), and with NoQueue
// while the environment is held (Code busy); a full queue is a 429 (Code
// queue_full, Error.RetryAfter).
func (s *RunsService) Start(ctx context.Context, experimentID int64, opts StartOptions) (*Run, error) {
	body := struct {
		Seed int64 `json:"seed,omitempty"`
		Wait *bool `json:"wait,omitempty"`
	}{Seed: opts.Seed}
	if opts.NoQueue {
		wait := false
		body.Wait = &wait
	}
	var r Run
	if err := s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/experiments/%d/runs", experimentID), body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Get reads a run with its transitions and its report.
func (s *RunsService) Get(ctx context.Context, id int64) (*Run, error) {
	var r Run
	if err := s.c.getJSON(ctx, idPath("/api/v1/runs/%d", id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// List reads a page of the runs, newest first, without their reports.
func (s *RunsService) List(ctx context.Context, opts RunListOptions) (*Page[Run], error) {
	q := opts.values()
	if opts.Experiment > 0 {
		q.Set("experiment", strconv.FormatInt(opts.Experiment, 10))
	}
	if opts.Status != "" {
		q.Set("status", string(opts.Status))
	}
	var p Page[Run]
	if err := s.c.getJSON(ctx, "/api/v1/runs", q, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Stop stops a queued or running run; it ends stopped soon after (Wait
// for it). A run that is not running is a 409.
func (s *RunsService) Stop(ctx context.Context, id int64) error {
	return s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/runs/%d/stop", id), nil, nil)
}

// Rerun queues a replay of a run: the same experiment version with the
// same seed.
func (s *RunsService) Rerun(ctx context.Context, id int64) (*Run, error) {
	var r Run
	if err := s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/runs/%d/rerun", id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Compare sets run b against run a, with deltas and significance; both
// need reports.
func (s *RunsService) Compare(ctx context.Context, a, b int64) (*Comparison, error) {
	var cmp Comparison
	if err := s.c.getJSON(ctx, idPath("/api/v1/runs/%d/compare/%d", a, b), nil, &cmp); err != nil {
		return nil, err
	}
	return &cmp, nil
}

// FortioJSON returns fortio's own result JSON of a run, loadable by
// fortio's report viewer.
func (s *RunsService) FortioJSON(ctx context.Context, id int64) ([]byte, error) {
	return s.c.getBytes(ctx, idPath("/api/v1/runs/%d/fortio.json", id), nil)
}

// JUnit returns a run's report as JUnit XML, one test case per hypothesis
// check.
func (s *RunsService) JUnit(ctx context.Context, id int64) ([]byte, error) {
	return s.c.getBytes(ctx, idPath("/api/v1/runs/%d/junit.xml", id), nil)
}

// HistogramCSV returns a run's latency histogram as CSV.
func (s *RunsService) HistogramCSV(ctx context.Context, id int64) ([]byte, error) {
	return s.c.getBytes(ctx, idPath("/api/v1/runs/%d/histogram.csv", id), nil)
}

// LiveProxy reads a running run's proxy; a run that is not running is a
// 409.
func (s *RunsService) LiveProxy(ctx context.Context, id int64) (*LiveProxy, error) {
	var p LiveProxy
	if err := s.c.getJSON(ctx, idPath("/api/v1/runs/%d/proxy", id), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// RunEvent is one event of a run's stream: a progress snapshot, or the
// end.
type RunEvent struct {
	// Progress is set for a live snapshot.
	Progress *Progress
	// End is set for the last event: the run as stored when it ended,
	// without its report (Get has it).
	End *Run
}

// Events follows a run over server-sent events: its progress while it is
// queued or running, then its end (at once for a run that has ended).
// The channel is closed after the end event, when ctx ends, or when the
// stream drops; a caller that saw no End can Get the run or Wait for it.
// Cancel ctx to stop following early.
func (s *RunsService) Events(ctx context.Context, id int64) (<-chan RunEvent, error) {
	return openEvents(ctx, s.c, idPath("/api/v1/runs/%d/events", id), func(name string, data []byte) (RunEvent, bool, error) {
		switch name {
		case "progress":
			var p Progress
			return RunEvent{Progress: &p}, false, json.Unmarshal(data, &p)
		case "end":
			var r Run
			return RunEvent{End: &r}, true, json.Unmarshal(data, &r)
		}
		return RunEvent{}, false, errSkipEvent
	})
}

// Wait follows a run to its end and returns it as Get does, report
// included. It streams the run's events, and when the stream drops it
// reads the run every poll interval (WithPollInterval) until it has
// ended; a few failed reads in a row (the server restarting) are borne.
func (s *RunsService) Wait(ctx context.Context, id int64) (*Run, error) {
	return waitEnd(ctx, s.c,
		func(ctx context.Context) error { return drain(s.Events(ctx, id)) },
		func(ctx context.Context) (*Run, bool, error) {
			r, err := s.Get(ctx, id)
			if err != nil {
				return nil, false, err
			}
			return r, r.Status.Done(), nil
		})
}
