package report

import (
	"maps"
	"slices"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// TestObserversAreScenariosMetrics keeps the report's extractors and the
// metrics the validator accepts one list: every metric a check may name
// has an extractor, and there is none for a metric it refuses.
func TestObserversAreScenariosMetrics(t *testing.T) {
	got := slices.Sorted(maps.Keys(observers))
	if want := scenarios.HypothesisMetrics(); !slices.Equal(got, want) {
		t.Errorf("report extracts %v, want scenarios' metrics %v", got, want)
	}
}
