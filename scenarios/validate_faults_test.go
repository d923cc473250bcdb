package scenarios_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// faultsStream is testHeader's experiment with spec.faults (YAML list
// items under `faults:`) and two VirtualServices: reviews (a rule named
// "main" that retries and mirrors to v2, a rule "plain" that does
// neither, a redirect "moved") and httpbin (one unnamed rule).
func faultsStream(faults string) string {
	head := strings.Replace(fmt.Sprintf(testHeader, ""), "  load: {url: http://reviews:9080/}\n",
		"  load: {url: http://reviews:9080/}\n  faults:\n"+faults, 1)
	return head + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: main
    match: [{uri: {prefix: /main}}]
    route: [{destination: {host: reviews, subset: v1}}]
    retries: {attempts: 3, retryOn: 5xx}
    mirror: {host: reviews, subset: v2}
  - name: moved
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - name: plain
    route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin}}]
`
}

func TestValidateFaults(t *testing.T) {
	const abort50 = "abort: {httpStatus: 503, percentage: {value: 50}}"
	for _, c := range []struct {
		name   string
		faults string
		want   []want
	}{
		{name: "attempts on every rule", faults: "  - {name: flaky, virtualService: reviews, on: attempts, " + abort50 + "}\n"},
		{name: "attempts on one route, delay and abort",
			faults: "  - {virtualService: reviews, route: main, on: attempts, delay: {fixedDelay: 10ms, percentage: {value: 5}}, " + abort50 + "}\n"},
		{name: "shadows on the mirroring route", faults: "  - {virtualService: reviews, route: main, on: shadows, " + abort50 + "}\n"},
		{name: "shadows and attempts on one rule", faults: "  - {virtualService: reviews, route: main, on: shadows, " + abort50 + "}\n" +
			"  - {virtualService: reviews, route: main, on: attempts, " + abort50 + "}\n"},
		{name: "grpc abort on attempts", faults: "  - {virtualService: reviews, on: attempts, abort: {grpcStatus: UNAVAILABLE, percentage: {value: 10}}}\n"},
		{name: "missing VirtualService", faults: "  - {virtualService: x, on: attempts, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].virtualService", `no VirtualService "x" in the document`)}},
		{name: "no VirtualService", faults: "  - {on: attempts, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].virtualService", "is required")}},
		{name: "missing route", faults: "  - {virtualService: reviews, route: nope, on: attempts, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].route", `VirtualService reviews has no http rule named "nope"`)}},
		{name: "bad on", faults: "  - {virtualService: reviews, on: requests, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].on", `must be "attempts" or "shadows", not "requests"`)}},
		{name: "no on", faults: "  - {virtualService: reviews, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].on", "is required")}},
		{name: "neither delay nor abort", faults: "  - {virtualService: reviews, on: attempts}\n",
			want: []want{errAt("spec.faults[0]", "must have an abort and/or a delay")}},
		{name: "percentage out of range", faults: "  - {virtualService: reviews, on: attempts, abort: {httpStatus: 503, percentage: {value: 150}}}\n",
			want: []want{errAt("spec.faults[0].abort.percentage.value", "not in range 0..100")}},
		{name: "status out of range", faults: "  - {virtualService: reviews, on: attempts, abort: {httpStatus: 700, percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].abort.httpStatus", "not in range 200-599")}},
		{name: "two error types", faults: "  - {virtualService: reviews, on: attempts, abort: {httpStatus: 503, grpcStatus: UNAVAILABLE, percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].abort", "set exactly one of httpStatus, grpcStatus or http2Error")}},
		{name: "http2Error", faults: "  - {virtualService: reviews, on: attempts, abort: {http2Error: x, percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].abort.http2Error", "not supported")}},
		{name: "delay without fixedDelay", faults: "  - {virtualService: reviews, on: attempts, delay: {percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].delay.fixedDelay", "is required")}},
		{name: "exponential delay", faults: "  - {virtualService: reviews, on: attempts, delay: {exponentialDelay: 1s, percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].delay.exponentialDelay", "not supported")}},
		{name: "delay above the ceiling", faults: "  - {virtualService: reviews, on: attempts, delay: {fixedDelay: 1h, percentage: {value: 5}}}\n",
			want: []want{errAt("spec.faults[0].delay.fixedDelay", "above the ceiling")}},
		{name: "no percentage", faults: "  - {virtualService: reviews, on: attempts, abort: {httpStatus: 503}}\n",
			want: []want{warnAt("spec.faults[0].abort.percentage", "no percentage")}},
		{name: "shadows on a rule that does not mirror", faults: "  - {virtualService: reviews, route: plain, on: shadows, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].route", "mirrors nothing (no mirror or mirrors), so it makes no shadows: the fault would never act")}},
		{name: "shadows on a VirtualService that does not mirror", faults: "  - {virtualService: httpbin, on: shadows, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].virtualService", "VirtualService httpbin mirrors nothing")}},
		{name: "attempts on a redirect", faults: "  - {virtualService: reviews, route: moved, on: attempts, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[0].route", "forwards no request upstream")}},
		{name: "two faults on one rule's attempts", faults: "  - {virtualService: reviews, on: attempts, " + abort50 + "}\n" +
			"  - {virtualService: reviews, route: plain, on: attempts, " + abort50 + "}\n",
			want: []want{errAt("spec.faults[1]", "acts on the attempts of VirtualService reviews spec.http[2] as spec.faults[0] does")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got scenarios.Problems
			for _, p := range scenarios.Lint([]byte(faultsStream(c.faults))) {
				if p.Document != "Experiment validate" {
					t.Errorf("problem outside the experiment: %s", p)
					continue
				}
				got = append(got, p)
			}
			checkProblems(t, got, c.want)
		})
	}
}
