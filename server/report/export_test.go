package report

import (
	"strings"
	"testing"
)

// A check the run could not grade is an error case of the JUnit suite,
// with its note; a failed check is a failure.
func TestJUnitMarksAnUngradableCheckAsAnError(t *testing.T) {
	r := &Report{Experiment: "paced", Status: "failed", Verdict: VerdictInconclusive, Hypothesis: []CheckResult{
		{Check: "latency_p99 < 5s", Observed: 3, NotGradable: true, Note: "not gradable: the load generator fell behind its schedule"},
		{Check: "error_ratio == 0", Observed: 0.5},
		{Check: "requests > 1", Observed: 10, Pass: true},
	}}
	out, err := JUnit(r)
	if err != nil {
		t.Fatal(err)
	}
	x := string(out)
	for _, want := range []string{
		`tests="3" failures="1" errors="1"`,
		`<error message="not gradable: the load generator fell behind its schedule" type="not-gradable">latency_p99 &lt; 5s could not be graded (observed 3)`,
		`<failure message="observed 0.5" type="hypothesis">`,
		`<property name="verdict" value="inconclusive">`,
	} {
		if !strings.Contains(x, want) {
			t.Errorf("JUnit lacks %q:\n%s", want, x)
		}
	}
}
