package scenarios_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

func TestMetricsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range scenarios.Metrics() {
		if seen[m.Name] {
			t.Errorf("%s is listed twice", m.Name)
		}
		seen[m.Name] = true
		if !slices.Contains([]string{"ratio", "ms", "requests/s", "count"}, m.Unit) {
			t.Errorf("%s: unit %q is none of ratio, ms, requests/s, count", m.Name, m.Unit)
		}
		if got, want := m.Unit == "ms", strings.HasPrefix(m.Name, "latency_"); got != want {
			t.Errorf("%s: unit %q, but duration values fit latency_* metrics only", m.Name, m.Unit)
		}
		if m.Description == "" {
			t.Errorf("%s has no description", m.Name)
		}
		if m.Proxy && m.Abort {
			t.Errorf("%s: abort conditions watch the load, not the proxy's counters", m.Name)
		}
		if got, ok := scenarios.LookupMetric(m.Name); !ok || got != m {
			t.Errorf("LookupMetric(%q) = %+v, %v", m.Name, got, ok)
		}
	}
	if _, ok := scenarios.LookupMetric("p99"); ok {
		t.Error("LookupMetric found a metric that is not in the table")
	}
	// Problems name the abort metrics in this order.
	if got, want := scenarios.AbortMetrics(), []string{"error_ratio", "status_ratio", "qps", "latency_p50", "latency_p99"}; !slices.Equal(got, want) {
		t.Errorf("AbortMetrics() = %v, want %v", got, want)
	}
}
