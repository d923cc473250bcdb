package report

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
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

// faultsDoc has a fault on the attempts of every rule of httpbin (delay
// and abort) and one on the shadows of its rule "main".
const faultsDoc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: acct}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{address: "%s", labels: {version: v1}}, {address: "%s", labels: {version: v2}}]}
  load: {url: "http://httpbin:8000/get"}
  faults:
  - {name: flaky, virtualService: httpbin, on: attempts, delay: {fixedDelay: 1ms, percentage: {value: 10}}, abort: {httpStatus: 503, percentage: {value: 50}}}
  - {name: dark, virtualService: httpbin, route: main, on: shadows, abort: {httpStatus: 503, percentage: {value: 100}}}
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
  - name: main
    match: [{uri: {prefix: /get}}]
    retries: {attempts: 3, retryOn: 5xx}
    mirror: {host: httpbin, subset: v2}
    route: [{destination: {host: httpbin, subset: v1}}]
  - name: other
    route: [{destination: {host: httpbin, subset: v1}}]
`

func TestAccountExperimentFaults(t *testing.T) {
	doc, err := scenarios.Parse([]byte(fmt.Sprintf(faultsDoc, "127.0.0.1:18080", "127.0.0.1:18081")))
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Requests: 1000, Proxy: proxy.Stats{Totals: proxy.Totals{UpstreamRequests: 1000, Attempts: 1900}, Routes: []proxy.RouteStats{
		{VirtualService: "httpbin", Rule: 0, Name: "main", Matched: 1000, Mirrored: 0, ShadowsDrawn: 1000, ShadowAbortsInjected: 1000,
			AttemptsDrawn: 1900, AttemptDelaysInjected: 190, AttemptDelaysCut: 0, AttemptAbortsInjected: 900},
		{VirtualService: "httpbin", Rule: 1, Name: "other"},
	}}}
	Account(doc, r)
	var got []string
	for _, in := range r.Injection {
		got = append(got, fmt.Sprintf("%s[%d] %s %s %g%% %d/%d ok=%v", in.VirtualService, in.Rule, in.Name, in.Kind, in.ConfiguredPercent, in.Injected, in.Matched, in.OK))
	}
	want := []string{
		"httpbin[0] main mirror 100% 1000/1000 ok=true", // aborted shadows were drawn by the mirror
		"httpbin[0] flaky attempt-delay 10% 190/1900 ok=true",
		"httpbin[0] flaky attempt-abort 50% 900/1900 ok=false", // 47.4 %: outside the interval
		"httpbin[1] flaky attempt-delay 10% 0/0 ok=false",
		"httpbin[1] flaky attempt-abort 50% 0/0 ok=false",
		"httpbin[0] dark shadow-abort 100% 1000/1000 ok=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("injection\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	warnings := strings.Join(r.Warnings, "\n")
	for _, w := range []string{
		"spec.faults[0] (flaky) attempt-abort on VirtualService httpbin spec.http[0]: configured 50 %, realised 47.3684 %",
		"spec.faults[0] (flaky) attempt-delay on VirtualService httpbin spec.http[1]: matched no request",
	} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warnings lack %q:\n%s", w, warnings)
		}
	}
	if r.RetryAmplification != 1 {
		t.Errorf("retry amplification %v: upstream requests ÷ requests", r.RetryAmplification)
	}
}

// Through the real proxy: the accounting of a fault on attempts and one on
// shadows agrees with the configured rates, and Attempts counts the
// aborted attempts UpstreamRequests leaves out.
func TestAccountExperimentFaultsThroughProxy(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer ok.Close()
	addr := strings.TrimPrefix(ok.URL, "http://")
	doc, err := scenarios.Parse([]byte(strings.Replace(fmt.Sprintf(faultsDoc, addr, addr), "retryOn: 5xx}", "retryOn: 5xx, backoff: 1ms}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.Start(context.Background(), doc, "127.0.0.1:0", nil, proxy.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{}
	const n = 400
	for range n {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.MeshAddr()+"/get", nil)
		req.Host = "httpbin:8000"
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	r := &Report{Requests: n, Proxy: p.Stats()}
	Account(doc, r)
	for _, in := range r.Injection {
		if in.Rule == 1 {
			continue // rule "other" saw no request
		}
		// The 99.9 % binomial bounds (OK uses the 95 % interval, which a
		// correct proxy misses one time in twenty).
		p := in.ConfiguredPercent / 100
		mean, half := p*float64(in.Matched), 3.2905*math.Sqrt(float64(in.Matched)*p*(1-p))
		if in.Matched == 0 || math.Abs(float64(in.Injected)-mean) > half {
			t.Errorf("%+v: want %.1f ± %.1f injected", in, mean, half)
		}
	}
	if r.Proxy.Attempts <= r.Proxy.UpstreamRequests || r.RetryAmplification != round(float64(r.Proxy.UpstreamRequests)/n) {
		t.Errorf("attempts %d upstream %d amplification %v", r.Proxy.Attempts, r.Proxy.UpstreamRequests, r.RetryAmplification)
	}
}
