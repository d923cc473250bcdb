package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Prediction metrics.
const (
	// PredictErrorRatio is the share of the load's requests that fail
	// (non-2xx), as error_ratio counts them.
	PredictErrorRatio = "error_ratio"
	// PredictRetryAmplification is the upstream attempts per request of
	// the load's rule.
	PredictRetryAmplification = "retry_amplification"
	// PredictLatencyMax bounds the slowest request, in milliseconds.
	PredictLatencyMax = "latency_max"
	// PredictOverflowRatio is the share of the load's requests a circuit
	// breaker refuses (503 UO).
	PredictOverflowRatio = "overflow_ratio"
)

// withinSlack absorbs floating-point noise when an observation sits on
// an interval's edge (10 of 30 requests against a bound of 1/3).
const withinSlack = 1e-9

// ObservePredictions fills Observed and Within of every prediction in
// r.Predictions from the finished report, and adds a warning for each
// observation outside its interval. What each metric is observed on:
//
//   - error_ratio: errors ÷ requests of the run; in a phased run (a phase
//     named "fault"), the fault phase's error ratio, since the faults act
//     in that phase only;
//   - latency_max: the run's slowest request (LatencyMs.Max); in a phased
//     run the fault phase's;
//   - retry_amplification: the attempts of the predicted rule per request
//     it matched, from its own counters (Proxy.Route): matched − aborted
//     by its fault − redirects − direct responses + retries, over matched.
//     These are every attempt the router started, those a per-attempt
//     fault aborted included, and only this rule's: the other hops of the
//     run (Bookinfo's calls behind productpage) do not mix in, as they do
//     in RetryAmplification;
//   - overflow_ratio: circuit-breaker overflows (Proxy.Totals.Overflows,
//     the "overflows" metric) ÷ requests.
//
// A prediction whose observation the report cannot give (no requests, a
// rule without counters) is left unobserved.
func ObservePredictions(r *Report) {
	for i := range r.Predictions {
		p := &r.Predictions[i]
		p.Observed, p.Within = nil, nil
		v, ok := observe(p, r)
		if !ok {
			continue
		}
		v = round6(v)
		in := v >= p.Low-withinSlack && v <= p.High+withinSlack
		p.Observed, p.Within = &v, &in
		if !in {
			r.Warnings = append(r.Warnings, fmt.Sprintf("prediction %s for %s: observed %s outside the 95 %% interval [%s, %s] predicted from %s",
				p.Metric, routeLabel(p.Route), fmtNum(v), fmtNum(p.Low), fmtNum(p.High), p.Basis))
		}
	}
}

// FaultPhase returns the fault phase of a phased run, if the report has
// one.
func FaultPhase(r *Report) (*Phase, bool) {
	for i := range r.Phases {
		if r.Phases[i].Name == scenarios.PhaseFault {
			return &r.Phases[i], true
		}
	}
	return nil, false
}

func observe(p *Prediction, r *Report) (float64, bool) {
	switch p.Metric {
	case PredictErrorRatio:
		if ph, ok := FaultPhase(r); ok {
			return ph.ErrorRatio, ph.Requests > 0
		}
		return ratio(r.Errors, r.Requests), r.Requests > 0
	case PredictLatencyMax:
		if ph, ok := FaultPhase(r); ok {
			return ph.LatencyMs.Max, ph.Requests > 0
		}
		return r.LatencyMs.Max, r.Requests > 0
	case PredictRetryAmplification:
		vs, rule, ok := SplitRoute(p.Route)
		if !ok {
			return 0, false
		}
		rs, ok := r.Proxy.Route(vs, rule)
		if !ok || rs.Matched == 0 {
			return 0, false
		}
		attempts := rs.Matched - rs.AbortsInjected - rs.Redirects - rs.DirectResponses + rs.Retries
		return float64(attempts) / float64(rs.Matched), true
	case PredictOverflowRatio:
		return ratio(r.Proxy.Totals.Overflows, r.Requests), r.Requests > 0
	}
	return 0, false
}

// RouteName names rule index rule of VirtualService vs as predictions do:
// "<vs>/<rule>".
func RouteName(vs string, rule int) string { return vs + "/" + strconv.Itoa(rule) }

// SplitRoute reads a RouteName back.
func SplitRoute(route string) (vs string, rule int, ok bool) {
	i := strings.LastIndexByte(route, '/')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(route[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return route[:i], n, true
}

func routeLabel(route string) string {
	if route == "" {
		return "the default route"
	}
	return route
}

// round6 rounds to six decimals.
func round6(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	return math.Round(f*1e6) / 1e6
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
