package scenarios

import (
	"strings"
	"testing"
	"time"
)

const phased = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: phased}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: LOAD
  phases: PHASES
  hypothesis: CHECKS
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {percentage: {value: 50}, httpStatus: 503}}
    route: [{destination: {host: httpbin}}]
`

func phasedDoc(load, phases, checks string) string {
	return strings.NewReplacer("LOAD", load, "PHASES", phases, "CHECKS", checks).Replace(phased)
}

func TestPhasesFillTheLoadDuration(t *testing.T) {
	doc, err := Parse([]byte(phasedDoc(`{url: "http://httpbin:8000/get", qps: 50}`, `{baseline: 2s, fault: 3s, recovery: 4s}`,
		`[{metric: error_ratio, op: "<", value: 0.01, phase: recovery}, {metric: error_ratio, op: ">", value: 0.3, phase: fault}]`)))
	if err != nil {
		t.Fatalf("valid phased experiment refused: %v", err)
	}
	if got := doc.Experiment.Spec.Load.Duration.D(); got != 9*time.Second {
		t.Errorf("load.duration = %v, want the phases' sum 9s", got)
	}
	if got := doc.Experiment.Spec.Hypothesis[0].String(); got != "error_ratio < 0.01 in recovery" {
		t.Errorf("check renders as %q", got)
	}
	// A duration equal to the sum is accepted too.
	if _, err := Parse([]byte(phasedDoc(`{url: "http://httpbin:8000/get", duration: 9s}`, `{baseline: 2s, fault: 3s, recovery: 4s}`, `[]`))); err != nil {
		t.Errorf("duration equal to the phases' sum refused: %v", err)
	}
}

func TestPhasesValidation(t *testing.T) {
	const load = `{url: "http://httpbin:8000/get", qps: 50}`
	const phases = `{baseline: 2s, fault: 3s, recovery: 4s}`
	for _, tc := range []struct{ load, phases, checks, path string }{
		{load, `{baseline: 2s, recovery: 4s}`, `[]`, "spec.phases.fault"},
		{load, `{baseline: 0s, fault: 1s, recovery: 4s}`, `[]`, "spec.phases.baseline"},
		{`{url: "http://httpbin:8000/get", requests: 100}`, phases, `[]`, "spec.load.requests"},
		{`{url: "http://httpbin:8000/get", duration: 5s}`, phases, `[]`, "spec.load.duration"},
		{`{url: "http://httpbin:8000/get", agents: ["http://127.0.0.1:8080"]}`, phases, `[]`, "spec.phases"},
		{load, phases, `[{metric: error_ratio, op: "<", value: 1, phase: cooldown}]`, "spec.hypothesis[0].phase"},
		{load, phases, `[{metric: upstream_requests, op: ">", value: 1, phase: fault}]`, "spec.hypothesis[0].phase"},
		{load, `null`, `[{metric: error_ratio, op: "<", value: 1, phase: fault}]`, "spec.hypothesis[0].phase"},
	} {
		_, err := Parse([]byte(phasedDoc(tc.load, tc.phases, tc.checks)))
		inv, ok := err.(*InvalidError)
		if !ok {
			t.Errorf("%s %s %s: err = %v, want *InvalidError", tc.load, tc.phases, tc.checks, err)
			continue
		}
		if got := inv.First().Path; got != tc.path {
			t.Errorf("%s %s %s: first problem at %q (%v), want %q", tc.load, tc.phases, tc.checks, got, inv.First(), tc.path)
		}
	}
}

func TestWithoutFaultsLeavesTheDocumentAlone(t *testing.T) {
	doc, err := Parse([]byte(phasedDoc(`{url: "http://httpbin:8000/get", qps: 50}`, `{baseline: 1s, fault: 1s, recovery: 1s}`, `[]`)))
	if err != nil {
		t.Fatal(err)
	}
	calm := doc.WithoutFaults()
	if calm.VirtualServices[0].Spec.HTTP[0].Fault != nil {
		t.Error("the fault survived WithoutFaults")
	}
	if doc.VirtualServices[0].Spec.HTTP[0].Fault == nil {
		t.Error("WithoutFaults changed the document it was called on")
	}
	if len(calm.VirtualServices[0].Spec.HTTP[0].Route) != 1 {
		t.Error("WithoutFaults lost the route")
	}
}

func TestExamineGivesTheDocumentOnlyWithoutErrors(t *testing.T) {
	good := phasedDoc(`{url: "http://httpbin:8000/get", qps: 50}`, `{baseline: 1s, fault: 1s, recovery: 1s}`, `[]`)
	doc, problems := Examine([]byte(good), nil)
	if doc == nil || len(problems.Errors()) != 0 || len(doc.Warnings) != len(problems.Warnings()) {
		t.Errorf("a valid document: %v, %v", doc, problems)
	}
	doc, problems = Examine([]byte(strings.Replace(good, "fault: 1s, ", "", 1)), nil)
	if doc != nil || len(problems.Errors()) != 1 || problems.Errors()[0].Path != "spec.phases.fault" {
		t.Errorf("an invalid document: %v, %v", doc, problems)
	}
}
