package report

import (
	"testing"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

func check(t *testing.T, metric string, status int, op, value string) scenarios.Check {
	t.Helper()
	c := scenarios.Check{Metric: metric, Status: status, Op: op}
	if err := c.Value.UnmarshalText([]byte(value)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEvaluate(t *testing.T) {
	r := &Report{
		Requests: 30, Errors: 13, QPS: 950,
		Codes:     map[string]int64{"200": 17, "503": 13},
		LatencyMs: Latency{P50: 2.1, P99: 5.4},
		Proxy:     proxy.Stats{Totals: proxy.Totals{Overflows: 13}},
	}
	cases := []struct {
		check    scenarios.Check
		observed float64
		pass     bool
	}{
		{check(t, "status_ratio", 503, ">", "0"), 0.4333, true},
		{check(t, "error_ratio", 0, "<=", "0.4"), 0.4333, false},
		{check(t, "latency_p99", 0, "<", "2s"), 5.4, true},
		{check(t, "latency_p50", 0, ">=", "2.1"), 2.1, true},
		{check(t, "overflows", 0, "==", "13"), 13, true},
		{check(t, "qps", 0, "!=", "950"), 950, false},
	}
	for _, c := range cases {
		verdict := Evaluate([]scenarios.Check{c.check}, r)
		got := r.Hypothesis[0]
		if got.Observed != c.observed || got.Pass != c.pass {
			t.Errorf("%s: observed %v pass %v, want %v %v", got.Check, got.Observed, got.Pass, c.observed, c.pass)
		}
		if want := map[bool]string{true: VerdictPass, false: VerdictFail}[c.pass]; verdict != want {
			t.Errorf("%s: verdict %s, want %s", got.Check, verdict, want)
		}
	}
	if v := Evaluate(nil, r); v != VerdictNone {
		t.Errorf("no hypothesis: verdict %s, want none", v)
	}
	all := []scenarios.Check{cases[0].check, cases[1].check}
	if v := Evaluate(all, r); v != VerdictFail || len(r.Hypothesis) != 2 {
		t.Errorf("one failing check of two: verdict %s", v)
	}
}

func TestEvaluateAPhase(t *testing.T) {
	r := &Report{
		Requests: 300, Errors: 100, Codes: map[string]int64{"200": 200, "503": 100},
		Phases: []Phase{
			{Name: "baseline", Requests: 100, Codes: map[string]int64{"200": 100}, LatencyMs: Latency{P99: 3}},
			{Name: "fault", Requests: 100, Errors: 100, Codes: map[string]int64{"503": 100}, LatencyMs: Latency{P99: 1}},
			{Name: "recovery", Requests: 100, Codes: map[string]int64{"200": 100}, LatencyMs: Latency{P99: 4}},
		},
	}
	inRecovery := check(t, "error_ratio", 0, "==", "0")
	inRecovery.Phase = "recovery"
	inFault := check(t, "status_ratio", 503, "==", "1")
	inFault.Phase = "fault"
	if v := Evaluate([]scenarios.Check{inRecovery, inFault}, r); v != VerdictPass {
		t.Errorf("verdict %s, want pass: %+v", v, r.Hypothesis)
	}
	overall := check(t, "error_ratio", 0, "==", "0")
	if v := Evaluate([]scenarios.Check{overall}, r); v != VerdictFail || r.Hypothesis[0].Observed != 0.3333 {
		t.Errorf("the run's error ratio: verdict %s, %+v", v, r.Hypothesis)
	}
}

func TestLatencyChecksOfAGeneratorBehindAreNotGradable(t *testing.T) {
	r := &Report{Requests: 10, Codes: map[string]int64{"200": 10}, LatencyMs: Latency{P99: 5}, GeneratorBehind: true}
	fast := check(t, "latency_p99", 0, "<", "10ms")
	slow := check(t, "latency_p99", 0, ">", "10ms")
	clean := check(t, "error_ratio", 0, "==", "0")
	if v := Evaluate([]scenarios.Check{fast, clean}, r); v != VerdictInconclusive || !r.Hypothesis[0].NotGradable || r.Hypothesis[0].Pass || !r.Hypothesis[1].Pass {
		t.Errorf("a passing latency check of a generator behind: verdict %s, %+v", v, r.Hypothesis)
	}
	// A failing one fails: service time only understates latency.
	if v := Evaluate([]scenarios.Check{slow, fast}, r); v != VerdictFail || r.Hypothesis[0].NotGradable {
		t.Errorf("a failing latency check of a generator behind: verdict %s, %+v", v, r.Hypothesis)
	}
	r.GeneratorBehind = false
	if v := Evaluate([]scenarios.Check{fast}, r); v != VerdictPass {
		t.Errorf("on schedule: verdict %s", v)
	}
}
