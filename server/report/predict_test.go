package report

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// TestObservePredictions observes each metric where its doc comment says:
// the error ratio and latency on the fault phase of a phased run, the
// retry amplification on the rule's counters, overflows over requests;
// an observation outside its interval is a warning naming the basis.
func TestObservePredictions(t *testing.T) {
	r := &Report{
		Requests: 100, Errors: 10, LatencyMs: Latency{Max: 900},
		Phases: []Phase{
			{Name: "baseline", Requests: 40, ErrorRatio: 0},
			{Name: "fault", Requests: 20, ErrorRatio: 0.5, LatencyMs: Latency{Max: 300}},
			{Name: "recovery", Requests: 40},
		},
		Proxy: proxy.Stats{
			Totals: proxy.Totals{Overflows: 25},
			Routes: []proxy.RouteStats{{VirtualService: "httpbin", Rule: 0, Matched: 100, AbortsInjected: 20, Retries: 40}},
		},
		Predictions: []Prediction{
			{Metric: PredictErrorRatio, Route: "httpbin/0", Basis: "b1", Predicted: 0.5, Low: 0.3, High: 0.7},
			{Metric: PredictLatencyMax, Route: "httpbin/0", Basis: "b2", Predicted: 250, Low: 0, High: 280},
			{Metric: PredictRetryAmplification, Route: "httpbin/0", Basis: "b3", Predicted: 1.2, Low: 1.1, High: 1.3},
			{Metric: PredictOverflowRatio, Basis: "b4", Predicted: 0, Low: 0, High: 0},
		},
	}
	ObservePredictions(r)
	want := []struct {
		observed float64
		within   bool
	}{{0.5, true}, {300, false}, {1.2, true}, {0.25, false}}
	for i, w := range want {
		p := r.Predictions[i]
		if p.Observed == nil || *p.Observed != w.observed || *p.Within != w.within {
			t.Errorf("%s: observed %v within %v, want %g %v", p.Metric, p.Observed, p.Within, w.observed, w.within)
		}
	}
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "prediction latency_max for httpbin/0: observed 300 outside the 95 % interval [0, 280] predicted from b2") ||
		!strings.Contains(r.Warnings[1], "overflow_ratio for the default route") {
		t.Errorf("warnings %q", r.Warnings)
	}
}
