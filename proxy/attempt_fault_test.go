package proxy_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// withFaults adds spec.faults (YAML list items under `faults:`) to an
// experiment rendered by experiment().
func withFaults(src, faults string) string {
	const load = "  load: {url: \"http://reviews:9080/\"}\n"
	return strings.Replace(src, load, load+"  faults:\n"+faults, 1)
}

// z999 is the two-sided 99.9 % normal quantile.
const z999 = 3.2905

// binomialWithin checks a count against its binomial expectation within
// the 99.9 % bounds.
func binomialWithin(t testing.TB, what string, got, n int64, p float64) {
	t.Helper()
	mean := float64(n) * p
	half := z999 * math.Sqrt(float64(n)*p*(1-p))
	if d := float64(got) - mean; d > half || d < -half {
		t.Errorf("%s: got %d of %d, want %.1f ± %.1f (99.9 %%)", what, got, n, mean, half)
	}
}

// codes sends n GETs for reviews through the mesh listener, conc at a
// time, and counts the answers by status; every other answer must be
// 200 from the upstream, every 503 Envoy's fault body.
func codes(t *testing.T, h *harness, n, conc int) map[int]int64 {
	t.Helper()
	var mu sync.Mutex
	out := map[int]int64{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				r := h.get("reviews", "/")
				mu.Lock()
				out[r.code]++
				mu.Unlock()
				switch {
				case r.code == 200 && r.body == "reviews":
				case r.code == 503 && r.body == "fault filter abort":
				default:
					t.Errorf("got %d %q", r.code, r.body)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

const flaky503 = "  - {name: flaky, virtualService: reviews, on: attempts, abort: {httpStatus: 503, percentage: {value: 50}}}\n"

// A 50 % abort on each attempt, with three retries on 5xx: a request
// fails only when all four attempts are aborted (0.5^4 = 6.25 %), the
// upstream sees exactly the requests that succeeded, and the counters
// tell the same story as the codes.
func TestAttemptFaultAbortRetried(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()),
		retryVS("retries: {attempts: 3, retryOn: 5xx, backoff: 1ms}")), flaky503))
	const n = 2000
	got := codes(t, h, n, 32)
	failed, ok := got[503], got[200]
	binomialWithin(t, "503 share", failed, n, 0.0625)
	if failed+ok != n {
		t.Fatalf("codes %v", got)
	}
	if hits := up.hits.Load(); hits != ok {
		t.Errorf("upstream saw %d requests, want %d (one per success)", hits, ok)
	}
	s := h.p.Stats()
	rs, _ := s.Route("reviews", 0)
	t.Logf("codes %v, upstream %d, attempts drawn %d, aborts %d", got, up.hits.Load(), rs.AttemptsDrawn, rs.AttemptAbortsInjected)
	// Attempts per request: 1, 2, 3 or 4 with probability 1/2, 1/4, 1/8,
	// 1/8: mean 1.875, variance 1.109.
	if mean, half := 1.875*n, z999*math.Sqrt(1.109375*n); math.Abs(float64(rs.AttemptsDrawn)-mean) > half {
		t.Errorf("attempts drawn %d, want %.0f ± %.0f", rs.AttemptsDrawn, mean, half)
	}
	binomialWithin(t, "attempt aborts", rs.AttemptAbortsInjected, rs.AttemptsDrawn, 0.5)
	if rs.AttemptAbortsInjected != rs.AttemptsDrawn-ok || rs.Retries != rs.AttemptsDrawn-n || s.Retries != rs.Retries {
		t.Errorf("route %+v, totals %+v: aborts must be drawn − successes, retries drawn − requests", rs, s.Totals)
	}
	if s.UpstreamRequests != ok || s.Attempts != rs.AttemptsDrawn {
		t.Errorf("upstream requests %d (want %d), attempts %d (want %d)", s.UpstreamRequests, ok, s.Attempts, rs.AttemptsDrawn)
	}
	if s.ByFlag["FI"] != failed || s.ByFlag["URX"] != failed || s.FaultsAborted != 0 || rs.AbortsInjected != 0 {
		t.Errorf("flags %v, route %+v: FI and URX mark the %d failures, the route's own fault injected nothing", s.ByFlag, rs, failed)
	}
	c, _ := s.Cluster(reviewsCluster)
	if c.UpstreamRqTotal != ok || c.Codes["upstream_rq_503"] != 0 || c.Codes["retry.upstream_rq_503"] != 0 {
		t.Errorf("cluster %+v: injected aborts never reached it", c)
	}
	var flagged int64
	for _, l := range h.accessLog() {
		if strings.Contains(l, `" 503 FI,URX fault_filter_abort `) {
			flagged++
		}
	}
	if flagged != failed {
		t.Errorf("%d access-log lines flagged FI,URX, want %d", flagged, failed)
	}
}

// Without a retry policy the injected abort is the answer (≈ 50 %); with
// Istio's default policy (no retries block), which retries 503 up to
// Istio 1.23 only, it is retried twice there (0.5^3 = 12.5 %).
func TestAttemptFaultAbortWithoutRetries(t *testing.T) {
	for _, tc := range []struct {
		name, istio, rule string
		attempts          float64 // mean attempts per request
		want              float64
	}{
		{"attempts 0", "", "retries: {attempts: 0}", 1, 0.5},
		{"default policy, Istio 1.30", "", "timeout: 10s", 1, 0.5},
		{"default policy, Istio 1.23", "1.23", "timeout: 10s", 1.75, 0.125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, "reviews")
			src := withFaults(experiment(svc("reviews", 9080, up.addr()), retryVS(tc.rule)), flaky503)
			if tc.istio != "" {
				src = withIstio(src, tc.istio)
			}
			h := start(t, src)
			const n = 2000
			got := codes(t, h, n, 32)
			binomialWithin(t, "503 share", got[503], n, tc.want)
			s := h.p.Stats()
			rs, _ := s.Route("reviews", 0)
			if up.hits.Load() != got[200] || s.UpstreamRequests != got[200] || s.ByFlag["FI"] != got[503] {
				t.Errorf("hits %d, totals %+v, codes %v", up.hits.Load(), s.Totals, got)
			}
			if tc.attempts == 1 && (rs.AttemptsDrawn != n || rs.AttemptAbortsInjected != got[503] || s.Retries != 0 || s.ByFlag["URX"] != 0) {
				t.Errorf("route %+v totals %+v", rs, s.Totals)
			}
			if tc.attempts > 1 && rs.AttemptAbortsInjected != rs.AttemptsDrawn-got[200] {
				t.Errorf("route %+v codes %v", rs, got)
			}
		})
	}
}

// The route's own Istio abort runs before the router: with a retry
// policy and a fault on attempts beside it, the aborted requests are
// still never retried, never sent, and never meet the attempt fault.
func TestAttemptFaultLeavesRouteAbortUnretried(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()),
		retryVS("fault: {abort: {httpStatus: 503, percentage: {value: 100}}}", "retries: {attempts: 3, retryOn: 5xx}")), flaky503))
	for range 50 {
		expect(t, h.get("reviews", "/"), 503, "fault filter abort")
	}
	s := h.p.Stats()
	rs, _ := s.Route("reviews", 0)
	if up.hits.Load() != 0 || s.Retries != 0 || s.UpstreamRequests != 0 || s.Attempts != 0 || rs.AttemptsDrawn != 0 || rs.AbortsInjected != 50 {
		t.Errorf("hits %d totals %+v route %+v", up.hits.Load(), s.Totals, rs)
	}
	if s.ByFlag["FI"] != 50 || s.ByFlag["URX"] != 0 {
		t.Errorf("flags %v", s.ByFlag)
	}
}

// An injected delay longer than the per-try timeout times the attempt
// out as a slow upstream would: 504 UT on the last try, retried before
// under 5xx, and the held attempts never reach the upstream.
func TestAttemptFaultDelayPerTryTimeout(t *testing.T) {
	t.Run("every attempt held", func(t *testing.T) {
		up := newUpstream(t, "reviews")
		h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()),
			retryVS("retries: {attempts: 2, retryOn: 5xx, perTryTimeout: 100ms, backoff: 1ms}")),
			"  - {virtualService: reviews, on: attempts, delay: {fixedDelay: 2s, percentage: {value: 100}}}\n"))
		t0 := time.Now()
		expect(t, h.get("reviews", "/"), 504, "upstream request timeout")
		if el := time.Since(t0); el < 300*time.Millisecond || el > 1500*time.Millisecond {
			t.Errorf("504 after %v, want about 3 × 100ms", el)
		}
		s := h.p.Stats()
		rs, _ := s.Route("reviews", 0)
		c, _ := s.Cluster(reviewsCluster)
		if up.hits.Load() != 0 || rs.AttemptsDrawn != 3 || rs.AttemptDelaysInjected != 3 || rs.AttemptDelaysCut != 3 ||
			c.UpstreamRqPerTryTimeout != 3 || s.Retries != 2 || s.UpstreamRequests != 0 || s.Attempts != 3 {
			t.Errorf("hits %d route %+v cluster %+v totals %+v", up.hits.Load(), rs, c, s.Totals)
		}
		lines := h.accessLog()
		if len(lines) != 1 || !strings.Contains(lines[0], `" 504 UT,DI,URX upstream_per_try_timeout `) {
			t.Errorf("access log %q", lines)
		}
	})
	t.Run("half the attempts held", func(t *testing.T) {
		up := newUpstream(t, "reviews")
		h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()),
			retryVS("retries: {attempts: 2, retryOn: 5xx, perTryTimeout: 50ms, backoff: 1ms}")),
			"  - {virtualService: reviews, on: attempts, delay: {fixedDelay: 1s, percentage: {value: 50}}}\n"))
		const n = 300
		var mu sync.Mutex
		got := map[int]int64{}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := i; j < n; j += 16 {
					r := h.get("reviews", "/")
					mu.Lock()
					got[r.code]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		binomialWithin(t, "504 share", got[504], n, 0.125)
		s := h.p.Stats()
		rs, _ := s.Route("reviews", 0)
		if got[200]+got[504] != n || up.hits.Load() != got[200] || rs.AttemptDelaysCut != rs.AttemptDelaysInjected ||
			rs.AttemptsDrawn != got[200]+rs.AttemptDelaysCut || s.Timeouts != got[504] {
			t.Errorf("codes %v hits %d route %+v totals %+v", got, up.hits.Load(), rs, s.Totals)
		}
	})
}

// The same seed replays the same injected faults, request for request.
func TestAttemptFaultSeededReplay(t *testing.T) {
	run := func() string {
		up := newUpstream(t, "reviews")
		h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 0}")), flaky503),
			func(o *proxy.Options) { o.Seed = 7 })
		var b strings.Builder
		for range 200 {
			fmt.Fprintf(&b, "%d ", h.get("reviews", "/").code)
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Errorf("two runs with seed 7 differ:\n%s\n%s", a, b)
	}
}

// A 100 % abort on shadows: the mirror target receives nothing, the
// primary everything, and every client gets its 200.
func TestShadowFaultAbort(t *testing.T) {
	v1 := newUpstream(t, "v1")
	v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	h := start(t, withFaults(mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}"),
		"  - {name: dark, virtualService: httpbin, on: shadows, abort: {httpStatus: 503, percentage: {value: 100}}}\n"))
	const n = 100
	for range n {
		expect(t, h.get("httpbin:8000", "/get"), 200, "v1")
	}
	s := h.p.Stats()
	rs, _ := s.Route("httpbin", 0)
	if rs.ShadowsDrawn != n || rs.ShadowAbortsInjected != n || rs.Mirrored != 0 || s.Mirrored != 0 || rs.AttemptsDrawn != 0 {
		t.Errorf("route %+v totals %+v", rs, s.Totals)
	}
	c1, _ := s.Cluster(v1Cluster)
	c2, _ := s.Cluster(v2Cluster)
	if v1.hits.Load() != n || c1.UpstreamRqTotal != n || c2.UpstreamRqTotal != 0 || s.UpstreamRequests != n || s.ByFlag["FI"] != 0 {
		t.Errorf("v1 %+v v2 %+v totals %+v", c1, c2, s.Totals)
	}
	// No shadow is in flight either: none was started.
	time.Sleep(50 * time.Millisecond)
	if got := v2.n.Load(); got != 0 {
		t.Errorf("the mirror target received %d shadows", got)
	}
}

// A delay on shadows holds the copies, not the primary.
func TestShadowFaultDelay(t *testing.T) {
	v1 := newUpstream(t, "v1")
	v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	h := start(t, withFaults(mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}"),
		"  - {virtualService: httpbin, on: shadows, delay: {fixedDelay: 300ms, percentage: {value: 100}}}\n"))
	const n = 10
	sent := map[string]time.Time{}
	for i := range n {
		id := fmt.Sprintf("req-%d", i)
		t0 := time.Now()
		sent[id] = t0
		expect(t, h.get("httpbin:8000", "/get", "X-Request-Id: "+id), 200, "v1")
		if el := time.Since(t0); el > 200*time.Millisecond {
			t.Errorf("request %d took %v: the primary waited for its shadow", i, el)
		}
	}
	wait.For(t, 5*time.Second, "the shadows", func() bool { return v2.n.Load() == n })
	for _, r := range v2.requests() {
		id := r.header.Get("X-Request-Id")
		if held := r.at.Sub(sent[id]); held < 300*time.Millisecond {
			t.Errorf("shadow %s arrived %v after its request, want at least 300ms", id, held)
		}
	}
	rs, _ := h.p.Stats().Route("httpbin", 0)
	if rs.ShadowsDrawn != n || rs.ShadowDelaysInjected != n || rs.ShadowAbortsInjected != 0 || rs.Mirrored != n {
		t.Errorf("route %+v", rs)
	}
}

// A grpcStatus abort on attempts is a trailers-only gRPC answer that the
// retry policy's gRPC tokens judge: unavailable retries it, and the last
// one is the client's answer.
func TestAttemptFaultGRPCAbort(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, withFaults(experiment(svc("reviews", 9080, up.addr()),
		retryVS("retries: {attempts: 2, retryOn: unavailable, backoff: 1ms}")),
		"  - {virtualService: reviews, on: attempts, abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}\n"))
	r := h.get("reviews", "/", "Content-Type: application/grpc")
	if r.code != 200 || r.header.Get("Grpc-Status") != "14" || r.header.Get("Grpc-Message") != "fault filter abort" {
		t.Fatalf("got %d %v", r.code, r.header)
	}
	s := h.p.Stats()
	rs, _ := s.Route("reviews", 0)
	if up.hits.Load() != 0 || rs.AttemptsDrawn != 3 || rs.AttemptAbortsInjected != 3 || s.Retries != 2 || s.ByFlag["FI"] != 1 || s.ByFlag["URX"] != 1 {
		t.Errorf("hits %d route %+v totals %+v", up.hits.Load(), rs, s.Totals)
	}
}
