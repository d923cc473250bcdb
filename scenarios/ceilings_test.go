package scenarios_test

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// ceilingDoc is an experiment whose load, fault delay and container wait
// are set by the caller.
func ceilingDoc(load, delay, wait string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: slow}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - container: {image: faultline-demo:local, port: 8080, wait: {timeout: ` + wait + `}}
  load: {url: "http://httpbin:8000/get", duration: 2s, timeout: ` + load + `}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {delay: {fixedDelay: ` + delay + `, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`
}

func TestTimesAWaitMayTakeHaveCeilings(t *testing.T) {
	for _, tc := range []struct {
		name              string
		load, delay, wait string
		// path and line of the problem; empty path: accepted
		path string
		line int
	}{
		{name: "at the ceilings, accepted", load: "5m", delay: "5m", wait: "10m"},
		{name: "a load timeout of an hour held the run slot for an hour", load: "1h", delay: "1s", wait: "1s",
			path: "spec.load.timeout", line: 10},
		{name: "a fault delay of a day", load: "3s", delay: "24h", wait: "1s",
			path: "spec.http[0].fault.delay.fixedDelay", line: 18},
		{name: "a container that may take a day to answer", load: "3s", delay: "1s", wait: "24h",
			path: "spec.services[0].endpoints[0].container.wait.timeout", line: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse([]byte(ceilingDoc(tc.load, tc.delay, tc.wait)))
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			invalid, ok := err.(*scenarios.InvalidError)
			if !ok || len(invalid.Problems) != 1 {
				t.Fatalf("Parse = %v, want one problem at %s", err, tc.path)
			}
			p := invalid.Problems[0]
			if p.Path != tc.path || p.Line != tc.line || !strings.Contains(p.Message, "above the ceiling") {
				t.Errorf("got %v, want %s at line %d: above the ceiling", p, tc.path, tc.line)
			}
		})
	}
}

func TestAWebhookURLWithAPasswordIsRefused(t *testing.T) {
	src := strings.Replace(gameDayYAML, "  steps:", "  notify:\n    webhook:\n      url: https://ops:hunter2@hooks.example.com/faultline\n  steps:", 1)
	_, err := scenarios.ParseGameDay([]byte(src))
	invalid, ok := err.(*scenarios.InvalidError)
	if !ok || len(invalid.Problems) != 1 {
		t.Fatalf("ParseGameDay = %v, want one problem", err)
	}
	p := invalid.Problems[0]
	if p.Path != "spec.notify.webhook.url" || p.Line == 0 || !strings.Contains(p.Message, "user name or password") || strings.Contains(p.Message, "hunter2") {
		t.Errorf("problem %v: want spec.notify.webhook.url at its line, refusing the password without repeating it", p)
	}
	// A parsed game day knows the lines of its fields, for problems found
	// after parsing (the server's target rules).
	gd, err := scenarios.ParseGameDay([]byte(strings.Replace(src, "ops:hunter2@", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gd.Line("spec.notify.webhook.url"), p.Line; got != want {
		t.Errorf("Line = %d, want %d", got, want)
	}
}
