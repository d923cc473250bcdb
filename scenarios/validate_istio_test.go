package scenarios_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// testHeader is a valid experiment stream the resource under test is
// appended to: services for the destinations the tests use, subsets v1 and
// v2 of reviews, and a Gateway "gw" VirtualServices may bind to.
const testHeader = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: validate}
spec:
  istioVersion: "%s"
  services:
  - host: reviews
    port: 9080
    endpoints: [{address: 127.0.0.1:18080, labels: {version: v1}}]
  - host: httpbin
    port: 8000
    endpoints: [{address: 127.0.0.1:18081, labels: {version: v1}}]
  load: {url: http://reviews:9080/}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-subsets}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
`

// want is one expected problem: severity, exact path, message substring.
type want struct {
	sev  scenarios.Severity
	path string
	msg  string
}

func (w want) String() string { return fmt.Sprintf("%s %s: ~%q", w.sev, w.path, w.msg) }

func errAt(path, msg string) want  { return want{scenarios.SeverityError, path, msg} }
func warnAt(path, msg string) want { return want{scenarios.SeverityWarning, path, msg} }

// lintCase is one resource and the exact set of problems it must produce
// (no wants: a valid variant, with neither errors nor warnings).
type lintCase struct {
	name  string
	istio string // spec.istioVersion, default current
	doc   string // metadata.name of the resource, default "t"
	yaml  string // the resource under test
	want  []want
}

// lint runs Lint over the header and the resource.
func lint(istio, resource string) scenarios.Problems {
	src := fmt.Sprintf(testHeader, istio) + strings.TrimLeft(resource, "\n")
	if resource == "" {
		// parse.go rejects an empty document after a trailing "---" (reported bug).
		src = strings.TrimSuffix(src, "---\n")
	}
	return scenarios.Lint([]byte(src))
}

// runLintCases lints every case and checks that the problems of document
// "<kind> <name>" are exactly the wanted ones, and that the rest of the
// stream is clean.
func runLintCases(t *testing.T, kind string, cases []lintCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := c.doc
			if name == "" {
				name = "t"
			}
			ps := lint(c.istio, c.yaml)
			var got scenarios.Problems
			for _, p := range ps {
				if p.Document != kind+" "+name {
					t.Errorf("problem outside the resource under test: %s", p)
					continue
				}
				got = append(got, p)
			}
			checkProblems(t, got, c.want)
		})
	}
}

// checkProblems matches every wanted problem to a distinct got problem and
// reports what is missing and what is unexpected.
func checkProblems(t *testing.T, got scenarios.Problems, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.Severity == w.sev && p.Path == w.path && strings.Contains(p.Message, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %s", w)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected %s %s", p.Severity, p)
		}
	}
}

// TestHeaderIsClean guards the shared header: on its own it has no problem.
func TestHeaderIsClean(t *testing.T) {
	for _, v := range []string{"", "1.6", "1.14"} {
		if ps := lint(v, ""); len(ps) > 0 {
			t.Errorf("istioVersion %q: %v", v, ps)
		}
	}
}

// TestValidateParseReportsWarnings checks the public contract end to end: a
// document with only warnings parses and carries them; one with an Istio
// error is rejected with the exact path.
func TestValidateParseReportsWarnings(t *testing.T) {
	doc, err := scenarios.Parse([]byte(fmt.Sprintf(testHeader, "") + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: t}
spec:
  hosts: [reviews]
  http:
  - fault: {delay: {fixedDelay: 7s, percent: 100}}
    route: [{destination: {host: reviews, subset: v1}}]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(doc.Warnings) != 1 || doc.Warnings[0].Path != "spec.http[0].fault.delay.percent" {
		t.Errorf("warnings = %v, want the deprecated percent", doc.Warnings)
	}

	_, err = scenarios.Parse([]byte(fmt.Sprintf(testHeader, "") + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: t}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    timeout: 0s
`))
	inv, ok := err.(*scenarios.InvalidError)
	if !ok {
		t.Fatalf("Parse error = %v, want *InvalidError", err)
	}
	if first := inv.First(); first.Path != "spec.http[0].timeout" || first.Document != "VirtualService t" || first.Line != 8+strings.Count(testHeader, "\n") {
		t.Errorf("first problem = %+v", first)
	}
}
