package report

import (
	"math"
	"strconv"

	"github.com/faultline/faultline/scenarios"
)

// Evaluate checks every hypothesis against r, fills r.Hypothesis and
// returns the verdict: pass when all hold, fail when any does not, none
// when there is nothing to check.
func Evaluate(checks []scenarios.Check, r *Report) string {
	r.Hypothesis = make([]CheckResult, 0, len(checks))
	verdict := VerdictNone
	for _, c := range checks {
		observed := Observe(c, r)
		pass := Holds(observed, c.Op, c.Value.Value)
		r.Hypothesis = append(r.Hypothesis, CheckResult{Check: c.String(), Observed: round(observed), Pass: pass})
		switch {
		case !pass:
			verdict = VerdictFail
		case verdict == VerdictNone:
			verdict = VerdictPass
		}
	}
	return verdict
}

// Observe returns the value of a check's metric in r: ratios in [0, 1],
// latencies in milliseconds, counters as totals.
func Observe(c scenarios.Check, r *Report) float64 {
	if observe, ok := observers[c.Metric]; ok {
		return observe(c, r)
	}
	return math.NaN() // validation refuses unknown metrics; NaN fails every op
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
