package client

import (
	"encoding/json"
	"time"
)

// Report is what a finished run recorded: fortio's numbers, the proxy's
// counters, the injection account and the hypothesis checks. Raw keeps
// the report's JSON as the server sent it, fortio's own result included,
// for what the typed fields leave out.
type Report struct {
	Experiment        string  `json:"experiment"`
	ExperimentVersion int     `json:"experimentVersion,omitempty"`
	RunID             int64   `json:"runId,omitempty"`
	Status            Status  `json:"status"`
	Verdict           Verdict `json:"verdict"`
	// Reason says why a run did not succeed (the failed checks, the
	// error, what stopped it).
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
	// Seed drew every fault and routing decision; Rerun replays it.
	Seed         int64  `json:"seed"`
	IstioVersion string `json:"istioVersion"`
	// Environment names the environment the run laid its resources over.
	Environment string `json:"environment,omitempty"`
	// Target is what the load aimed at, as the experiment wrote it; Via
	// is the listener it went through.
	Target string `json:"target"`
	Via    string `json:"via"`
	// Requests and Errors count the calls (without warm-up calls) and
	// those that failed; QPS is their rate.
	Requests    int64   `json:"requests"`
	QPS         float64 `json:"qps"`
	Errors      int64   `json:"errors"`
	Connections int     `json:"connections"`
	Sockets     int64   `json:"sockets"`
	DurationMs  float64 `json:"durationMs"`
	// Codes counts the calls by status code ("200", "503"; "-1" for a
	// call that got no answer).
	Codes     map[string]int64 `json:"codes"`
	LatencyMs Latency          `json:"latencyMs"`
	Histogram []Bucket         `json:"histogram"`
	// Warmup counts fortio's uncounted warm-up calls.
	Warmup int64 `json:"warmup"`
	// Timeline is the run's progress about once a second.
	Timeline []Point `json:"timeline"`
	// Proxy holds the proxy's counters over the run.
	Proxy ProxyStats `json:"proxy"`
	// Injection sets every configured fault beside what the proxy did.
	Injection []Injection `json:"injection"`
	// RetryAmplification is upstream attempts ÷ client requests.
	RetryAmplification float64 `json:"retryAmplification"`
	// Hypothesis holds each check of the experiment's hypothesis.
	Hypothesis []HypothesisCheck `json:"hypothesis"`
	// Abort names the abort condition that halted the run; nil when none
	// did.
	Abort    *AbortFired `json:"abort,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
	// Containers are the container endpoints the run started; Actions the
	// timed container actions it took.
	Containers []Container `json:"containers,omitempty"`
	Actions    []Action    `json:"actions,omitempty"`
	// IntendedLatencyMs is latency from each call's intended start at the
	// configured rate (coordinated omission corrected); nil when the load
	// had no rate. LatencyMs is service time.
	IntendedLatencyMs *Latency `json:"intendedLatencyMs,omitempty"`
	// GeneratorBehind is true when the load generator fell behind its
	// schedule; its latency checks are then not gradable.
	GeneratorBehind bool `json:"generatorBehind"`
	// Phases are a phased run's baseline, fault and recovery, in the
	// timeline's time base; TimeToRecoverMs is how long after the fault
	// phase the run was back within the baseline's bounds (nil: never).
	Phases          []Phase  `json:"phases,omitempty"`
	TimeToRecoverMs *float64 `json:"timeToRecoverMs,omitempty"`
	// Predictions are what the configuration says the run should show,
	// beside what it showed.
	Predictions []Prediction `json:"predictions,omitempty"`

	// Raw is the report's JSON as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the report and keeps its JSON in Raw.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Report(p)
	r.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes Raw when the report came from the server, so that
// printing it shows the report as the server sent it (fortio's result
// included); a report made otherwise is written from its fields.
func (r Report) MarshalJSON() ([]byte, error) {
	if len(r.Raw) > 0 {
		return r.Raw, nil
	}
	type plain Report
	return json.Marshal(plain(r))
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

// Bucket is one bucket of the latency histogram, bounds in milliseconds.
type Bucket struct {
	StartMs float64 `json:"startMs"`
	EndMs   float64 `json:"endMs"`
	Count   int64   `json:"count"`
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

// HypothesisCheck is one check of a hypothesis: "status_ratio 503 > 0",
// what was observed, and whether it held.
type HypothesisCheck struct {
	Check    string  `json:"check"`
	Observed float64 `json:"observed"`
	Pass     bool    `json:"pass"`
	// NotGradable is set, with Pass false, for a check the run's data
	// cannot grade; Note says why.
	NotGradable bool   `json:"notGradable,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Phase is one phase of a phased run; Raw fields the type leaves out
// (the histogram, the deltas against the baseline) are in Report.Raw.
type Phase struct {
	Name       string           `json:"name"`
	StartMs    float64          `json:"startMs"`
	EndMs      float64          `json:"endMs"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	Codes      map[string]int64 `json:"codes"`
	ErrorRatio float64          `json:"errorRatio"`
	LatencyMs  Latency          `json:"latencyMs"`
}

// Prediction is what the configuration says a metric should be, its
// 95 % interval, and what the run observed (nil in a dry run).
type Prediction struct {
	Metric    string   `json:"metric"`
	Route     string   `json:"route,omitempty"`
	Basis     string   `json:"basis"`
	Predicted float64  `json:"predicted"`
	Low       float64  `json:"low"`
	High      float64  `json:"high"`
	Observed  *float64 `json:"observed,omitempty"`
	Within    *bool    `json:"within,omitempty"`
}

// ProxyTotals are a proxy's counters summed over its clusters (the
// report's "proxy" block).
type ProxyTotals struct {
	// UpstreamRequests counts the requests sent upstream for clients,
	// retries included.
	UpstreamRequests int64 `json:"upstreamRequests"`
	// Attempts counts every upstream attempt, those a fault on attempts
	// (spec.faults) answered or cut without sending them included.
	Attempts int64 `json:"attempts"`
	Retries  int64 `json:"retries"`
	Timeouts int64 `json:"timeouts"`
	// Overflows counts requests a circuit breaker refused (503 UO).
	Overflows      int64 `json:"overflows"`
	Ejections      int64 `json:"ejections"`
	FaultsDelayed  int64 `json:"faultsDelayed"`
	FaultsAborted  int64 `json:"faultsAborted"`
	Mirrored       int64 `json:"mirrored"`
	MirrorsDropped int64 `json:"mirrorsDropped"`
	// Tunnels counts CONNECT tunnels opened; TunnelsRefused those
	// refused; TunnelsActive those open now.
	Tunnels         int64 `json:"tunnels"`
	TunnelsRefused  int64 `json:"tunnelsRefused"`
	TunnelsActive   int64 `json:"tunnelsActive"`
	TunnelBytesUp   int64 `json:"tunnelBytesUp"`
	TunnelBytesDown int64 `json:"tunnelBytesDown"`
	// ByFlag counts responses per Envoy response flag (UO, UF, FI, DI…).
	ByFlag map[string]int64 `json:"byFlag"`
}

// ProxyStats are a proxy's totals and its per-listener, per-route and
// per-cluster counters, these under Envoy's names as the server sends
// them.
type ProxyStats struct {
	ProxyTotals
	Listeners []json.RawMessage `json:"listeners"`
	Routes    []json.RawMessage `json:"routes"`
	Clusters  []json.RawMessage `json:"clusters"`
}

// Injection accounts for one configured fault of one VirtualService
// rule: what was asked for beside what happened.
type Injection struct {
	VirtualService string `json:"virtualService"`
	Rule           int    `json:"rule"`
	Name           string `json:"name,omitempty"`
	// Kind is delay, abort or mirror, or for spec.faults attempt-delay,
	// attempt-abort, shadow-delay or shadow-abort.
	Kind              string  `json:"kind"`
	ConfiguredPercent float64 `json:"configuredPercent"`
	// Matched counts the requests the rule matched; Injected those the
	// fault acted on.
	Matched         int64   `json:"matched"`
	Injected        int64   `json:"injected"`
	RealisedPercent float64 `json:"realisedPercent"`
	// CI95 is the 95 % Wilson interval of the realised percentage.
	CI95 [2]float64 `json:"ci95"`
	// OK is false when the fault matched nothing or missed its rate.
	OK      bool   `json:"ok"`
	Warning string `json:"warning,omitempty"`
}

// AbortFired is the abort condition that halted a run.
type AbortFired struct {
	// Index is the condition's position in spec.abort.
	Index     int     `json:"index"`
	Condition string  `json:"condition"`
	AtMs      float64 `json:"atMs"`
	Observed  float64 `json:"observed"`
}

// Container is a container endpoint a run started.
type Container struct {
	Service  string `json:"service"`
	Endpoint int    `json:"endpoint"`
	Image    string `json:"image"`
	ID       string `json:"id"`
	Address  string `json:"address"`
	// LogTail is the last lines of its log.
	LogTail string `json:"logTail"`
}

// Action is a timed container action a run took; AtMs is in the
// timeline's time base (from the load's start).
type Action struct {
	At     string  `json:"at"`
	AtMs   float64 `json:"atMs"`
	Action string  `json:"action"`
	Target string  `json:"target"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
}

// Comparison sets run B against run A.
type Comparison struct {
	A RunSummary `json:"a"`
	B RunSummary `json:"b"`
	// Codes lists every status code seen in either run.
	Codes []CodeDelta `json:"codes"`
	// ErrorRatio compares the shares of failed calls (two-proportion
	// z-test at 95 %).
	ErrorRatio ProportionTest `json:"errorRatio"`
	// Latency compares the percentiles and the distributions.
	Latency LatencyComparison `json:"latency"`
	// Counters compares the proxy's counters.
	Counters []MetricDelta `json:"counters"`
}

// RunSummary names one side of a comparison.
type RunSummary struct {
	RunID             int64   `json:"runId,omitempty"`
	Experiment        string  `json:"experiment"`
	ExperimentVersion int     `json:"experimentVersion,omitempty"`
	Status            Status  `json:"status"`
	Verdict           Verdict `json:"verdict"`
	Requests          int64   `json:"requests"`
	QPS               float64 `json:"qps"`
	Seed              int64   `json:"seed"`
}

// CodeDelta is one status code's count and share in both runs.
type CodeDelta struct {
	Code   string  `json:"code"`
	A      int64   `json:"a"`
	B      int64   `json:"b"`
	RatioA float64 `json:"ratioA"`
	RatioB float64 `json:"ratioB"`
	Delta  float64 `json:"delta"`
}

// ProportionTest is a two-proportion z-test at 95 %.
type ProportionTest struct {
	A           float64 `json:"a"`
	B           float64 `json:"b"`
	Delta       float64 `json:"delta"`
	Z           float64 `json:"z"`
	PValue      float64 `json:"pValue"`
	Significant bool    `json:"significant"`
}

// LatencyComparison holds the percentiles' deltas and a
// Kolmogorov–Smirnov test of the two distributions.
type LatencyComparison struct {
	Percentiles []MetricDelta `json:"percentiles"`
	KS          float64       `json:"ks"`
	KSCritical  float64       `json:"ksCritical"`
	Significant bool          `json:"significant"`
}

// MetricDelta is one number in both runs; Change is Delta relative to A
// (0 when A is 0).
type MetricDelta struct {
	Name   string  `json:"name"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	Delta  float64 `json:"delta"`
	Change float64 `json:"change"`
}
