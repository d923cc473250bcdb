// Package loadgen generates HTTP load against a target and reports what
// happened: request counts, status codes, latency percentiles and a latency
// histogram.
//
// The package hides its engine behind [Runner]. [Fortio] embeds
// fortio.org/fortio as a library and sends the load from this process;
// [Agents] sends it from remote fortio agents through fortio's REST API
// and merges their results. No fortio type crosses this API: callers see
// [Spec], [Progress] and [Result], plus fortio's own result JSON as an
// opaque [json.RawMessage] for archiving.
//
// A failed request is data, not an error: non-2xx responses and socket
// errors land in [Result.Codes] and [Result.Errors]. Run returns an error only
// when the run itself could not happen (invalid [Spec], unresolvable target,
// context already done).
//
// A rate-limited run (Spec.QPS > 0) also reports latency as a client arriving
// on fortio's schedule would have seen it ([Result.Intended]) and whether the
// generator itself kept that schedule ([ScheduleResult]). A run split into
// phases (Spec.PhaseEdges) reports each phase apart ([PhaseResult]), calls
// Spec.OnPhase as each begins, and keeps a time series of its calls
// ([Result.Window]).
package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Defaults applied to a zero field of [Spec].
const (
	// DefaultConnections is the number of connections (fortio "threads")
	// used when Spec.Connections is 0. It matches fortio's own default.
	DefaultConnections = 4
	// DefaultDuration is the run length used when both Spec.Requests and
	// Spec.Duration are 0. It matches fortio's own default.
	DefaultDuration = 5 * time.Second
	// DefaultTimeout is the per-request timeout used when Spec.Timeout is 0.
	// It matches fortio's own default.
	DefaultTimeout = 3 * time.Second
	// DefaultProgressInterval is the OnProgress period used when
	// Spec.ProgressInterval is 0.
	DefaultProgressInterval = 250 * time.Millisecond
)

// Spec describes one load run. The zero value of every field except URL is
// usable; what zero means is documented on each field.
type Spec struct {
	// URL is the target, "http://" or "https://" with a host. Required.
	URL string
	// Method is the HTTP method. "" means GET, or POST when Body is set.
	Method string
	// Header holds extra request headers. "Host" overrides the Host header
	// (virtual hosting); "Content-Type" is overridden by ContentType when
	// that is set. Values must not contain CR, LF or NUL.
	Header http.Header
	// Body is the request payload, sent with every request. nil = no body.
	Body []byte
	// ContentType sets the Content-Type header. "" = none, or
	// "application/octet-stream" when Body is set (fortio's default).
	ContentType string
	// QPS is the target rate over all connections. 0 means as fast as
	// possible (fortio's own 0 would mean 8 qps; this package maps 0 to
	// fortio's -1). Must not be negative.
	QPS float64
	// Connections is the number of concurrent connections (fortio
	// NumThreads). 0 means DefaultConnections (4). It is lowered to
	// Requests when Requests is smaller, and fortio lowers it further in
	// rate-limited count-bound runs (to Requests/2).
	Connections int
	// Requests is the exact number of calls to make (fortio Exactly).
	// 0 means the run is bound by Duration instead.
	Requests int64
	// Duration is the run length, used when Requests is 0. 0 means
	// DefaultDuration (5s). A duration-bound run first sends one uncounted
	// warm-up request per connection (fortio's parallel warm-up);
	// count-bound runs send exactly Requests.
	Duration time.Duration
	// Timeout is the per-request timeout. 0 means DefaultTimeout (3s).
	Timeout time.Duration
	// Uniform staggers the connections' request times evenly. Only
	// effective when QPS > 0.
	Uniform bool
	// Jitter adds ±10% jitter to the pacing. Only effective when QPS > 0.
	Jitter bool
	// StdClient uses Go's net/http client instead of fortio's fast raw
	// client (fortio DisableFastClient). The fast client closes the
	// connection after every non-2xx response; the std client keeps it
	// alive, which matters when the target injects faults.
	StdClient bool
	// OnProgress, if set, receives live snapshots at most every
	// ProgressInterval and exactly once more when the run ends (that last
	// call agrees with the returned Result). It is called from a goroutine
	// owned by Run, never concurrently with itself, and never after Run
	// returns. It should return quickly: a slow callback delays the next
	// snapshot, not the load.
	OnProgress func(Progress)
	// ProgressInterval is the OnProgress period. 0 means
	// DefaultProgressInterval (250ms).
	ProgressInterval time.Duration
	// OnWarmedUp, if set, is called once when the counted part of the run
	// begins: after every warm-up call of a duration-bound run has been
	// answered (a count-bound run has none), and before the first counted
	// call is sent. No counted call starts until it returns, so a caller
	// that snapshots the target's own counters here leaves the warm-up
	// out of them. It is not called when the run is stopped before its
	// first counted call.
	OnWarmedUp func()
	// TLS configures an https:// URL's TLS (trusted roots, a client
	// certificate, the server name). Nil verifies the server against the
	// system's roots by the URL's host. Only Fortio honours it: Agents
	// refuse a Spec that sets it.
	TLS *TLS
	// Resolution is the unit of fortio's latency histogram, which has
	// buckets at 1-11, 12-20, 25-50, ... up to 100000 units and
	// interpolates percentiles linearly inside a bucket. 0 means 1ms
	// (fortio's default: fine from 1ms up to 100s). Use e.g. 10µs when
	// latencies are well under a millisecond, as on loopback, where a 1ms
	// unit puts every call in the first bucket.
	Resolution time.Duration
	// PhaseEdges splits the counted run into len(PhaseEdges)+1 phases:
	// phase k (k >= 1) begins PhaseEdges[k-1] after the counted run's start
	// (the first counted call's start, see Result.CountedStart). Edges are
	// strictly increasing and > 0. Phases need a duration-bound run, so a
	// Spec that sets both PhaseEdges and Requests is invalid. A call belongs
	// to the phase in which it started. nil = no phases: Result.Phases is
	// nil and the run keeps no time series (see [Result.Window]). Only
	// Fortio honours it: Agents refuse a Spec that sets it.
	PhaseEdges []time.Duration
	// OnPhase, if set, is called with k+1 when the counted run reaches
	// PhaseEdges[k], as close to that instant as a timer allows: once per
	// edge, in order, from one goroutine owned by Run, never concurrently
	// with itself and never after Run returns. A timer starts when the
	// counted run begins (after OnWarmedUp returns). An edge the run does
	// not reach (it ended or ctx was cancelled first) gets no call. A slow
	// OnPhase delays the next OnPhase call, not the load, and not the
	// assignment of calls to phases (which follows the calls' start times).
	// Ignored without PhaseEdges.
	OnPhase func(index int)
}

// Progress is a live snapshot of a run, passed to Spec.OnProgress.
type Progress struct {
	// Elapsed is the time since Run was called.
	Elapsed time.Duration
	// Planned is the requested run length; 0 when the run is count-bound.
	Planned time.Duration
	// Requests is the number of completed calls so far. It never decreases
	// from one snapshot to the next.
	Requests int64
	// PlannedRequests is Spec.Requests; 0 when the run is duration-bound.
	PlannedRequests int64
	// Errors counts completed calls that were not 2xx, socket errors
	// included.
	Errors int64
	// Codes counts completed calls by HTTP status; -1 is a socket error.
	// It is a copy the callback may keep.
	Codes map[int]int64
	// QPS is the completion rate since the previous snapshot.
	QPS float64
	// P50 and P99 are latency percentiles over the calls completed in
	// roughly the last second (whole progress intervals, at least one).
	// They come from a log-bucketed histogram with at most 1/16 (6.25%)
	// relative error. Both are 0 when no call completed in that window.
	P50, P99 time.Duration
}

// Percentiles summarises a latency distribution.
type Percentiles struct {
	Min, Avg, P50, P75, P90, P99, P999, Max time.Duration
}

// Bucket is one latency histogram bucket: Count calls took between Start
// and End.
type Bucket struct {
	Start, End time.Duration
	Count      int64
}

// Result is the outcome of a run. A cancelled run yields the partial result
// of the calls made before it stopped.
type Result struct {
	// Requests is the number of calls made (warm-up calls excluded).
	Requests int64
	// Warmup is the number of uncounted warm-up calls sent before the run:
	// one per connection for a duration-bound run, none for a count-bound
	// one (fortio's "plus N warmup").
	Warmup int64
	// Errors counts calls whose status is not 2xx, socket errors (-1)
	// included. Note fortio's own error histogram also treats 418 as a
	// success; this count does not.
	Errors int64
	// ActualQPS is Requests divided by ActualDuration.
	ActualQPS float64
	// ActualDuration is how long the measured part of the run took.
	ActualDuration time.Duration
	// Codes counts calls by HTTP status; -1 is a socket error.
	Codes map[int]int64
	// Latency summarises the latency of all calls, failed ones included.
	Latency Percentiles
	// Histogram is the latency distribution, buckets in increasing order.
	Histogram []Bucket
	// Sockets is the number of connections opened during the measured run.
	Sockets int64
	// Raw is fortio's own result JSON (HTTPRunnerResults), for archiving
	// and fortio-compatible tooling. UserCredentials and Payload are
	// blanked and any password in the URL is redacted. A run sent from
	// agents has the merge of theirs, in the same shape.
	Raw json.RawMessage
	// Agents is each agent's share of a run sent from agents ([Agents]),
	// in the order of their URLs; nil for a run sent from this process.
	Agents []AgentResult

	// Intended summarises each call's latency measured from when fortio's
	// schedule meant it to start rather than from when it started: the
	// latency a client arriving on schedule would have seen, which stays
	// honest when slow replies hold back the calls behind them
	// ("coordinated omission"). It is never below the call's own latency.
	// The schedule is fortio's own pacing (see [ScheduleResult]); Jitter
	// is not modelled, so with Jitter a call may start up to 10% of a
	// connection's period away from its slot. Percentiles come from a
	// log-bucketed histogram (at most 6.25% relative error); Min, Avg and
	// Max are exact. nil when Spec.QPS is 0 (no schedule) and for runs sent
	// from agents.
	Intended *Percentiles
	// Schedule reports how well the run kept its rate; nil when Spec.QPS
	// is 0 and for runs sent from agents.
	Schedule *ScheduleResult
	// CountedStart is when the counted run began (the first counted call's
	// start, after the warm-up), as an offset from the call to Run: the
	// time base of Progress.Elapsed minus CountedStart is the time base of
	// phases and windows. 0 when no counted call started, and for runs sent
	// from agents.
	CountedStart time.Duration
	// Phases has one entry per phase of a run with Spec.PhaseEdges
	// (len(PhaseEdges)+1 entries, in order); nil otherwise. Their
	// Requests, Errors and Codes add up to the Result's.
	Phases []PhaseResult

	// series is the time series of a phased run; nil otherwise.
	series *series
}

// ScheduleResult is how a rate-limited run kept fortio's schedule.
//
// Fortio paces each connection on its own: connection t makes its i-th call
// at its base plus i/perThreadQPS (stretched by i/(n-1) calls in a
// duration-bound run so the last of its n calls lands at the end), where the
// base is the counted run's start, plus an even stagger per connection with
// Spec.Uniform. A call that cannot start at its slot starts as soon as it
// can, so a late call is late for one of two reasons: its connection was
// still waiting for the previous reply (the target's fault: the time shows
// up in [Result.Intended]), or the connection was free and the generator
// itself did not get to send (its own fault, e.g. CPU starvation). A run is
// Behind when the second is large, or when it fell short of its rate over
// all (whatever the reason: then it did not send the load it was asked to,
// and its service times understate the latency its schedule would have
// met). Lag of the first kind that the run caught up on is exactly what it
// measures: it shows up in [Result.Intended] and does not make it Behind.
type ScheduleResult struct {
	// QPS is the configured rate, Spec.QPS.
	QPS float64
	// AchievedRatio is Result.ActualQPS / QPS.
	AchievedRatio float64
	// StartLag is how late calls started against their slot, whatever
	// the reason (0 for a call on time or early).
	StartLag LagStats
	// OwnLag is the part of each call's lag that is the generator's own:
	// how long after max(its slot, the end of its connection's previous
	// call) it started.
	OwnLag LagStats
	// Bound is the own lag Behind tolerates: the larger of 50ms and one
	// connection's period (connections / QPS, with fortio's connection
	// count).
	Bound time.Duration
	// Behind is true when OwnLag.P99 exceeds Bound (the generator could
	// not keep its own schedule) or AchievedRatio is below 0.9 (the run
	// fell short of its rate over all, which a generator starved of CPU
	// in the same process as the target shows as slow replies). A slow
	// target that the run caught up on makes calls start late too, but
	// that lag shows up in Result.Intended and does not set Behind.
	Behind bool
}

// LagStats summarises how late calls started. P50 and P99 come from a
// log-bucketed histogram (at most 6.25% relative error); Max is exact.
type LagStats struct {
	P50, P99, Max time.Duration
}

// PhaseResult is the share of a run's calls that started in one phase (see
// Spec.PhaseEdges).
type PhaseResult struct {
	// Start and End bound the phase as offsets from the counted run's
	// start: phase k runs from PhaseEdges[k-1] (0 for the first) to
	// PhaseEdges[k]; the last ends at the run's measured end
	// (Result.ActualDuration). Both are capped at that end, so a phase the
	// run never reached has Start == End.
	Start, End time.Duration
	// Requests, Errors and Codes count the calls that started in the
	// phase, as Result does: Errors is every non-2xx call, socket errors
	// (-1) included.
	Requests, Errors int64
	Codes            map[int]int64
	// Latency summarises those calls' latency. It comes from this
	// package's log-bucketed histogram (at most 6.25% relative error; Min,
	// Avg and Max exact), not from fortio's, so it may differ slightly from
	// Result.Latency over the same calls.
	Latency Percentiles
	// Intended is those calls' intended latency (see Result.Intended); nil
	// when Spec.QPS is 0.
	Intended *Percentiles
	// Histogram is those calls' latency distribution in this package's
	// log buckets (each at most 1/16 as wide as its lower bound), non-empty
	// buckets only, in increasing order. Its shape differs from
	// Result.Histogram, which uses fortio's buckets.
	Histogram []Bucket
}

// WindowStats summarises the calls of a phased run that started within a
// window of time; see [Result.Window].
type WindowStats struct {
	// Requests and Errors count the calls; Errors is every non-2xx call,
	// socket errors included.
	Requests, Errors int64
	// P50 and P99 are those calls' latency percentiles from a coarse
	// histogram (buckets a factor of √2 wide, reported at their midpoint);
	// 0 when the window holds no call.
	P50, P99 time.Duration
}

// AgentResult is one agent's share of a run sent from agents, as the
// agent's own fortio counted it.
type AgentResult struct {
	// URL is the agent's URL as given.
	URL string
	// Connections is the agent's share of the connections.
	Connections int
	// Requests, Errors and Codes count its calls as Result does.
	Requests, Errors int64
	Codes            map[int]int64
	// ActualQPS is its calls over its own run's length.
	ActualQPS float64
	// Latency summarises its calls' latency.
	Latency Percentiles
	// Warmup is its uncounted warm-up calls (duration-bound runs).
	Warmup int64
}

// Runner runs one load run to completion.
//
//	Spec ──validate──► engine options ──► N connections ──► target
//	                                           │ per call (atomics)
//	                                           ▼
//	                             progress tracker ──tick──► Spec.OnProgress
//	  ctx.Done() ──► abort ──► partial Result
//
// Run blocks until the run ends: when Requests calls are done, Duration has
// passed, or ctx is cancelled. Cancelling ctx is not an error; Run then
// returns the partial result. Run returns an error only when the run could
// not happen.
type Runner interface {
	Run(ctx context.Context, spec Spec) (*Result, error)
}
