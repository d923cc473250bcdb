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
	p := r.Proxy.Totals
	switch c.Metric {
	case "status_ratio":
		return ratio(r.Codes[strconv.Itoa(c.Status)], r.Requests)
	case "error_ratio":
		return ratio(r.Errors, r.Requests)
	case "requests":
		return float64(r.Requests)
	case "qps":
		return r.QPS
	case "latency_min":
		return r.LatencyMs.Min
	case "latency_avg":
		return r.LatencyMs.Avg
	case "latency_p50":
		return r.LatencyMs.P50
	case "latency_p75":
		return r.LatencyMs.P75
	case "latency_p90":
		return r.LatencyMs.P90
	case "latency_p99":
		return r.LatencyMs.P99
	case "latency_p999":
		return r.LatencyMs.P999
	case "latency_max":
		return r.LatencyMs.Max
	case "upstream_requests":
		return float64(p.UpstreamRequests)
	case "retries":
		return float64(p.Retries)
	case "timeouts":
		return float64(p.Timeouts)
	case "overflows":
		return float64(p.Overflows)
	case "ejections":
		return float64(p.Ejections)
	case "faults_delayed":
		return float64(p.FaultsDelayed)
	case "faults_aborted":
		return float64(p.FaultsAborted)
	case "mirrored":
		return float64(p.Mirrored)
	}
	return math.NaN() // validation refuses unknown metrics; NaN fails every op
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
