package report

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/runstatus"
)

const injectionDoc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: acct}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{address: "127.0.0.1:18080", labels: {version: v1}}, {address: "127.0.0.1:18081", labels: {version: v2}}]}
  load: {url: "http://httpbin:8000/get"}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    mirror: {host: httpbin, subset: v2}
    mirrorPercentage: {value: 100}
    route: [{destination: {host: httpbin, subset: v1}}]
`

func TestAccountSetsConfiguredBesideRealised(t *testing.T) {
	doc, err := scenarios.Parse([]byte(injectionDoc))
	if err != nil {
		t.Fatal(err)
	}
	stats := func(matched, aborted, mirrored int64) proxy.Stats {
		return proxy.Stats{Totals: proxy.Totals{UpstreamRequests: matched - aborted},
			Routes: []proxy.RouteStats{{VirtualService: "httpbin", Rule: 0, Matched: matched, AbortsInjected: aborted, Mirrored: mirrored}}}
	}
	r := &Report{Requests: 1000, Proxy: stats(1000, 497, 503)}
	Account(doc, r)
	if len(r.Injection) != 2 || len(r.Warnings) != 0 {
		t.Fatalf("injection %+v warnings %v", r.Injection, r.Warnings)
	}
	mirror, abort := r.Injection[0], r.Injection[1]
	if mirror.Kind != "mirror" || mirror.ConfiguredPercent != 100 || mirror.Injected != 503 || !mirror.OK {
		t.Errorf("mirror = %+v", mirror)
	}
	if abort.Kind != "abort" || abort.RealisedPercent != 49.7 || abort.CI95[0] > 50 || abort.CI95[1] < 50 || !abort.OK {
		t.Errorf("abort = %+v", abort)
	}
	if r.RetryAmplification != 0.503 {
		t.Errorf("retry amplification = %v", r.RetryAmplification)
	}

	r = &Report{Requests: 1000, Proxy: stats(1000, 100, 900)}
	Account(doc, r)
	if r.Injection[1].OK || !strings.Contains(strings.Join(r.Warnings, "\n"), "fault abort: configured 50 %, realised 10 %") {
		t.Errorf("a fault far off its rate is not flagged: %+v %v", r.Injection, r.Warnings)
	}

	r = &Report{Proxy: stats(0, 0, 0)}
	Account(doc, r)
	if r.Injection[1].OK || !strings.Contains(strings.Join(r.Warnings, "\n"), "matched no request") {
		t.Errorf("a fault that matched nothing is not flagged: %v", r.Warnings)
	}
}

func TestWilson(t *testing.T) {
	lo, hi := Wilson(50, 100)
	if lo < 0.40 || lo > 0.41 || hi < 0.59 || hi > 0.60 {
		t.Errorf("Wilson(50, 100) = %v, %v; want about 0.404, 0.596", lo, hi)
	}
	if lo, hi := Wilson(0, 20); lo != 0 || hi < 0.16 || hi > 0.17 {
		t.Errorf("Wilson(0, 20) = %v, %v", lo, hi)
	}
}

func TestTwoProportionAndKS(t *testing.T) {
	if p := TwoProportion(50, 1000, 80, 1000); !p.Significant {
		t.Errorf("5 %% vs 8 %% over 1000 each should be significant: %+v", p)
	}
	if p := TwoProportion(50, 1000, 55, 1000); p.Significant {
		t.Errorf("5 %% vs 5.5 %% over 1000 each should not be: %+v", p)
	}
	a := []Bucket{{StartMs: 0, EndMs: 1, Count: 900}, {StartMs: 1, EndMs: 2, Count: 100}}
	b := []Bucket{{StartMs: 0, EndMs: 1, Count: 100}, {StartMs: 1, EndMs: 2, Count: 900}}
	if d, crit := KolmogorovSmirnov(a, b); d < 0.79 || d <= crit {
		t.Errorf("KS of opposite histograms = %v (critical %v)", d, crit)
	}
	if d, crit := KolmogorovSmirnov(a, a); d != 0 || d > crit {
		t.Errorf("KS of a histogram with itself = %v", d)
	}
}

func TestWriteTextShowsAccountingActionsAndAbort(t *testing.T) {
	r := &Report{Experiment: "x", Status: runstatus.Stopped, Verdict: VerdictNone, Requests: 10,
		Injection: []Injection{{VirtualService: "httpbin", Rule: 0, Kind: "abort", ConfiguredPercent: 50, RealisedPercent: 40, CI95: [2]float64{12, 74}, Matched: 10}},
		Actions:   []Action{{At: "1s", Action: "pause", Target: "httpbin/0", OK: true}},
		Abort:     &AbortFired{Condition: "error_ratio > 0.5 over 10s", AtMs: 2000, Observed: 0.7}}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Injected abort httpbin[0]: configured 50 %, realised 40 %", "Container action at 1s: pause httpbin/0, ok", "Aborted: error_ratio > 0.5 over 10s at 2.0s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}
