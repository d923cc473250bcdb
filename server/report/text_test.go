package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The text report of real runs (`faultline run --json` of the shipped
// examples, kept in testdata): fortio's lines, then Faultline's. A report
// without fortio's result (a run abandoned at its cap) prints the fortio
// lines it holds itself.
func TestTextReportGolden(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // fortio prints the procs of the process that ran the load
	for _, tc := range []struct {
		name, report string
		noFortio     bool
	}{
		{name: "httpbin-delay", report: "httpbin-delay"},
		{name: "httpbin-circuit-breaker", report: "httpbin-circuit-breaker"},
		{name: "httpbin-delay-without-fortio", report: "httpbin-delay", noFortio: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.report+".report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var r Report
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if tc.noFortio {
				r.Fortio = nil
			}
			var got bytes.Buffer
			if err := WriteText(&got, &r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".txt.golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("text report differs from %s (run with -update to accept):\n%s", golden, got.String())
			}
		})
	}
}

func TestTextReportOfAPhasedRunBehindItsSchedule(t *testing.T) {
	ttr := 1500.0
	observed, within := 0.07, true
	r := &Report{
		Experiment: "phased", Status: "failed", Verdict: VerdictInconclusive, Requests: 400, GeneratorBehind: true,
		Schedule:          &Schedule{QPS: 100, AchievedRatio: 0.8, OwnLagMs: LagMs{P99: 42}, BoundMs: 20},
		IntendedLatencyMs: &Latency{P50: 30, P99: 90},
		Phases: []Phase{
			{Name: "baseline", StartMs: 0, EndMs: 2000, Requests: 200},
			{Name: "fault", StartMs: 2000, EndMs: 4000, Requests: 200, Errors: 200, ErrorRatio: 1, Delta: &PhaseDelta{ErrorRatio: ProportionTest{Delta: 1, Significant: true}}},
		},
		TimeToRecoverMs: &ttr,
		Recovery:        &Recovery{WindowMs: 1000, MaxErrorRatio: 0.02, MaxP50Ms: 3},
		Predictions:     []Prediction{{Metric: "error_ratio", Route: "backend/0", Basis: "p^(n+1)", Predicted: 0.0625, Low: 0.05, High: 0.075, Observed: &observed, Within: &within}},
		Hypothesis:      []CheckResult{{Check: "latency_p99 < 1s", Observed: 5, NotGradable: true, Note: "not gradable"}},
	}
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Schedule: 100 qps asked, 80.00 % achieved", ": BEHIND, latency checks not gradable",
		"Latency from the intended start (coordinated omission corrected): p50 30.000 ms, p99 90.000 ms",
		"fault        2.00–4.00          200      1.0000", "error ratio +1.0000", "significant",
		"Time to recover: 1.50 s after the fault phase",
		"Predicted error_ratio for backend/0: 0.0625 (95 % 0.05–0.075), observed 0.07: within (p^(n+1))",
		"N/G   latency_p99 < 1s (observed 5): not gradable",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}
