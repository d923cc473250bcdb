package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// scripted is an upstream whose answer depends on the request's sequence
// number (1-based); it records every request it saw, body included.
type scripted struct {
	*httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	header http.Header
	host   string
	body   string
	at     time.Time
}

func newScripted(t testing.TB, handle func(n int, w http.ResponseWriter, r *http.Request)) *scripted {
	t.Helper()
	s := &scripted{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Counted once recorded: a test that sees n requests finds them all
		// in requests().
		s.mu.Lock()
		s.seen = append(s.seen, seenRequest{header: r.Header.Clone(), host: r.Host, body: string(body), at: time.Now()})
		n := int(s.n.Add(1))
		s.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scripted) addr() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *scripted) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

// hang waits until the client gives up (or 10 s).
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// withIstio sets the experiment's spec.istioVersion.
func withIstio(src, version string) string {
	return strings.Replace(src, "spec:\n  services:\n", "spec:\n  istioVersion: \""+version+"\"\n  services:\n", 1)
}

// retryVS routes reviews with the given extra rule lines (indented as
// fields of the http rule).
func retryVS(lines ...string) string {
	rule := "  - route: [{destination: {host: reviews}}]\n"
	for _, l := range lines {
		rule += "    " + l + "\n"
	}
	return fmt.Sprintf(reviewsVS, rule)
}

const reviewsCluster = "outbound|9080||reviews.default.svc.cluster.local"

func attemptCounts(seen []seenRequest) []string {
	var out []string
	for _, s := range seen {
		out = append(out, s.header.Get("X-Envoy-Attempt-Count"))
	}
	return out
}

// docs/scenarios.md (Retries with a per-try timeout), scaled down (fault
// delay 600ms, per-try timeout 200ms, slow upstream 10s): exactly what
// Envoy does with the fault filter in front of the router.
func TestRetryScenarioPerTryTimeout(t *testing.T) {
	t.Run("A: the injected delay does not trip the per-try timeout", func(t *testing.T) {
		up := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
		h := start(t, experiment(svc("reviews", 9080, up.addr()),
			retryVS("fault: {delay: {percent: 100, fixedDelay: 600ms}}", "retries: {attempts: 2, perTryTimeout: 200ms}")))
		t0 := time.Now()
		r := h.get("reviews", "/")
		el := time.Since(t0)
		if r.code != 200 || el < 600*time.Millisecond || el > 3*time.Second {
			t.Fatalf("got %d after %v, want 200 after about 600ms", r.code, el)
		}
		if st, _ := strconv.Atoi(r.header.Get("X-Envoy-Upstream-Service-Time")); st >= 200 {
			t.Errorf("x-envoy-upstream-service-time %d includes the delay", st)
		}
		if n := up.n.Load(); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
		s := h.p.Stats()
		c, _ := s.Cluster(reviewsCluster)
		if c.UpstreamRqPerTryTimeout != 0 || s.Retries != 0 || s.ByFlag["DI"] != 1 || s.Timeouts != 0 {
			t.Errorf("cluster %+v totals %+v", c, s.Totals)
		}
	})
	t.Run("B: default retryOn does not retry a per-try timeout", func(t *testing.T) {
		up := newScripted(t, func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) })
		h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, perTryTimeout: 200ms}")))
		t0 := time.Now()
		r := h.get("reviews", "/")
		el := time.Since(t0)
		expect(t, r, 504, "upstream request timeout")
		if el < 200*time.Millisecond || el > 1500*time.Millisecond {
			t.Errorf("504 after %v, want about 200ms", el)
		}
		if got := attemptCounts(up.requests()); len(got) != 1 || got[0] != "1" {
			t.Errorf("upstream attempts %v, want [1]", got)
		}
		if got := up.requests()[0].header.Get("X-Envoy-Expected-Rq-Timeout-Ms"); got != "200" {
			t.Errorf("x-envoy-expected-rq-timeout-ms %q, want the per-try timeout", got)
		}
		s := h.p.Stats()
		c, _ := s.Cluster(reviewsCluster)
		if c.UpstreamRqPerTryTimeout != 1 || c.UpstreamRqRetry != 0 || c.UpstreamRqTimeout != 0 || c.Codes["upstream_rq_504"] != 1 ||
			s.Retries != 0 || s.Timeouts != 1 || s.ByFlag["UT"] != 1 || s.ByFlag["URX"] != 0 {
			t.Errorf("cluster %+v totals %+v", c, s.Totals)
		}
		if rs, _ := s.Route("reviews", 0); rs.Timeouts != 1 || rs.Retries != 0 {
			t.Errorf("route %+v", rs)
		}
		if l := h.accessLog()[0]; !strings.Contains(l, `" 504 UT upstream_per_try_timeout `) {
			t.Errorf("log %q", l)
		}
	})
	for _, retryOn := range []string{"5xx", "gateway-error", "reset"} {
		t.Run("C: retryOn "+retryOn+" retries per-try timeouts", func(t *testing.T) {
			up := newScripted(t, func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) })
			h := start(t, experiment(svc("reviews", 9080, up.addr()),
				retryVS("retries: {attempts: 2, perTryTimeout: 200ms, retryOn: "+retryOn+"}")))
			t0 := time.Now()
			r := h.get("reviews", "/")
			el := time.Since(t0)
			expect(t, r, 504, "upstream request timeout")
			// 3 × 200ms plus back-offs below 25ms and 75ms.
			if el < 600*time.Millisecond || el > 2*time.Second {
				t.Errorf("504 after %v, want about 600ms + back-off", el)
			}
			if got := strings.Join(attemptCounts(up.requests()), ","); got != "1,2,3" {
				t.Errorf("x-envoy-attempt-count %s, want 1,2,3", got)
			}
			s := h.p.Stats()
			c, _ := s.Cluster(reviewsCluster)
			if c.UpstreamRqPerTryTimeout != 3 || c.UpstreamRqRetry != 2 || c.UpstreamRqRetryLimitExceeded != 1 ||
				c.Codes["upstream_rq_504"] != 1 || s.Retries != 2 || s.UpstreamRequests != 3 || s.Timeouts != 1 {
				t.Errorf("cluster %+v totals %+v", c, s.Totals)
			}
			if rs, _ := s.Route("reviews", 0); rs.Retries != 2 || rs.Timeouts != 1 {
				t.Errorf("route %+v", rs)
			}
			if l := h.accessLog()[0]; !strings.Contains(l, `" 504 UT,URX upstream_per_try_timeout `) {
				t.Errorf("log %q", l)
			}
		})
	}
}

// Istio's default policy retries a connect failure on another endpoint
// (previous_hosts), so the client never sees the dead one.
func TestRetryConnectFailureOtherEndpoint(t *testing.T) {
	up := newUpstream(t, "alive")
	dead := deadAddr(t)
	t.Run("round robin: first endpoint refused, second alive", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, dead, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`))
		r := h.get("reviews", "/")
		expect(t, r, 200, "alive")
		if got := up.last(t).Header.Get("X-Envoy-Attempt-Count"); got != "2" {
			t.Errorf("x-envoy-attempt-count %q, want 2", got)
		}
		s := h.p.Stats()
		c, _ := s.Cluster(reviewsCluster)
		if c.UpstreamCxConnectFail != 1 || c.UpstreamRqRetry != 1 || c.UpstreamRqRetrySuccess != 1 || c.UpstreamRqTotal != 2 ||
			c.Codes["upstream_rq_200"] != 1 || c.Codes["upstream_rq_503"] != 0 || s.UpstreamRequests != 2 || s.Retries != 1 {
			t.Errorf("cluster %+v totals %+v", c, s.Totals)
		}
		if l := h.accessLog()[0]; !strings.Contains(l, `" 200 - via_upstream `) || !strings.Contains(l, `"`+up.addr()+`"`) {
			t.Errorf("log %q", l)
		}
	})
	t.Run("least request: every request succeeds", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, dead, up.addr())))
		for i := 0; i < 50; i++ {
			expect(t, h.get("reviews", "/"), 200, "alive")
		}
		s := h.p.Stats()
		c, _ := s.Cluster(reviewsCluster)
		// previous_hosts re-picks up to 5 times; with two endpoints a
		// request may rarely still get the dead one twice.
		if c.UpstreamRqRetry != c.UpstreamCxConnectFail || c.UpstreamRqRetrySuccess == 0 || c.UpstreamRqRetrySuccess > c.UpstreamRqRetry ||
			c.UpstreamRqRetry > c.UpstreamRqRetrySuccess+2 || s.ByFlag["URX"] != 0 {
			t.Errorf("cluster %+v flags %v", c, s.ByFlag)
		}
	})
}

// Upstream 503s were retried by default before Istio 1.24
// (retriable_status_codes [503]); they are not any more.
func TestRetryDefault503ByVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  string
		attempts int64
		flags    string
	}{
		{"current Istio does not retry 503", "", 1, " 503 - via_upstream "},
		{"Istio 1.8 retries 503 twice", "1.8", 3, " 503 URX via_upstream "},
		{"Istio 1.23 retries 503 twice", "1.23", 3, " 503 URX via_upstream "},
		{"Istio 1.24 does not", "1.24", 1, " 503 - via_upstream "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(503)
				fmt.Fprintf(w, "unavailable %d", n)
			})
			src := experiment(svc("reviews", 9080, up.addr()))
			if tc.version != "" {
				src = withIstio(src, tc.version)
			}
			h := start(t, src)
			r := h.get("reviews", "/")
			// Exhausted: the last upstream response, as it came.
			expect(t, r, 503, fmt.Sprintf("unavailable %d", tc.attempts))
			if r.header.Get("X-Envoy-Upstream-Service-Time") == "" {
				t.Error("an upstream response lacks x-envoy-upstream-service-time")
			}
			if n := up.n.Load(); n != tc.attempts {
				t.Errorf("upstream saw %d attempts, want %d", n, tc.attempts)
			}
			c, _ := h.p.Stats().Cluster(reviewsCluster)
			if c.Codes["upstream_rq_503"] != 1 || c.Codes["retry.upstream_rq_503"] != tc.attempts-1 || c.UpstreamRqRetry != tc.attempts-1 {
				t.Errorf("cluster %+v", c)
			}
			if l := h.accessLog()[0]; !strings.Contains(l, tc.flags) {
				t.Errorf("log %q lacks %q", l, tc.flags)
			}
		})
	}
}

// retryOn takes policies and integer status codes (retriable-status-codes
// is implied); only covered statuses are retried.
func TestRetryOnStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		name, retryOn string
		attempts      int64
		code          int
	}{
		{"integer codes", "418,409", 3, 200},
		{"explicit retriable-status-codes", "retriable-status-codes,418", 3, 200},
		{"5xx does not cover 418", "5xx", 1, 418},
		{"retriable-4xx is 409 only", "retriable-4xx", 1, 418},
		{"retriable-status-codes without codes matches nothing", "retriable-status-codes", 1, 418},
		{"retriable-headers is accepted and matches nothing", "retriable-headers", 1, 418},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n < 3 {
					w.WriteHeader(418)
					return
				}
				io.WriteString(w, "ok")
			})
			h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 3, retryOn: \""+tc.retryOn+"\"}")))
			if r := h.get("reviews", "/"); r.code != tc.code {
				t.Errorf("got %d, want %d", r.code, tc.code)
			}
			if n := up.n.Load(); n != tc.attempts {
				t.Errorf("upstream saw %d attempts, want %d", n, tc.attempts)
			}
			c, _ := h.p.Stats().Cluster(reviewsCluster)
			if tc.attempts == 3 && (c.UpstreamRqRetry != 2 || c.UpstreamRqRetrySuccess != 1 || c.UpstreamRqRetryLimitExceeded != 0) {
				t.Errorf("cluster %+v", c)
			}
		})
	}
	t.Run("retriable-4xx retries 409", func(t *testing.T) {
		up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.WriteHeader(409)
			}
		})
		h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 1, retryOn: retriable-4xx}")))
		if r := h.get("reviews", "/"); r.code != 200 || up.n.Load() != 2 {
			t.Errorf("got %d after %d attempts", r.code, up.n.Load())
		}
	})
}

// Exhausted retries return the last upstream response (status, headers,
// body) with URX; x-envoy-upstream-service-time covers every attempt.
func TestRetryExhaustedLastResponse(t *testing.T) {
	up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(40 * time.Millisecond) // a slow upstream: the service time must cover both attempts
		w.Header().Set("X-Attempt", strconv.Itoa(n))
		w.WriteHeader(500 + n)
		fmt.Fprintf(w, "boom %d", n)
	})
	h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, retryOn: 5xx}")))
	r := h.get("reviews", "/")
	expect(t, r, 503, "boom 3")
	if r.header.Get("X-Attempt") != "3" {
		t.Errorf("headers %v", r.header)
	}
	if st, _ := strconv.Atoi(r.header.Get("X-Envoy-Upstream-Service-Time")); st < 120 {
		t.Errorf("x-envoy-upstream-service-time %d, want it to cover the three 40ms attempts", st)
	}
	s := h.p.Stats()
	c, _ := s.Cluster(reviewsCluster)
	if c.UpstreamRqRetry != 2 || c.UpstreamRqRetryLimitExceeded != 1 || c.UpstreamRqRetrySuccess != 0 ||
		c.Codes["upstream_rq_503"] != 1 || c.Codes["retry.upstream_rq_501"] != 1 || c.Codes["retry.upstream_rq_502"] != 1 || c.Codes["retry.upstream_rq_5xx"] != 2 {
		t.Errorf("cluster %+v", c)
	}
	if l := h.accessLog()[0]; !strings.Contains(l, `" 503 URX via_upstream `) {
		t.Errorf("log %q", l)
	}
}

// attempts: 0 disables retries, the default policy included.
func TestRetryAttemptsZero(t *testing.T) {
	up := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Grpc-Status", "14") // covered by the default retryOn
	})
	h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 0}")))
	h.get("reviews", "/")
	if n := up.n.Load(); n != 1 {
		t.Errorf("upstream saw %d attempts, want 1", n)
	}
}

// The default policy's "unavailable" and "cancelled" retry gRPC statuses
// found in the response headers (trailers-only responses).
func TestRetryGRPCStatusDefault(t *testing.T) {
	up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		switch n {
		case 1:
			w.Header().Set("Grpc-Status", "14") // UNAVAILABLE
		case 2:
			w.Header().Set("Grpc-Status", "1") // CANCELLED
		default:
			w.Header().Set("Grpc-Status", "13") // INTERNAL: not in the default policy
		}
	})
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	r := h.do(h.p.MeshAddr(), "POST", "reviews", "/pkg.Svc/Call", "Content-Type: application/grpc")
	if r.code != 200 || r.header.Get("Grpc-Status") != "13" || up.n.Load() != 3 {
		t.Errorf("got %d grpc-status %q after %d attempts", r.code, r.header.Get("Grpc-Status"), up.n.Load())
	}
}

// A connection closed before response headers is a reset: not retried by
// the default policy, retried by "reset" ("retried and the latest reset
// reason: connection termination").
func TestRetryReset(t *testing.T) {
	closer := func(_ int, w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	t.Run("default policy", func(t *testing.T) {
		up := newScripted(t, closer)
		h := start(t, experiment(svc("reviews", 9080, up.addr())))
		expect(t, h.get("reviews", "/"), 503, "upstream connect error or disconnect/reset before headers. reset reason: connection termination")
		if n := up.n.Load(); n != 1 {
			t.Errorf("upstream saw %d attempts, want 1", n)
		}
	})
	t.Run("retryOn reset", func(t *testing.T) {
		up := newScripted(t, closer)
		h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, retryOn: reset}")))
		expect(t, h.get("reviews", "/"), 503, "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination")
		if n := up.n.Load(); n != 3 {
			t.Errorf("upstream saw %d attempts, want 3", n)
		}
		c, _ := h.p.Stats().Cluster(reviewsCluster)
		if c.UpstreamRqRxReset != 3 || c.Codes["upstream_rq_503"] != 1 {
			t.Errorf("cluster %+v", c)
		}
		if l := h.accessLog()[0]; !strings.Contains(l, `" 503 UC,URX upstream_reset_before_response_started{connection_termination} `) {
			t.Errorf("log %q", l)
		}
	})
}

// The route timeout is one budget over attempts and back-off: it ends the
// request with 504 UT, is never retried, and no attempt starts after it.
func TestRetryRouteTimeoutBudget(t *testing.T) {
	up := newScripted(t, func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) })
	h := start(t, experiment(svc("reviews", 9080, up.addr()),
		retryVS("timeout: 500ms", "retries: {attempts: 10, perTryTimeout: 200ms, retryOn: 5xx}")))
	t0 := time.Now()
	r := h.get("reviews", "/")
	el := time.Since(t0)
	expect(t, r, 504, "upstream request timeout")
	if el < 500*time.Millisecond || el > 1500*time.Millisecond {
		t.Errorf("504 after %v, want about 500ms", el)
	}
	n := up.n.Load()
	if n < 2 || n > 3 {
		t.Errorf("upstream saw %d attempts in 500ms of 200ms tries", n)
	}
	// Every attempt began inside the budget: it carried some of it, and
	// reached the upstream before the route timeout plus the time a
	// request takes to cross loopback on a busy machine (the upstream
	// stamps arrival, not the proxy's start).
	for i, s := range up.requests() {
		if ms, _ := strconv.Atoi(s.header.Get("X-Envoy-Expected-Rq-Timeout-Ms")); ms < 1 {
			t.Errorf("attempt %d carried x-envoy-expected-rq-timeout-ms %q", i, s.header.Get("X-Envoy-Expected-Rq-Timeout-Ms"))
		}
		if s.at.Sub(t0) > 600*time.Millisecond {
			t.Errorf("attempt %d reached the upstream %v after the request", i, s.at.Sub(t0))
		}
	}
	// That no attempt follows the route timeout can only be seen over a
	// window longer than a try (200 ms).
	time.Sleep(300 * time.Millisecond)
	if up.n.Load() != n {
		t.Error("attempts continued after the route timeout")
	}
	// The second attempt carried what was left of the budget.
	if len(up.requests()) > 1 {
		if ms, _ := strconv.Atoi(up.requests()[1].header.Get("X-Envoy-Expected-Rq-Timeout-Ms")); ms > 200 || ms < 1 {
			t.Errorf("second attempt's x-envoy-expected-rq-timeout-ms %d", ms)
		}
	}
	s := h.p.Stats()
	if s.Timeouts != 1 || s.ByFlag["UT"] != 1 || s.ByFlag["URX"] != 0 {
		t.Errorf("totals %+v", s.Totals)
	}
	if l := h.accessLog()[0]; !strings.Contains(l, `" 504 UT upstream_response_timeout `) {
		t.Errorf("log %q", l)
	}
}

// A per-try timeout at or above the route timeout is ignored (Envoy
// finalTimeout): the route timeout answers.
func TestRetryPerTryTimeoutNotBelowRouteTimeout(t *testing.T) {
	up := newScripted(t, func(_ int, _ http.ResponseWriter, r *http.Request) { hang(r) })
	h := start(t, experiment(svc("reviews", 9080, up.addr()),
		retryVS("timeout: 200ms", "retries: {attempts: 2, perTryTimeout: 200ms, retryOn: 5xx}")))
	expect(t, h.get("reviews", "/"), 504, "upstream request timeout")
	c, _ := h.p.Stats().Cluster(reviewsCluster)
	if up.n.Load() != 1 || c.UpstreamRqPerTryTimeout != 0 || c.UpstreamRqTimeout != 1 {
		t.Errorf("%d attempts, cluster %+v", up.n.Load(), c)
	}
	if got := up.requests()[0].header.Get("X-Envoy-Expected-Rq-Timeout-Ms"); got != "200" {
		t.Errorf("x-envoy-expected-rq-timeout-ms %q", got)
	}
}

// Request bodies are buffered so a retry replays them intact; chunked
// bodies too. Over the 1 MiB limit the request is forwarded once,
// streaming, with retries abandoned.
func TestRetryReplaysBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
	}{{"small", 11, false}, {"64KiB", 64 << 10, false}, {"chunked", 100 << 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.WriteHeader(503)
				}
			})
			h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, retryOn: \"503\"}")))
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			var rd io.Reader = bytes.NewReader(body)
			if tc.chunked {
				rd = io.MultiReader(rd) // unknown length: chunked
			}
			req, _ := http.NewRequest("POST", "http://"+h.p.MeshAddr()+"/post", rd)
			req.Host = "reviews"
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("got %d", res.StatusCode)
			}
			seen := up.requests()
			if len(seen) != 2 {
				t.Fatalf("upstream saw %d attempts", len(seen))
			}
			for i, s := range seen {
				if s.body != string(body) {
					t.Errorf("attempt %d: body of %d bytes, want %d intact", i+1, len(s.body), len(body))
				}
			}
		})
	}
	t.Run("over the buffer limit", func(t *testing.T) {
		up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
		h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, retryOn: \"503\"}")))
		body := bytes.Repeat([]byte("x"), 2<<20)
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd)
			}
			req, _ := http.NewRequest("POST", "http://"+h.p.MeshAddr()+"/post", rd)
			req.Host = "reviews"
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 503 {
				t.Errorf("got %d", res.StatusCode)
			}
		}
		seen := up.requests()
		if len(seen) != 2 || len(seen[0].body) != len(body) || len(seen[1].body) != len(body) {
			t.Fatalf("upstream saw %d requests, want 2 (one per client request) with full bodies", len(seen))
		}
		c, _ := h.p.Stats().Cluster(reviewsCluster)
		if c.RetryOrShadowAbandoned != 2 || c.UpstreamRqRetry != 0 {
			t.Errorf("cluster %+v", c)
		}
	})
}

// Injected aborts happen before the router: never retried, never sent.
func TestRetryNeverRetriesAbort(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()),
		retryVS("fault: {abort: {httpStatus: 503, percentage: {value: 100}}}", "retries: {attempts: 3, retryOn: 5xx}")))
	expect(t, h.get("reviews", "/"), 503, "fault filter abort")
	if s := h.p.Stats(); up.hits.Load() != 0 || s.Retries != 0 || s.UpstreamRequests != 0 {
		t.Errorf("hits %d totals %+v", up.hits.Load(), s.Totals)
	}
}

// An upstream Envoy's rate-limit reply (x-envoy-ratelimited) is retried
// only under envoy-ratelimited, whatever its status.
func TestRetryEnvoyRateLimited(t *testing.T) {
	for _, tc := range []struct {
		retryOn  string
		attempts int64
	}{{"5xx", 1}, {"envoy-ratelimited", 2}} {
		t.Run(tc.retryOn, func(t *testing.T) {
			up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("X-Envoy-Ratelimited", "true")
					w.WriteHeader(503)
				}
			})
			h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 1, retryOn: "+tc.retryOn+"}")))
			h.get("reviews", "/")
			if n := up.n.Load(); n != tc.attempts {
				t.Errorf("upstream saw %d attempts, want %d", n, tc.attempts)
			}
		})
	}
}

// Once response headers arrive the per-try timeout no longer applies: a
// slow body runs on, bounded only by the route timeout.
func TestRetryPerTryTimeoutIgnoredOnceResponding(t *testing.T) {
	up := newScripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond) // a slow body, past the per-try timeout, is the scenario
		io.WriteString(w, "late body")
	})
	h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS("retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}")))
	expect(t, h.get("reviews", "/"), 200, "late body")
	if c, _ := h.p.Stats().Cluster(reviewsCluster); up.n.Load() != 1 || c.UpstreamRqPerTryTimeout != 0 {
		t.Errorf("%d attempts, cluster %+v", up.n.Load(), c)
	}
}

// One rule's report: matched, delayed, retried and mirrored requests.
func TestRouteAccounting(t *testing.T) {
	up := newScripted(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%2 == 1 {
			w.WriteHeader(503) // every first attempt fails
		}
	})
	shadow := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	h := start(t, experiment(svc("reviews", 9080, up.addr())+svc("shadow", 80, shadow.addr()),
		retryVS("fault: {delay: {fixedDelay: 1ms, percentage: {value: 100}}}", "retries: {attempts: 1, retryOn: 5xx}", "mirror: {host: shadow}")))
	const n = 10
	for i := 0; i < n; i++ {
		expect(t, h.get("reviews", "/"), 200, "")
	}
	wait.For(t, 5*time.Second, "the shadows", func() bool { return shadow.n.Load() == n })
	s := h.p.Stats()
	rs, _ := s.Route("reviews", 0)
	if rs.Matched != n || rs.DelaysInjected != n || rs.Retries != n || rs.Mirrored != n || rs.AbortsInjected != 0 {
		t.Errorf("route %+v", rs)
	}
	if s.Retries != n || s.Mirrored != n || s.UpstreamRequests != 2*n {
		t.Errorf("totals %+v", s.Totals)
	}
}
