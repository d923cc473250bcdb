package experiment

import (
	"testing"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/scenarios"
)

// TestAbortWatchReadsTheAbortMetrics holds the live abort watch to the
// metrics table: it computes every metric an abort condition may name
// and nothing else.
func TestAbortWatchReadsTheAbortMetrics(t *testing.T) {
	p := loadgen.Progress{Elapsed: 2 * time.Second, Requests: 10, Errors: 1,
		Codes: map[int]int64{200: 9, 503: 1}, P50: time.Millisecond, P99: 2 * time.Millisecond}
	for _, m := range scenarios.Metrics() {
		t.Run(m.Name, func(t *testing.T) {
			w := newAbortWatch(nil, nil)
			c := scenarios.AbortCondition{Metric: m.Name}
			if m.Name == "status_ratio" {
				c.Status = 503
			}
			if _, ok := w.value(c, time.Second, p); ok != m.Abort {
				t.Errorf("abort watch computes %s: %v, want %v (the table's Abort)", m.Name, ok, m.Abort)
			}
		})
	}
}
