package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
)

// fakeClock is outlier detection's clock under test: time moves only when
// the test advances it.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Duration      { return time.Duration(c.ns.Load()) }
func (c *fakeClock) set(d time.Duration)     { c.ns.Store(int64(d)) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) option() func(*proxy.Options) {
	return func(o *proxy.Options) { proxy.SetClock(o, c.now) }
}

// failing is an upstream that answers every request with code.
type failing struct {
	*httptest.Server
	hits atomic.Int64
}

func newFailing(t *testing.T, code int) *failing {
	t.Helper()
	f := &failing{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "failing")
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *failing) addr() string { return strings.TrimPrefix(f.URL, "http://") }

// outlierDR is a DestinationRule for reviews with the given trafficPolicy
// body (indented four spaces).
func outlierDR(policy string) string {
	return "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n" + policy
}

func clusterStats(t *testing.T, h *harness) proxy.ClusterStats {
	t.Helper()
	cs, ok := h.p.Stats().Cluster(reviewsCluster)
	if !ok {
		t.Fatalf("no cluster %s", reviewsCluster)
	}
	return cs
}

// Consecutive 5xx eject the failing endpoint; traffic moves to the healthy
// one until the ejection time has passed and a sweep returns it.
func TestOutlierEjectsFailingEndpoint(t *testing.T) {
	good, bad := newUpstream(t, "good"), newFailing(t, 500)
	clk := &fakeClock{}
	h := start(t, experiment(svc("reviews", 9080, good.addr(), bad.addr()), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
`)), clk.option())
	for i := 0; i < 30; i++ {
		h.get("reviews", "/")
	}
	if got := bad.hits.Load(); got != 3 {
		t.Errorf("the failing endpoint got %d requests, want 3 (then ejected)", got)
	}
	if got := good.hits.Load(); got != 27 {
		t.Errorf("the healthy endpoint got %d requests, want 27", got)
	}
	cs := clusterStats(t, h)
	if cs.EjectionsEnforced5xx != 1 || cs.EjectionsDetected5xx != 1 || cs.EjectionsActive != 1 || cs.MembershipHealthy != 1 {
		t.Errorf("stats %+v", cs.PolicyStats)
	}
	if got := h.p.Stats().Ejections; got != 1 {
		t.Errorf("Totals.Ejections = %d, want 1", got)
	}
	clk.set(29 * time.Second)
	h.get("reviews", "/")
	h.get("reviews", "/")
	if got := bad.hits.Load(); got != 3 {
		t.Errorf("the endpoint came back before its ejection time (hits %d)", got)
	}
	clk.set(30 * time.Second) // the 30 s sweep returns it
	if got := clusterStats(t, h).EjectionsActive; got != 0 {
		t.Errorf("ejections_active = %d after the sweep, want 0", got)
	}
	h.get("reviews", "/")
	h.get("reviews", "/")
	if got := bad.hits.Load(); got != 4 {
		t.Errorf("the returned endpoint got %d requests in all, want 4", got)
	}
}

// A single endpoint is ejected (maxEjectionPercent 100): 503 no healthy
// upstream (UH) until a sweep at or after the ejection time — sweeps run
// every interval from the detector's start, so an ejection at 1 s with a
// 30 s base ends at the 40 s sweep.
func TestOutlierSingleEndpointNoHealthyUpstream(t *testing.T) {
	bad := newFailing(t, 500)
	clk := &fakeClock{}
	h := start(t, experiment(svc("reviews", 9080, bad.addr()), outlierDR(`    outlierDetection: {consecutive5xxErrors: 2, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`)), clk.option())
	clk.set(time.Second)
	expect(t, h.get("reviews", "/"), 500, "failing")
	expect(t, h.get("reviews", "/"), 500, "failing")
	r := h.get("reviews", "/")
	expect(t, r, 503, "no healthy upstream")
	if h.flag("UH") != 1 || clusterStats(t, h).UpstreamCxNoneHealthy != 1 {
		t.Errorf("flags %v, none_healthy %d", h.p.Stats().ByFlag, clusterStats(t, h).UpstreamCxNoneHealthy)
	}
	clk.set(40*time.Second - time.Nanosecond)
	expect(t, h.get("reviews", "/"), 503, "no healthy upstream")
	clk.set(40 * time.Second)
	expect(t, h.get("reviews", "/"), 500, "failing")
	if got := bad.hits.Load(); got != 3 {
		t.Errorf("upstream hits %d, want 3", got)
	}
}

// The ejection time is baseEjectionTime × k, k growing with each ejection
// and shrinking by one per sweep while the endpoint stays in, capped at
// 300 s (Envoy's max_ejection_time).
func TestOutlierEjectionTimeBackoff(t *testing.T) {
	bad := newFailing(t, 500)
	clk := &fakeClock{}
	h := start(t, experiment(svc("reviews", 9080, bad.addr()), outlierDR(`    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`)), clk.option())
	// ejectedFor fails one request (which ejects) and returns how long the
	// endpoint stays out, probing every second.
	ejectedFor := func() time.Duration {
		t.Helper()
		expect(t, h.get("reviews", "/"), 500, "failing")
		from := clk.now()
		for i := 0; i < 1000; i++ {
			clk.advance(time.Second)
			if clusterStats(t, h).EjectionsActive == 0 {
				return clk.now() - from
			}
		}
		t.Fatal("never returned")
		return 0
	}
	for k := 1; k <= 12; k++ {
		want := time.Duration(min(k, 10)) * 30 * time.Second
		if got := ejectedFor(); got != want {
			t.Fatalf("ejection %d lasted %v, want %v", k, got, want)
		}
	}
	// k is 11 now; 9 quiet sweeps bring it to 2, the next ejection to 3.
	clk.advance(9 * time.Second)
	if got, want := ejectedFor(), 90*time.Second; got != want {
		t.Errorf("after 9 quiet intervals the ejection lasted %v, want %v", got, want)
	}
	if got := clusterStats(t, h).EjectionsEnforcedTotal; got != 13 {
		t.Errorf("ejections_enforced_total = %d, want 13", got)
	}
}

// maxEjectionPercent. Envoy ≥ 1.27 (Istio ≥ 1.19) ejects only while the
// ejected share after the ejection stays ≤ the limit, so 3 endpoints at the
// default 10 % are never ejected and at 50 % one at a time; before, the
// share before the ejection had to be < the limit, so the first ejection
// always happened. Refused ejections count as ejections_overflow.
func TestOutlierMaxEjectionPercent(t *testing.T) {
	for _, tc := range []struct {
		name, istio, percent string
		wantActive           int64
	}{
		{"current, 10%: none", "", "", 0},
		{"current, 50%: one at a time", "", ", maxEjectionPercent: 50", 1},
		{"current, 100%: all", "", ", maxEjectionPercent: 100", 3},
		{"Istio 1.18, 10%: the first only", "1.18", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, c := newFailing(t, 500), newFailing(t, 500), newFailing(t, 500)
			src := experiment(svc("reviews", 9080, a.addr(), b.addr(), c.addr()), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1`+tc.percent+`}
`))
			if tc.istio != "" {
				src = withIstio(src, tc.istio)
			}
			h := start(t, src, (&fakeClock{}).option())
			for i := 0; i < 12; i++ {
				h.get("reviews", "/")
			}
			cs := clusterStats(t, h)
			if cs.EjectionsActive != tc.wantActive || cs.EjectionsEnforcedTotal != tc.wantActive {
				t.Errorf("ejections_active %d, enforced %d; want %d", cs.EjectionsActive, cs.EjectionsEnforcedTotal, tc.wantActive)
			}
			if tc.wantActive < 3 && cs.EjectionsOverflow == 0 {
				t.Errorf("ejections_overflow = 0, want the refused ejections counted")
			}
			if got := cs.EjectionsDetected5xx; got != cs.EjectionsEnforced5xx+cs.EjectionsOverflow {
				t.Errorf("detected %d ≠ enforced %d + overflow %d", got, cs.EjectionsEnforced5xx, cs.EjectionsOverflow)
			}
		})
	}
}

// consecutiveGatewayErrors counts 502, 503 and 504 only; a 500 resets it,
// any non-5xx resets both counters.
func TestOutlierGatewayErrors(t *testing.T) {
	up := newUpstream(t, "up")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), outlierDR(`    outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, maxEjectionPercent: 100}
`)), (&fakeClock{}).option())
	for _, code := range []int{502, 502, 500, 502, 502, 200, 503, 504} {
		if r := h.get("reviews", fmt.Sprintf("/status/%d", code)); r.code != code {
			t.Fatalf("/status/%d answered %d %q: ejected too early", code, r.code, r.body)
		}
	}
	expect(t, h.get("reviews", "/status/502"), 502, "")
	expect(t, h.get("reviews", "/status/200"), 503, "no healthy upstream")
	cs := clusterStats(t, h)
	if cs.EjectionsEnforcedGatewayFailure != 1 || cs.EjectionsDetectedGatewayFailure != 1 || cs.EjectionsDetected5xx != 0 {
		t.Errorf("stats %+v", cs.PolicyStats)
	}
}

// consecutiveErrors is ignored since Istio 1.7 (Envoy's default of 5
// consecutive 5xx applies); Istio ≤ 1.6 mapped it to gateway errors with
// 5xx enforcement off.
func TestOutlierConsecutiveErrorsByVersion(t *testing.T) {
	dr := outlierDR(`    outlierDetection: {consecutiveErrors: 1, maxEjectionPercent: 100}
`)
	t.Run("Istio 1.6: gateway errors", func(t *testing.T) {
		up := newUpstream(t, "up")
		h := start(t, withIstio(experiment(svc("reviews", 9080, up.addr()), dr), "1.6"), (&fakeClock{}).option())
		for i := 0; i < 6; i++ {
			expect(t, h.get("reviews", "/status/500"), 500, "")
		}
		if cs := clusterStats(t, h); cs.EjectionsDetected5xx != 1 || cs.EjectionsEnforcedTotal != 0 {
			t.Errorf("5xx detected %d (want 1, not enforced), enforced %d", cs.EjectionsDetected5xx, cs.EjectionsEnforcedTotal)
		}
		expect(t, h.get("reviews", "/status/502"), 502, "")
		expect(t, h.get("reviews", "/status/200"), 503, "no healthy upstream")
		if cs := clusterStats(t, h); cs.EjectionsEnforcedGatewayFailure != 1 {
			t.Errorf("gateway ejections %d, want 1", cs.EjectionsEnforcedGatewayFailure)
		}
	})
	t.Run("current: 5 consecutive 5xx", func(t *testing.T) {
		up := newUpstream(t, "up")
		h := start(t, experiment(svc("reviews", 9080, up.addr()), dr), (&fakeClock{}).option())
		expect(t, h.get("reviews", "/status/502"), 502, "")
		expect(t, h.get("reviews", "/status/200"), 200, "")
		for i := 0; i < 5; i++ {
			expect(t, h.get("reviews", "/status/500"), 500, "")
		}
		expect(t, h.get("reviews", "/status/200"), 503, "no healthy upstream")
		if cs := clusterStats(t, h); cs.EjectionsEnforced5xx != 1 || cs.EjectionsEnforcedGatewayFailure != 0 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
}

// Locally originated failures: by default a connect failure counts as a
// 503 and a timeout as a 504 (both 5xx and gateway errors); with
// splitExternalLocalOriginErrors they feed consecutiveLocalOriginFailures
// only.
func TestOutlierLocalOriginFailures(t *testing.T) {
	t.Run("connect failures count as 5xx", func(t *testing.T) {
		good := newUpstream(t, "good")
		h := start(t, experiment(svc("reviews", 9080, good.addr(), deadAddr(t)), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, maxEjectionPercent: 50}
`)), (&fakeClock{}).option())
		for i := 0; i < 10; i++ {
			expect(t, h.get("reviews", "/"), 200, "good") // the default policy retries on the other endpoint
		}
		cs := clusterStats(t, h)
		if cs.EjectionsEnforced5xx != 1 || cs.EjectionsActive != 1 || cs.EjectionsEnforcedLocalOriginFailure != 0 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
	t.Run("split: local-origin counter only", func(t *testing.T) {
		good := newUpstream(t, "good")
		h := start(t, experiment(svc("reviews", 9080, good.addr(), deadAddr(t)), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, consecutive5xxErrors: 1, maxEjectionPercent: 50}
`)), (&fakeClock{}).option())
		for i := 0; i < 10; i++ {
			expect(t, h.get("reviews", "/"), 200, "good")
		}
		cs := clusterStats(t, h)
		if cs.EjectionsEnforcedLocalOriginFailure != 1 || cs.EjectionsDetectedLocalOriginFailure != 1 || cs.EjectionsDetected5xx != 0 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
	t.Run("a route timeout counts as a 504", func(t *testing.T) {
		up := newUpstream(t, "up")
		vs := fmt.Sprintf(reviewsVS, "  - timeout: 20ms\n    route: [{destination: {host: reviews}}]\n")
		h := start(t, experiment(svc("reviews", 9080, up.addr()), vs, outlierDR(`    outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100}
`)), (&fakeClock{}).option())
		expect(t, h.get("reviews", "/delay/500"), 504, "upstream request timeout")
		expect(t, h.get("reviews", "/delay/500"), 504, "upstream request timeout")
		expect(t, h.get("reviews", "/"), 503, "no healthy upstream")
		if cs := clusterStats(t, h); cs.EjectionsEnforcedGatewayFailure != 1 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
}

// Panic mode: below the panic threshold the balancer ignores health. Istio
// ≥ 1.3 sets the threshold to minHealthPercent (0 by default: never panic);
// before, Envoy's 50 % applied, so a single ejected endpoint kept getting
// traffic (pitfall 10).
func TestOutlierPanicThreshold(t *testing.T) {
	t.Run("Istio 1.2: Envoy's 50 %", func(t *testing.T) {
		bad := newFailing(t, 500)
		h := start(t, withIstio(experiment(svc("reviews", 9080, bad.addr()), outlierDR(`    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100}
`)), "1.2"), (&fakeClock{}).option())
		for i := 0; i < 3; i++ {
			expect(t, h.get("reviews", "/"), 500, "failing")
		}
		cs := clusterStats(t, h)
		if cs.EjectionsActive != 1 || cs.LbHealthyPanic != 2 || cs.MembershipHealthy != 0 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
	t.Run("minHealthPercent 60 with one of two ejected", func(t *testing.T) {
		good, bad := newUpstream(t, "good"), newFailing(t, 500)
		h := start(t, experiment(svc("reviews", 9080, good.addr(), bad.addr()), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 60}
`)), (&fakeClock{}).option())
		for i := 0; i < 10; i++ {
			h.get("reviews", "/")
		}
		if got := bad.hits.Load(); got < 4 {
			t.Errorf("the ejected endpoint got %d of 10 requests: panic mode should balance over both", got)
		}
		if cs := clusterStats(t, h); cs.EjectionsActive != 1 || cs.LbHealthyPanic == 0 {
			t.Errorf("stats %+v", cs.PolicyStats)
		}
	})
}

// Outlier state survives an Apply that leaves the cluster unchanged, as
// Envoy keeps an unchanged cluster; a changed policy starts afresh.
func TestOutlierStateAcrossApply(t *testing.T) {
	bad := newFailing(t, 500)
	src := func(base string) string {
		return experiment(svc("reviews", 9080, bad.addr()), outlierDR(`    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: `+base+`}
`))
	}
	h := start(t, src("30s"), (&fakeClock{}).option())
	expect(t, h.get("reviews", "/"), 500, "failing")
	expect(t, h.get("reviews", "/"), 503, "no healthy upstream")
	if err := h.p.Apply(parse(t, src("30s"))); err != nil {
		t.Fatal(err)
	}
	expect(t, h.get("reviews", "/"), 503, "no healthy upstream")
	if err := h.p.Apply(parse(t, src("40s"))); err != nil {
		t.Fatal(err)
	}
	expect(t, h.get("reviews", "/"), 500, "failing")
}
