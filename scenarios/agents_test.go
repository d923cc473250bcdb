package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const withAgents = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: from-agents}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 4, LOAD}
`

func TestLoadAgents(t *testing.T) {
	doc, err := Parse([]byte(strings.Replace(withAgents, "LOAD", `requests: 100, agents: ["http://10.0.0.7:8080", "http://10.0.0.8:8080/fortio/", "http://[::1]:8089/fortio"]`, 1)))
	if err != nil {
		t.Fatalf("valid agents refused: %v", err)
	}
	want := []string{"http://10.0.0.7:8080", "http://10.0.0.8:8080/fortio/", "http://[::1]:8089/fortio"}
	if got := doc.Experiment.Spec.Load.Agents; !slices.Equal(got, want) {
		t.Errorf("agents = %v, want %v", got, want)
	}

	many := make([]string, MaxAgents+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("http://10.0.1.%d:8080", i))
	}
	for _, tc := range []struct{ load, path, message string }{
		{`agents: ["https://10.0.0.7:8080"]`, "spec.load.agents[0]", `the scheme is "https"`},
		{`agents: ["http://10.0.0.7"]`, "spec.load.agents[0]", "no host:port"},
		{`agents: ["10.0.0.7:8080"]`, "spec.load.agents[0]", "http://host:port"},
		{`agents: ["http://10.0.0.7:8080/api"]`, "spec.load.agents[0]", `the path is "/api"`},
		{`agents: ["http://10.0.0.7:8080/fortio/?x=1"]`, "spec.load.agents[0]", "more than host, port and path"},
		{`agents: ["http://10.0.0.7:8080", "http://10.0.0.7:8080/fortio/"]`, "spec.load.agents[1]", "spec.load.agents[0] again"},
		{`agents: ["http://Agent:8080", "http://agent:8080"]`, "spec.load.agents[1]", "spec.load.agents[0] again"},
		{`agents: [` + strings.Join(many, ", ") + `]`, "spec.load.agents", "above the ceiling of 64"},
		{`requests: 1, agents: ["http://10.0.0.7:8080", "http://10.0.0.8:8080"]`, "spec.load.requests", "1 requests cannot be split over 2 agents"},
	} {
		_, err := Parse([]byte(strings.Replace(withAgents, "LOAD", tc.load, 1)))
		inv, ok := err.(*InvalidError)
		if !ok {
			t.Errorf("%s: err = %v, want *InvalidError", tc.load, err)
			continue
		}
		if p := inv.First(); p.Path != tc.path || !strings.Contains(p.Message, tc.message) {
			t.Errorf("%.60s: first problem %v, want one at %s saying %q", tc.load, p, tc.path, tc.message)
		}
	}

	// Abort conditions read live counts, which agents do not report.
	withAbort := strings.Replace(withAgents, "LOAD", `agents: ["http://10.0.0.7:8080"]`, 1) + "  abort: [{metric: qps, op: \"<\", value: 10}]\n"
	_, err = Parse([]byte(withAbort))
	if inv, ok := err.(*InvalidError); !ok || inv.First().Path != "spec.abort" || !strings.Contains(inv.First().Message, "live counts") {
		t.Errorf("agents with an abort condition: %v, want a problem at spec.abort", err)
	}
}
