package report

import (
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Evaluate checks every hypothesis against r, fills r.Hypothesis and
// returns the verdict: pass when all hold, fail when any does not,
// inconclusive when none failed but some could not be graded, none when
// there is nothing to check.
func Evaluate(checks []scenarios.Check, r *Report) string {
	r.Hypothesis = make([]CheckResult, 0, len(checks))
	verdict := VerdictNone
	for _, c := range checks {
		observed := Observe(c, r)
		res := CheckResult{Check: c.String(), Observed: round(observed), Pass: Holds(observed, c.Op, c.Value.Value)}
		// Service time understates latency when the generator fell behind
		// (coordinated omission): a latency check it passes proves
		// nothing, one it fails is failed all the more.
		if res.Pass && r.GeneratorBehind && strings.HasPrefix(c.Metric, "latency_") {
			res.Pass, res.NotGradable = false, true
			res.Note = "not gradable: the load generator fell behind its schedule (see schedule), so service time understates latency"
		}
		r.Hypothesis = append(r.Hypothesis, res)
		switch {
		case !res.Pass && !res.NotGradable:
			verdict = VerdictFail
		case res.NotGradable && verdict != VerdictFail:
			verdict = VerdictInconclusive
		case verdict == VerdictNone:
			verdict = VerdictPass
		}
	}
	return verdict
}

// Observe returns the value of a check's metric in r: ratios in [0, 1],
// latencies in milliseconds, counters as totals. A check that names a
// phase reads that phase's numbers; NaN when r has no such phase.
func Observe(c scenarios.Check, r *Report) float64 {
	observe, ok := observers[c.Metric]
	if !ok {
		return math.NaN() // validation refuses unknown metrics; NaN fails every op
	}
	if c.Phase == "" {
		return observe(c, r)
	}
	for _, p := range r.Phases {
		if p.Name == c.Phase {
			return observe(c, &Report{Requests: p.Requests, Errors: p.Errors, Codes: p.Codes, QPS: p.QPS, LatencyMs: p.LatencyMs})
		}
	}
	return math.NaN()
}

// observers read each of scenarios.Metrics from a report; a test keeps
// the two lists the same.
var observers = map[string]func(c scenarios.Check, r *Report) float64{
	"status_ratio": func(c scenarios.Check, r *Report) float64 {
		return ratio(r.Codes[strconv.Itoa(c.Status)], r.Requests)
	},
	"error_ratio":  func(_ scenarios.Check, r *Report) float64 { return ratio(r.Errors, r.Requests) },
	"requests":     func(_ scenarios.Check, r *Report) float64 { return float64(r.Requests) },
	"qps":          func(_ scenarios.Check, r *Report) float64 { return r.QPS },
	"latency_min":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.Min },
	"latency_avg":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.Avg },
	"latency_p50":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.P50 },
	"latency_p75":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.P75 },
	"latency_p90":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.P90 },
	"latency_p99":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.P99 },
	"latency_p999": func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.P999 },
	"latency_max":  func(_ scenarios.Check, r *Report) float64 { return r.LatencyMs.Max },
	"upstream_requests": func(_ scenarios.Check, r *Report) float64 {
		return float64(r.Proxy.Totals.UpstreamRequests)
	},
	"retries":        func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.Retries) },
	"timeouts":       func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.Timeouts) },
	"overflows":      func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.Overflows) },
	"ejections":      func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.Ejections) },
	"faults_delayed": func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.FaultsDelayed) },
	"faults_aborted": func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.FaultsAborted) },
	"mirrored":       func(_ scenarios.Check, r *Report) float64 { return float64(r.Proxy.Totals.Mirrored) },
}

// Holds reports whether "observed op want" is true; NaN never holds.
func Holds(observed float64, op string, want float64) bool {
	if math.IsNaN(observed) {
		return false
	}
	switch op {
	case "<":
		return observed < want
	case "<=":
		return observed <= want
	case ">":
		return observed > want
	case ">=":
		return observed >= want
	case "==":
		return observed == want
	case "!=":
		return observed != want
	}
	return false
}

func ratio(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// round keeps reports readable: 4 significant decimals are plenty for a ratio.
func round(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	return math.Round(f*1e4) / 1e4
}
