package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var agentServingLine = regexp.MustCompile(`msg="faultline agent serving" addr=(\S+)`)

// startAgent starts `faultline agent` on a loopback port and returns its
// URL once it serves.
func startAgent(t *testing.T, name string) string {
	t.Helper()
	p := startProc(t, name, childEnv(), "agent", "--listen", "127.0.0.1:0")
	return "http://" + p.waitLine(t, agentServingLine, 30*time.Second)[1]
}

const agentsExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: from-agents}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/status/200", connections: 3, requests: 301, agents: AGENTS}
  hypothesis:
  - {metric: requests, op: "==", value: 301}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 418, percentage: {value: 50}}}
    route: [{destination: {host: httpbin}}]
`

// TestRunFromAgents runs an experiment whose load comes from two
// `faultline agent` processes: each sends its share through the run's
// proxy, where the faults apply to it, and the report merges the shares
// exactly.
func TestRunFromAgents(t *testing.T) {
	a, b := startAgent(t, "agent a"), startAgent(t, "agent b")
	file := writeFile(t, strings.Replace(agentsExperiment, "AGENTS", `["`+a+`", "`+b+`/fortio/"]`, 1))
	stdout, stderr, code := faultline(t, "run", file, "--json")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	var rep struct {
		Status   string           `json:"status"`
		Requests int64            `json:"requests"`
		Errors   int64            `json:"errors"`
		Codes    map[string]int64 `json:"codes"`
		Warmup   int64            `json:"warmup"`
		Agents   []struct {
			URL         string           `json:"url"`
			Connections int              `json:"connections"`
			Requests    int64            `json:"requests"`
			QPS         float64          `json:"qps"`
			Codes       map[string]int64 `json:"codes"`
			Errors      int64            `json:"errors"`
			LatencyMs   struct{ P50, P99 float64 }
		} `json:"agents"`
		Histogram []struct{ Count int64 } `json:"histogram"`
		Proxy     struct {
			UpstreamRequests int64 `json:"upstreamRequests"`
			FaultsAborted    int64 `json:"faultsAborted"`
			Listeners        []struct {
				Requests int64 `json:"downstream_rq_total"`
			} `json:"listeners"`
		} `json:"proxy"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if rep.Status != "succeeded" || rep.Requests != 301 || rep.Warmup != 0 {
		t.Errorf("status %s, %d requests, %d warm-up; want succeeded, 301, 0", rep.Status, rep.Requests, rep.Warmup)
	}
	if len(rep.Agents) != 2 {
		t.Fatalf("agents in the report: %+v", rep.Agents)
	}
	var agentRequests, agentErrors int64
	agentCodes := map[string]int64{}
	for i, want := range []struct {
		url         string
		connections int
		requests    int64
	}{{a, 2, 151}, {b + "/fortio/", 1, 150}} {
		got := rep.Agents[i]
		if got.URL != want.url || got.Connections != want.connections || got.Requests != want.requests || got.QPS <= 0 || got.LatencyMs.P99 < got.LatencyMs.P50 {
			t.Errorf("agent %d: %+v; want %s with %d connections and %d requests", i, got, want.url, want.connections, want.requests)
		}
		agentRequests += got.Requests
		agentErrors += got.Errors
		for c, n := range got.Codes {
			agentCodes[c] += n
		}
	}
	var proxyRequests, inHistogram int64
	for _, l := range rep.Proxy.Listeners {
		proxyRequests += l.Requests
	}
	for _, b := range rep.Histogram {
		inHistogram += b.Count
	}
	if agentRequests != rep.Requests || proxyRequests != rep.Requests || inHistogram != rep.Requests {
		t.Errorf("requests: report %d, the agents' sum %d, the proxy's listeners %d, the histogram %d; want all equal", rep.Requests, agentRequests, proxyRequests, inHistogram)
	}
	if agentCodes["200"] != rep.Codes["200"] || agentCodes["418"] != rep.Codes["418"] || rep.Codes["200"]+rep.Codes["418"] != rep.Requests || agentErrors != rep.Errors {
		t.Errorf("codes: report %v (errors %d), the agents' sum %v (errors %d)", rep.Codes, rep.Errors, agentCodes, agentErrors)
	}
	if rep.Proxy.FaultsAborted != rep.Codes["418"] || rep.Proxy.UpstreamRequests != rep.Codes["200"] || rep.Codes["418"] == 0 {
		t.Errorf("the proxy aborted %d and forwarded %d; the agents saw %v: the fault must apply to their load", rep.Proxy.FaultsAborted, rep.Proxy.UpstreamRequests, rep.Codes)
	}
	t.Logf("%d requests from 2 agents (%d + %d), codes %v; proxy: %d downstream, %d aborted, %d forwarded",
		rep.Requests, rep.Agents[0].Requests, rep.Agents[1].Requests, rep.Codes, proxyRequests, rep.Proxy.FaultsAborted, rep.Proxy.UpstreamRequests)

	// The agents are targets too: one outside the allow-list is refused
	// before anything runs.
	offList := writeFile(t, strings.Replace(agentsExperiment, "AGENTS", `["http://192.0.2.1:8089"]`, 1))
	if _, stderr, code := faultline(t, "run", offList); code != 2 || !strings.Contains(stderr, "spec.load.agents[0]") {
		t.Errorf("run with an agent off the allow-list: exit %d, stderr %s", code, stderr)
	}
	// An agent sends load only to its own allow-list (loopback here).
	resp, err := http.Post(a+"/fortio/rest/run?async=on&n=1&url=http://192.0.2.1:80/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "allow-list") {
		t.Errorf("the agent asked for load to 192.0.2.1: %d %s", resp.StatusCode, body)
	}
}

func TestAgentHelp(t *testing.T) {
	stdout, _, code := faultline(t, "agent", "--help")
	if code != 0 || !strings.Contains(stdout, "spec.load.agents") || !strings.Contains(stdout, "--listen") {
		t.Errorf("agent --help: exit %d\n%s", code, stdout)
	}
}
