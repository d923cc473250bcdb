package experiment_test

import (
	"math"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/safety"
)

// TestPredictionsHoldOnTheShippedScenarios runs every shipped example
// whose configuration predicts something, through experiment.Execute on
// its demo targets, and checks that every prediction's observation lands
// within its 95 % interval. The seed is fixed, so the draws the
// statistical intervals are about are the same on every run of the test.
func TestPredictionsHoldOnTheShippedScenarios(t *testing.T) {
	t.Parallel()
	examples, err := scenarios.Examples()
	if err != nil {
		t.Fatal(err)
	}
	predicted := 0
	for _, ex := range examples {
		doc := parseSource(t, ex.Source)
		preds, err := experiment.Predict(doc, nil)
		if err != nil {
			t.Fatalf("%s: %v", ex.File, err)
		}
		if len(preds) == 0 {
			continue
		}
		predicted++
		t.Run(strings.TrimSuffix(ex.File, ".yaml"), func(t *testing.T) {
			t.Parallel()
			rep, err := experiment.Execute(t.Context(), doc, experiment.Options{Seed: 3, Limits: safety.DefaultLimits})
			if err != nil {
				t.Fatalf("execute: %v", err)
			}
			rep.Predictions, err = experiment.Predict(doc, rep)
			if err != nil {
				t.Fatal(err)
			}
			report.ObservePredictions(rep)
			if len(rep.Predictions) != len(preds) {
				t.Errorf("%d predictions after the run, %d before", len(rep.Predictions), len(preds))
			}
			for _, p := range rep.Predictions {
				if p.Within == nil || p.Observed == nil {
					t.Errorf("%s for %s was not observed", p.Metric, p.Route)
					continue
				}
				t.Logf("%s %s: predicted %g in [%g, %g], observed %g (%s)", p.Metric, p.Route, p.Predicted, p.Low, p.High, *p.Observed, p.Basis)
				if !*p.Within {
					t.Errorf("%s for %s: observed %g outside [%g, %g] (%s)", p.Metric, p.Route, *p.Observed, p.Low, p.High, p.Basis)
				}
			}
		})
	}
	if predicted == 0 {
		t.Fatal("no shipped scenario predicts anything")
	}
}

// TestPredictionArithmetic checks the models on documents whose numbers
// are known: the error ratio of retried per-attempt aborts, the attempts
// they cause, and the Wilson interval of a planned count.
func TestPredictionArithmetic(t *testing.T) {
	const doc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: arith}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 1000}
  faults:
  - {virtualService: httpbin, on: attempts, abort: {httpStatus: 503, percentage: {value: 50}}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin}}]
    retries: {attempts: 3, retryOn: 5xx}
    timeout: 2s
`
	d, err := scenarios.Parse([]byte(doc))
	if err != nil {
		t.Skipf("spec.faults does not parse yet: %v", err)
	}
	preds, err := experiment.Predict(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.Prediction{}
	for _, p := range preds {
		got[p.Metric] = p
	}
	er := got[report.PredictErrorRatio]
	if math.Abs(er.Predicted-0.0625) > 1e-9 {
		t.Errorf("error_ratio = %g, want 0.5^4 = 0.0625 (%s)", er.Predicted, er.Basis)
	}
	if lo, hi := er.Low, er.High; !(lo < 0.0625 && hi > 0.0625 && lo > 0.045 && hi < 0.08) {
		t.Errorf("error_ratio interval [%g, %g], want about 0.0625 ± 0.015 for 1000 requests", lo, hi)
	}
	amp := got[report.PredictRetryAmplification]
	if want := (1 - math.Pow(0.5, 4)) / 0.5; math.Abs(amp.Predicted-want) > 1e-6 {
		t.Errorf("retry_amplification = %g, want %g", amp.Predicted, want)
	}
	if lat := got[report.PredictLatencyMax]; lat.Predicted != 2000 || lat.High <= 2000 {
		t.Errorf("latency_max = %+v, want 2000 ms with slack above", lat)
	}
	if r := got[report.PredictErrorRatio].Route; r != "httpbin/0" {
		t.Errorf("route %q, want httpbin/0", r)
	}
}
