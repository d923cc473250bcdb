package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// abortMetrics are the metrics an abort condition can watch live.
var abortMetrics = []string{"error_ratio", "status_ratio", "qps", "latency_p50", "latency_p99"}

// validateAbortConditions checks spec.abort.
func validateAbortConditions(r *reporter, conds []AbortCondition) {
	for i, a := range conds {
		p := fmt.Sprintf("spec.abort[%d]", i)
		if !slices.Contains(abortMetrics, a.Metric) {
			r.errorf(p+".metric", "must be one of %s, not %q", strings.Join(abortMetrics, ", "), a.Metric)
		}
		if !slices.Contains(checkOps, a.Op) {
			r.errorf(p+".op", "must be one of %s, not %q", strings.Join(checkOps, " "), a.Op)
		}
		if a.Metric == "status_ratio" && (a.Status < 100 || a.Status > 599) {
			r.errorf(p+".status", "status_ratio needs an HTTP status between 100 and 599")
		}
		if a.Metric != "status_ratio" && a.Status != 0 {
			r.errorf(p+".status", "only status_ratio takes a status")
		}
		if a.Value.Duration && !strings.HasPrefix(a.Metric, "latency_") {
			r.errorf(p+".value", "a duration only fits latency metrics")
		}
		if a.Window != nil && a.Window.D() < time.Second {
			r.errorf(p+".window", "must be at least 1s: conditions are checked once a second")
		}
		if a.For < 0 {
			r.errorf(p+".for", "must be >= 1 (consecutive checks)")
		}
	}
}
