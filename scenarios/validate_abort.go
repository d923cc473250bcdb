package scenarios

import (
	"fmt"
	"time"
)

// validateAbortConditions checks spec.abort.
func validateAbortConditions(r *reporter, conds []AbortCondition) {
	for i, a := range conds {
		p := fmt.Sprintf("spec.abort[%d]", i)
		validateCheck(r, p, Check{Metric: a.Metric, Status: a.Status, Op: a.Op, Value: a.Value}, AbortMetrics())
		if a.Window != nil && a.Window.D() < time.Second {
			r.errorf(p+".window", "must be at least 1s: conditions are checked once a second")
		}
		if a.For < 0 {
			r.errorf(p+".for", "must be >= 1 (consecutive checks)")
		}
	}
}
