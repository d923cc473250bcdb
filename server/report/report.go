// Package report defines a run's report — the JSON that `faultline run
// --json` prints and the API returns — and evaluates an experiment's
// hypothesis against it.
package report

import (
	"encoding/json"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server/runstatus"
)

// Verdicts of a hypothesis.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	// VerdictNone is given when the experiment states no hypothesis or the
	// run did not finish.
	VerdictNone = "none"
	// VerdictInconclusive is given when no check failed but some could not
	// be graded (latency checks of a run whose load generator fell behind
	// its schedule).
	VerdictInconclusive = "inconclusive"
)

// Report is everything a finished run recorded.
type Report struct {
	Experiment        string           `json:"experiment"`
	ExperimentVersion int              `json:"experimentVersion,omitempty"`
	RunID             int64            `json:"runId,omitempty"`
	Status            runstatus.Status `json:"status"`
	Verdict           string           `json:"verdict"`
	Reason            string           `json:"reason,omitempty"`
	StartedAt         time.Time        `json:"startedAt"`
	EndedAt           time.Time        `json:"endedAt"`
	// Seed drew every fault and routing decision; replaying with it draws
	// the same for the same request order.
	Seed         int64  `json:"seed"`
	IstioVersion string `json:"istioVersion"`
	// Environment names the environment the run laid its resources over;
	// its Proxy counters are those of the run's window on that data plane.
	Environment string `json:"environment,omitempty"`
	// Target is what the load was aimed at, as the experiment wrote it.
	Target      string           `json:"target"`
	Via         string           `json:"via"`
	Requests    int64            `json:"requests"`
	QPS         float64          `json:"qps"`
	Errors      int64            `json:"errors"`
	Connections int              `json:"connections"`
	Sockets     int64            `json:"sockets"`
	DurationMs  float64          `json:"durationMs"`
	Codes       map[string]int64 `json:"codes"`
	LatencyMs   Latency          `json:"latencyMs"`
	Histogram   []Bucket         `json:"histogram"`
	// Warmup counts the uncounted warm-up calls fortio sent before the
	// run (one per connection before a duration-bound run); they are not
	// in Requests, nor in the Proxy counters except for a run from agents
	// (see Agents).
	Warmup int64 `json:"warmup"`
	// Timeline holds the live progress about once a second: throughput,
	// errors and rolling percentiles over time.
	Timeline []Point     `json:"timeline"`
	Proxy    proxy.Stats `json:"proxy"`
	// Injection sets every configured fault beside what the proxy did.
	Injection []Injection `json:"injection"`
	// RetryAmplification is upstream attempts ÷ client requests, both
	// without the warm-up calls.
	RetryAmplification float64       `json:"retryAmplification"`
	Hypothesis         []CheckResult `json:"hypothesis"`
	// Abort names the abort condition that halted the run, if one did.
	Abort    *AbortFired `json:"abort,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
	// Containers are the container endpoints the run started, with the
	// last lines of their logs.
	Containers []Container `json:"containers,omitempty"`
	// Actions are the timed container actions the run took, in the
	// timeline's time base.
	Actions []Action `json:"actions,omitempty"`
	// Mesh is what a run on a mesh environment applied to its namespace
	// and how each resource was put back; its Proxy counters are empty
	// (the cluster's Envoys count).
	Mesh *Mesh `json:"mesh,omitempty"`
	// Fortio is fortio's own result JSON, verbatim, so its report viewer
	// can load it.
	Fortio json.RawMessage `json:"fortio,omitempty"`
	// Agents is each fortio agent's share of a run whose load came from
	// agents (spec.load.agents), in the experiment's order; Requests,
	// Codes, the histogram and the percentiles above are their exact
	// merge. The Proxy counters of a duration-bound run include the
	// agents' warm-up calls (Warmup): each agent warms up on its own.
	Agents []AgentResult `json:"agents,omitempty"`
	// IntendedLatencyMs has the percentiles of latency measured from each
	// request's intended start at the configured rate (coordinated
	// omission corrected); LatencyMs is service time, from the actual
	// start. Absent when the load had no rate (qps 0) or came from agents.
	IntendedLatencyMs *Latency `json:"intendedLatencyMs,omitempty"`
	// GeneratorBehind is true when the load generator fell behind its own
	// schedule (Schedule says by how much): its latency checks are then
	// not gradable.
	GeneratorBehind bool `json:"generatorBehind"`
	// Schedule is how well the load kept its configured rate; absent when
	// it had none.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Phases are the baseline, fault and recovery of a phased run
	// (spec.phases), in the timeline's time base.
	Phases []Phase `json:"phases,omitempty"`
	// TimeToRecoverMs is, in a phased run, the time from the end of the
	// fault phase to the end of the first sliding window back within the
	// baseline's bounds; absent when the run never recovered.
	TimeToRecoverMs *float64 `json:"timeToRecoverMs,omitempty"`
	// Recovery says how TimeToRecoverMs was judged: the window and the
	// baseline's bounds.
	Recovery *Recovery `json:"recovery,omitempty"`
	// Predictions are what the configuration alone says the run should
	// show, beside what it showed.
	Predictions []Prediction `json:"predictions,omitempty"`
}

// Schedule is how the load generator kept to its configured rate.
type Schedule struct {
	// QPS is the configured rate; AchievedRatio is the achieved rate
	// over it.
	QPS           float64 `json:"qps"`
	AchievedRatio float64 `json:"achievedRatio"`
	// LagMs is how late requests started after their intended start, in
	// milliseconds: all of it (StartLagMs, which includes waiting for a
	// slow reply on the same connection) and the generator's own part
	// (OwnLagMs: late although the connection was free).
	StartLagMs LagMs `json:"startLagMs"`
	OwnLagMs   LagMs `json:"ownLagMs"`
	// BoundMs is the own lag at the 99th percentile above which the
	// generator counts as behind.
	BoundMs float64 `json:"boundMs"`
}

// LagMs summarises start lags in milliseconds.
type LagMs struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Phase is one phase of a phased run.
type Phase struct {
	Name string `json:"name"`
	// StartMs and EndMs are in the timeline's time base.
	StartMs           float64          `json:"startMs"`
	EndMs             float64          `json:"endMs"`
	Requests          int64            `json:"requests"`
	Errors            int64            `json:"errors"`
	Codes             map[string]int64 `json:"codes"`
	ErrorRatio        float64          `json:"errorRatio"`
	QPS               float64          `json:"qps"`
	LatencyMs         Latency          `json:"latencyMs"`
	IntendedLatencyMs *Latency         `json:"intendedLatencyMs,omitempty"`
	Histogram         []Bucket         `json:"histogram,omitempty"`
	// Delta compares the phase with the baseline; nil on the baseline.
	Delta *PhaseDelta `json:"delta,omitempty"`
}

// PhaseDelta is a phase against the baseline, with significance.
type PhaseDelta struct {
	ErrorRatio ProportionTest    `json:"errorRatio"`
	Latency    LatencyComparison `json:"latency"`
}

// Recovery records how a phased run's time to recover was judged.
type Recovery struct {
	WindowMs float64 `json:"windowMs"`
	StepMs   float64 `json:"stepMs"`
	// MaxErrorRatio and MaxP50Ms are the baseline's bounds a window must
	// be within.
	MaxErrorRatio float64 `json:"maxErrorRatio"`
	MaxP50Ms      float64 `json:"maxP50Ms"`
}

// Prediction is what the configuration says a metric should be, beside
// what the run observed.
type Prediction struct {
	// Metric is what is predicted, e.g. "error_ratio",
	// "retry_amplification", "latency_max", "overflow_ratio".
	Metric string `json:"metric"`
	// Route names the rule the prediction is about ("reviews/0").
	Route string `json:"route,omitempty"`
	// Basis says how the prediction follows from the configuration.
	Basis     string  `json:"basis"`
	Predicted float64 `json:"predicted"`
	// Low and High bound the 95 % interval the observation should fall in.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Observed and Within are absent from a dry run.
	Observed *float64 `json:"observed,omitempty"`
	Within   *bool    `json:"within,omitempty"`
}

// AgentResult is one fortio agent's share of a run, as the agent counted it.
type AgentResult struct {
	URL         string           `json:"url"`
	Connections int              `json:"connections"`
	Requests    int64            `json:"requests"`
	QPS         float64          `json:"qps"`
	Codes       map[string]int64 `json:"codes"`
	Errors      int64            `json:"errors"`
	LatencyMs   AgentLatency     `json:"latencyMs"`
}

// AgentLatency is an agent's latency percentiles, in milliseconds.
type AgentLatency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Mesh is a run's record of the cluster namespace it changed.
type Mesh struct {
	// Server is the API server's URL, Context the kubeconfig context.
	Server    string `json:"server"`
	Context   string `json:"context,omitempty"`
	Namespace string `json:"namespace"`
	// Entry is the address the load was sent to, the URL's host kept as
	// the Host header.
	Entry string `json:"entry"`
	// Resources are the Istio resources the run applied, in apply order.
	Resources []MeshResource `json:"resources"`
}

// MeshResource is one resource a run applied and what became of it.
type MeshResource struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Action is "created" (the namespace had none: deleted after) or
	// "changed" (saved first, put back after).
	Action string `json:"action"`
	// OriginalVersion, AppliedVersion and RestoredVersion are the
	// resourceVersions before the run, after its change, and after the
	// restore.
	OriginalVersion string `json:"originalVersion,omitempty"`
	AppliedVersion  string `json:"appliedVersion,omitempty"`
	RestoredVersion string `json:"restoredVersion,omitempty"`
	// State is "applied" (still in the cluster), "restored" or
	// "conflict" (someone else changed it during the run: left as they
	// made it).
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Point is one moment of a run's timeline.
type Point struct {
	ElapsedMs float64 `json:"elapsedMs"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	QPS       float64 `json:"qps"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// Container is one container endpoint a run started.
type Container struct {
	Service  string `json:"service"`
	Endpoint int    `json:"endpoint"`
	Image    string `json:"image"`
	ID       string `json:"id"`
	Address  string `json:"address"`
	LogTail  string `json:"logTail"`
}

// Action is one timed container action of a run; AtMs is in the timeline's
// time base (from the load's start).
type Action struct {
	At     string  `json:"at"`
	AtMs   float64 `json:"atMs"`
	Action string  `json:"action"`
	Target string  `json:"target"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
}

// AbortFired records the abort condition that halted a run.
type AbortFired struct {
	// Index is the condition's position in spec.abort.
	Index     int     `json:"index"`
	Condition string  `json:"condition"`
	AtMs      float64 `json:"atMs"`
	Observed  float64 `json:"observed"`
}

// Latency holds latency statistics in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Avg  float64 `json:"avg"`
	P50  float64 `json:"p50"`
	P75  float64 `json:"p75"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Bucket is one histogram bucket, bounds in milliseconds.
type Bucket struct {
	StartMs float64 `json:"startMs"`
	EndMs   float64 `json:"endMs"`
	Count   int64   `json:"count"`
}

// CheckResult is the outcome of one hypothesis check.
type CheckResult struct {
	Check    string  `json:"check"`
	Observed float64 `json:"observed"`
	Pass     bool    `json:"pass"`
	// NotGradable is set, with Pass false, when the run's data cannot
	// grade the check (a latency check when the load generator fell
	// behind its schedule); Note says why.
	NotGradable bool   `json:"notGradable,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Progress is a live snapshot of a running run, sent at least once a second.
type Progress struct {
	RunID           int64            `json:"runId,omitempty"`
	Status          runstatus.Status `json:"status"`
	ElapsedMs       float64          `json:"elapsedMs"`
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

// Fraction is how far the run is, in [0, 1], or -1 when unknown.
func (p Progress) Fraction() float64 {
	switch {
	case p.PlannedRequests > 0:
		return min(1, float64(p.Requests)/float64(p.PlannedRequests))
	case p.PlannedMs > 0:
		return min(1, p.ElapsedMs/p.PlannedMs)
	}
	return -1
}
