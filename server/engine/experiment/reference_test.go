package experiment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// outcomes are the docs/scenarios.md assertions about a shipped scenario's
// own run, beyond its hypothesis: the report's codes and counters, what
// each demo upstream saw, the access log. Probes of single requests live in
// reference_probe_test.go.
var outcomes = map[string]func(t *testing.T, r *run){
	"ingress-gateway-paths.yaml":         checkIngressRun,
	"egress-gateway.yaml":                checkEgressRun,
	"reviews-timeout.yaml":               checkReviewsTimeoutRun,
	"ratings-fault-jason.yaml":           checkJasonDelayRun,
	"ratings-fault-jason-abort.yaml":     checkJasonAbortRun,
	"ratings-retries.yaml":               checkRetriesDelayRun,
	"ratings-retries-upstream-slow.yaml": checkRetriesSlowRun,
	"ratings-retries-5xx.yaml":           checkRetries5xxRun,
	"httpbin-circuit-breaker.yaml":       checkCircuitBreakerRun,
	"httpbin-mirror.yaml":                checkMirrorRun("httpbin:8000", 40, 40),
	"httpbin-mirror-istio-1.8.yaml":      checkMirrorRun("httpbin-shadow:8000", 40, 40),
	"httpbin-mirror-50.yaml":             checkMirrorRun("httpbin:8000", 65, 135),
}

// TestShippedScenarios runs every scenarios/*.yaml the binary ships, as
// `faultline run scenarios/<name>.yaml` does, and checks that it parses,
// that its own hypothesis passes, and the outcomes docs/scenarios.md
// expects. The scenarios run in parallel: each has its own listeners and
// targets.
func TestShippedScenarios(t *testing.T) {
	t.Parallel()
	examples, err := scenarios.Examples()
	if err != nil {
		t.Fatalf("a shipped scenario does not parse: %v", err)
	}
	for _, ex := range examples {
		t.Run(strings.TrimSuffix(ex.File, ".yaml"), func(t *testing.T) {
			t.Parallel()
			r := execute(t, parseSource(t, ex.Source))
			rep := r.report
			if rep.Status != runstatus.Succeeded || rep.Verdict != report.VerdictPass {
				t.Errorf("%s: status %s, verdict %s (%s)", ex.File, rep.Status, rep.Verdict, rep.Reason)
				for _, c := range rep.Hypothesis {
					if !c.Pass {
						t.Errorf("  failed: %s (observed %g)", c.Check, c.Observed)
					}
				}
			}
			t.Logf("%s ran in %v: codes %v, latency min %.1f max %.1f ms, proxy %+v",
				ex.File, r.took.Round(time.Millisecond), rep.Codes, rep.LatencyMs.Min, rep.LatencyMs.Max, rep.Proxy.Totals)
			if check := outcomes[ex.File]; check != nil {
				check(t, r)
			}
		})
	}
}

// TestEveryReferenceScenarioShips keeps the outcome table and the files in
// step: every checked scenario is a shipped example.
func TestEveryReferenceScenarioShips(t *testing.T) {
	examples, err := scenarios.Examples()
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{}
	for _, ex := range examples {
		shipped[ex.File] = true
	}
	for file := range outcomes {
		if !shipped[file] {
			t.Errorf("%s has outcome checks but is not shipped in scenarios/", file)
		}
	}
}

func checkIngressRun(t *testing.T, r *run) {
	p := r.report.Proxy
	gw, _ := p.Listener("httpbin-gateway:80")
	mesh, _ := p.Listener("mesh")
	if gw.Requests != 40 || mesh.Requests != 0 {
		t.Errorf("gateway listener saw %d, mesh %d; want 40 and 0: the load enters through the gateway", gw.Requests, mesh.Requests)
	}
	bin := r.target(t, "httpbin", 0)
	if got := bin.Requests(); got != 40 {
		t.Errorf("httpbin saw %d requests, want 40", got)
	}
	for _, s := range bin.Seen() {
		if s.Host != "httpbin.example.com" || s.Path != "/status/200" {
			t.Errorf("httpbin saw %s %s, want Host httpbin.example.com /status/200", s.Host, s.Path)
			break
		}
	}
}

func checkEgressRun(t *testing.T, r *run) {
	const viaGateway = "outbound|80|httpbin|istio-egressgateway.istio-system.svc.cluster.local"
	const toHTTPBin = "outbound|80||httpbin.org"
	p := r.report.Proxy
	for _, name := range []string{viaGateway, toHTTPBin} {
		if c, ok := p.Cluster(name); !ok || c.UpstreamRqTotal != 20 || c.Codes["upstream_rq_200"] != 20 {
			t.Errorf("cluster %s = %+v (found %v), want 20 requests, all 200", name, c, ok)
		}
	}
	if gw, _ := p.Listener("istio-egressgateway:80"); gw.Requests != 20 {
		t.Errorf("egress gateway listener saw %d requests, want 20", gw.Requests)
	}
	bin := r.target(t, "httpbin.org", 0)
	if got := bin.Requests(); got != 20 {
		t.Errorf("the httpbin.org demo saw %d requests, want 20", got)
	}
	for _, s := range bin.Seen() {
		if s.Host != "httpbin.org" || s.Path != "/ip" {
			t.Errorf("httpbin.org saw Host %s path %s, want httpbin.org /ip", s.Host, s.Path)
			break
		}
	}
	log := r.accessLog.String()
	mesh, gw := r.mesh, r.listenerAddr(t, "istio-egressgateway:80")
	if n := len(logLines(log, viaGateway, mesh)); n != 20 {
		t.Errorf("mesh access log has %d lines to the egress gateway, want 20:\n%s", n, log)
	}
	if n := len(logLines(log, toHTTPBin, gw)); n != 20 {
		t.Errorf("egress gateway access log has %d lines to httpbin.org, want 20:\n%s", n, log)
	}
}

func checkReviewsTimeoutRun(t *testing.T, r *run) {
	p := r.report.Proxy
	if rs, _ := p.Route("reviews", 0); rs.Timeouts != 8 || rs.Matched != 8 {
		t.Errorf("reviews route = %+v, want 8 calls, all timed out (two per page)", rs)
	}
	if rs, _ := p.Route("ratings", 0); rs.DelaysInjected != 8 || rs.Timeouts != 0 {
		t.Errorf("ratings route = %+v, want 8 delays and no timeout of its own", rs)
	}
	if p.ByFlag["UT"] != 8 || p.ByFlag["DI"] != 8 {
		t.Errorf("flags %v, want UT=8 DI=8", p.ByFlag)
	}
	if c, _ := p.Cluster("outbound|9080|v2|reviews.default.svc.cluster.local"); c.UpstreamRqTimeout != 8 || c.Codes["upstream_rq_504"] != 8 {
		t.Errorf("reviews v2 cluster = %+v, want 8 timeouts charged as 504", c)
	}
	wantSeen(t, r.targets, map[string][]int64{"productpage": {4}, "reviews": {0, 8, 0}, "ratings": {0}})
	if min := r.report.LatencyMs.Min; min < 2000 {
		t.Errorf("fastest page took %.1f ms, want at least two 1 s timeouts", min)
	}
}

func checkJasonDelayRun(t *testing.T, r *run) {
	// Four reviews tries (two per page), each cut by productpage's 3 s
	// before ratings' 7 s delay ends: ratings never sees a request.
	wantSeen(t, r.targets, map[string][]int64{"productpage": {2}, "reviews": {0, 4, 0}, "ratings": {0}})
	for _, s := range r.target(t, "reviews", 1).Seen() {
		if s.Header.Get("End-User") != "jason" {
			t.Errorf("reviews saw end-user %q, want jason propagated by productpage", s.Header.Get("End-User"))
		}
	}
	if rs, _ := r.report.Proxy.Route("ratings", 0); rs.DelaysInjected != 4 {
		t.Errorf("jason's ratings rule = %+v, want 4 delays", rs)
	}
	if rs, _ := r.report.Proxy.Route("ratings", 1); rs.Matched != 0 {
		t.Errorf("the catch-all ratings rule matched %d of jason's calls", rs.Matched)
	}
}

func checkJasonAbortRun(t *testing.T, r *run) {
	p := r.report.Proxy
	if p.ByFlag["FI"] != 20 {
		t.Errorf("flags %v, want FI=20", p.ByFlag)
	}
	if c, _ := p.Cluster("outbound|9080|v1|ratings.default.svc.cluster.local"); c.UpstreamRqTotal != 0 {
		t.Errorf("ratings cluster = %+v, want no upstream request: aborts come before the router", c)
	}
	wantSeen(t, r.targets, map[string][]int64{"productpage": {20}, "reviews": {0, 20, 0}, "ratings": {0}})
}

// wantSeen checks how many requests each demo target served, by host and
// endpoint index. A target counts a request when its handler returns,
// which can be just after the client has its answer (or after the proxy
// cut the call): counts are polled for a moment before they are judged.
func wantSeen(t *testing.T, tg interface {
	Target(host string, index int) (demo.Target, bool)
}, want map[string][]int64) {
	t.Helper()
	matches := func() bool {
		for host, counts := range want {
			for i, n := range counts {
				if d, ok := tg.Target(host, i); !ok || d.Requests() != n {
					return false
				}
			}
		}
		return true
	}
	// The counts settle after the response (mirrored copies land later).
	if wait.Until(2*time.Second, matches) {
		return
	}
	for host, counts := range want {
		for i, n := range counts {
			d, ok := tg.Target(host, i)
			if !ok {
				t.Errorf("no demo target %s[%d]", host, i)
				continue
			}
			if got := d.Requests(); got != n {
				t.Errorf("%s[%d] saw %d requests, want %d", host, i, got, n)
			}
		}
	}
}
