package proxy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// bodyOverflow is Envoy's circuit-breaker reply body, 81 bytes.
const bodyOverflow = "upstream connect error or disconnect/reset before headers. reset reason: overflow"

// poolUpstream is an upstream that counts accepted connections and the
// requests it serves at once, and answers after a little service time.
type poolUpstream struct {
	*httptest.Server
	conns, hits     atomic.Int64
	inFlight, maxIn atomic.Int64
	service         time.Duration
	hold            chan struct{} // when set, requests to /hold wait for it to close
}

func newPoolUpstream(t testing.TB, service time.Duration) *poolUpstream {
	t.Helper()
	u := &poolUpstream{service: service}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		n := u.inFlight.Add(1)
		defer u.inFlight.Add(-1)
		for {
			m := u.maxIn.Load()
			if n <= m || u.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		if r.URL.Path == "/hold" && u.hold != nil {
			select {
			case <-u.hold:
			case <-r.Context().Done():
			}
		} else if u.service > 0 {
			time.Sleep(u.service) // a slow upstream is the scenario
		}
		_, _ = io.WriteString(w, "ok")
	}))
	u.Listener = &countingListener{Listener: u.Listener, n: &u.conns}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *poolUpstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// circuitBreakerDR is the DestinationRule of docs/scenarios.md (Circuit
// breaker under load), verbatim.
const circuitBreakerDR = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
    outlierDetection:
      consecutiveErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
`

// loadResult is what a fortio-like run saw.
type loadResult struct {
	codes     map[int]int
	bad503    []string // 503s that are not Envoy's overflow reply
	overflows int
}

// fortio runs `connections` workers that each send `perWorker` requests
// back to back, as fortio load -c N -qps 0 does, and checks every 503.
func fortio(t *testing.T, h *harness, connections, perWorker int) loadResult {
	t.Helper()
	var mu sync.Mutex
	res := loadResult{codes: map[int]int{}}
	var wg sync.WaitGroup
	for w := 0; w < connections; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{Proxy: nil, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for i := 0; i < perWorker; i++ {
				req, _ := http.NewRequest("GET", "http://"+h.p.MeshAddr()+"/get", nil)
				req.Host = "reviews:9080"
				r, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(r.Body)
				r.Body.Close()
				mu.Lock()
				res.codes[r.StatusCode]++
				if r.StatusCode == 503 {
					if string(body) != bodyOverflow || len(body) != 81 ||
						r.Header.Get("X-Envoy-Overloaded") != "true" || r.Header.Get("Content-Type") != "text/plain" {
						res.bad503 = append(res.bad503, fmt.Sprintf("%q %v", body, r.Header))
					} else {
						res.overflows++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return res
}

// docs/scenarios.md (Circuit breaker under load): the circuit breaker under
// fortio load. At 3 connections some requests overflow, each with Envoy's
// exact reply and flag UO, and upstream_rq_pending_overflow counts them;
// the upstream never serves more than maxConnections at once and gets a
// connection per request (maxRequestsPerConnection 1); overflow never
// ejects (consecutiveErrors is ignored since 1.7, so 5 consecutive 5xx
// would). At 1 connection nothing overflows; at 2, 1 active + 1 pending.
func TestCircuitBreakerUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name        string
		connections int
		perWorker   int
		wantMax     float64 // highest share of 503s allowed
		want503     bool
	}{
		{"3 connections: both 200 and 503", 3, 40, 0.9, true},
		{"2 connections: 1 active + 1 pending", 2, 40, 0.05, false},
		{"1 connection: no 503", 1, 40, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newPoolUpstream(t, 3*time.Millisecond)
			h := start(t, experiment(svc("reviews", 9080, up.addr()), circuitBreakerDR))
			res := fortio(t, h, tc.connections, tc.perWorker)
			total := tc.connections * tc.perWorker
			n503 := res.codes[503]
			t.Logf("codes %v, upstream saw %d requests on %d connections, at most %d at once", res.codes, up.hits.Load(), up.conns.Load(), up.maxIn.Load())
			if len(res.bad503) > 0 {
				t.Fatalf("503s that are not overflow replies: %v", res.bad503)
			}
			if res.codes[200]+n503 != total {
				t.Fatalf("codes %v: want only 200 and 503", res.codes)
			}
			if tc.want503 && (n503 == 0 || res.codes[200] == 0) {
				t.Errorf("codes %v: want both 200 and 503", res.codes)
			}
			if float64(n503) > tc.wantMax*float64(total) {
				t.Errorf("%d of %d overflowed, want at most %.0f%%", n503, total, 100*tc.wantMax)
			}
			if got := up.maxIn.Load(); got > 1 {
				t.Errorf("upstream served %d requests at once, want at most maxConnections 1", got)
			}
			if got, want := up.conns.Load(), up.hits.Load(); got != want {
				t.Errorf("%d connections for %d requests, want one per request (maxRequestsPerConnection 1)", got, want)
			}
			st := h.p.Stats()
			cs, _ := st.Cluster("outbound|9080||reviews.default.svc.cluster.local")
			if got := cs.UpstreamRqPendingOverflow; got != int64(n503) {
				t.Errorf("upstream_rq_pending_overflow = %d, want the %d 503s", got, n503)
			}
			if got := st.Overflows; got != int64(n503) {
				t.Errorf("Totals.Overflows = %d, want %d", got, n503)
			}
			if got := st.ByFlag["UO"]; got != int64(n503) {
				t.Errorf("flag UO on %d responses, want %d", got, n503)
			}
			if cs.EjectionsEnforcedTotal != 0 || cs.EjectionsDetected5xx != 0 || st.Ejections != 0 {
				t.Errorf("overflow reached outlier detection: %+v", cs.PolicyStats)
			}
			if got, want := cs.UpstreamCxMaxRequests, up.hits.Load(); got != want {
				t.Errorf("upstream_cx_max_requests = %d, want %d", got, want)
			}
			if n503 > 0 {
				// accessLog closes the proxy, which flushes the log's last batch.
				if log := strings.Join(h.accessLog(), "\n"); !strings.Contains(log, " 503 UO upstream_reset_before_response_started{overflow} ") {
					t.Errorf("no 503 UO line in the access log:\n%s", log)
				}
			}
		})
	}
}

// maxConnections alone queues: no request fails, the upstream sees one at a
// time over one kept-alive connection, and the waits are counted.
func TestMaxConnectionsQueues(t *testing.T) {
	up := newPoolUpstream(t, 5*time.Millisecond)
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}}
`
	h := start(t, experiment(svc("reviews", 9080, up.addr()), dr))
	res := fortio(t, h, 6, 10)
	if res.codes[200] != 60 {
		t.Fatalf("codes %v, want 60 × 200", res.codes)
	}
	if got := up.maxIn.Load(); got != 1 {
		t.Errorf("upstream served %d at once, want 1", got)
	}
	if got := up.conns.Load(); got != 1 {
		t.Errorf("%d upstream connections, want 1 kept alive", got)
	}
	cs, _ := h.p.Stats().Cluster("outbound|9080||reviews.default.svc.cluster.local")
	if cs.UpstreamRqPendingTotal == 0 || cs.UpstreamCxOverflow == 0 || cs.UpstreamRqPendingOverflow != 0 {
		t.Errorf("pending_total %d, cx_overflow %d, pending_overflow %d: want waits and no overflow",
			cs.UpstreamRqPendingTotal, cs.UpstreamCxOverflow, cs.UpstreamRqPendingOverflow)
	}
	if cs.UpstreamRqPendingActive != 0 || cs.CxOpen != 0 {
		t.Errorf("gauges after the run: pending_active %d, cx_open %d", cs.UpstreamRqPendingActive, cs.CxOpen)
	}
}

// http2MaxRequests rejects at once instead of queuing (envoyproxy/envoy#16610).
func TestHTTP2MaxRequestsRejects(t *testing.T) {
	up := newPoolUpstream(t, 0)
	up.hold = make(chan struct{})
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 1}}
`
	h := start(t, experiment(svc("reviews", 9080, up.addr()), dr))
	first := make(chan response, 1)
	go func() { first <- h.get("reviews:9080", "/hold") }()
	wait.For(t, 5*time.Second, "the first request to reach the upstream", func() bool { return up.inFlight.Load() != 0 })
	cs, _ := h.p.Stats().Cluster("outbound|9080||reviews.default.svc.cluster.local")
	if cs.RqOpen != 1 {
		t.Errorf("circuit_breakers.default.rq_open = %d with one request active, want 1", cs.RqOpen)
	}
	began := time.Now()
	r := h.get("reviews:9080", "/get")
	expect(t, r, 503, bodyOverflow)
	if r.header.Get("X-Envoy-Overloaded") != "true" {
		t.Errorf("no x-envoy-overloaded: %v", r.header)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("the overflow took %v: it must not queue", d)
	}
	close(up.hold)
	expect(t, <-first, 200, "ok")
	expect(t, h.get("reviews:9080", "/get"), 200, "ok")
	if got := up.hits.Load(); got != 2 {
		t.Errorf("upstream saw %d requests, want 2", got)
	}
	cs, _ = h.p.Stats().Cluster("outbound|9080||reviews.default.svc.cluster.local")
	if cs.UpstreamRqPendingOverflow != 1 || cs.UpstreamRqPendingTotal != 0 {
		t.Errorf("pending_overflow %d, pending_total %d: want 1 and 0", cs.UpstreamRqPendingOverflow, cs.UpstreamRqPendingTotal)
	}
}

// maxRequestsPerConnection: 1 opens a connection per request; 3 reuses each
// connection three times.
func TestMaxRequestsPerConnection(t *testing.T) {
	for _, tc := range []struct {
		perConn, requests, wantConns int
	}{{1, 6, 6}, {3, 9, 3}, {0, 9, 1}} {
		t.Run(fmt.Sprint(tc.perConn), func(t *testing.T) {
			up := newPoolUpstream(t, 0)
			dr := fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: %d}}
`, tc.perConn)
			h := start(t, experiment(svc("reviews", 9080, up.addr()), dr))
			for i := 0; i < tc.requests; i++ {
				expect(t, h.get("reviews:9080", "/get"), 200, "ok")
			}
			wait.Until(5*time.Second, func() bool { return up.conns.Load() == int64(tc.wantConns) })
			if got := up.conns.Load(); got != int64(tc.wantConns) {
				t.Errorf("%d requests used %d connections, want %d", tc.requests, got, tc.wantConns)
			}
			cs, _ := h.p.Stats().Cluster("outbound|9080||reviews.default.svc.cluster.local")
			if got, want := cs.UpstreamCxTotal, int64(tc.wantConns); got != want {
				t.Errorf("upstream_cx_total = %d, want %d", got, want)
			}
		})
	}
}

// http.idleTimeout closes upstream connections idle for that long; the
// default (1h) keeps them.
func TestUpstreamIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    string
		wantConns int64
	}{
		{"default keeps the connection", "{tcp: {maxConnections: 10}}", 1},
		{"http.idleTimeout closes it", "{http: {idleTimeout: 20ms}}", 2},
		{"tcp.idleTimeout applies without http's", "{tcp: {idleTimeout: 20ms}}", 2},
		{"http.idleTimeout wins over tcp's", "{tcp: {idleTimeout: 20ms}, http: {idleTimeout: 1h}}", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newPoolUpstream(t, 0)
			dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: ` + tc.policy + "\n"
			h := start(t, experiment(svc("reviews", 9080, up.addr()), dr))
			expect(t, h.get("reviews:9080", "/get"), 200, "ok")
			// Idle time is the scenario: five idle timeouts pass (or, for
			// the cases that keep the connection, a window in which it
			// must not close). The pool reads the wall clock itself.
			time.Sleep(100 * time.Millisecond)
			expect(t, h.get("reviews:9080", "/get"), 200, "ok")
			if got := up.conns.Load(); got != tc.wantConns {
				t.Errorf("%d connections, want %d", got, tc.wantConns)
			}
		})
	}
}

// A circuit breaker is per cluster: each subset has its own.
func TestBreakersPerSubset(t *testing.T) {
	a, b := newPoolUpstream(t, 0), newPoolUpstream(t, 0)
	a.hold = make(chan struct{})
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 1}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`
	vs := fmt.Sprintf(reviewsVS, `  - match: [{headers: {x-v: {exact: "2"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`)
	h := start(t, experiment(svc("reviews", 9080, a.addr()+"@version=v1", b.addr()+"@version=v2"), dr, vs))
	first := make(chan response, 1)
	go func() { first <- h.get("reviews:9080", "/hold") }()
	wait.For(t, 5*time.Second, "the first request to reach v1", func() bool { return a.inFlight.Load() != 0 })
	expect(t, h.get("reviews:9080", "/get"), 503, bodyOverflow) // v1 is full
	expect(t, h.get("reviews:9080", "/get", "x-v: 2"), 200, "ok")
	close(a.hold)
	expect(t, <-first, 200, "ok")
}

// The overflow error is typed for the retry loop and for callers.
func TestOverflowError(t *testing.T) {
	var err error = &proxy.OverflowError{Cluster: "c", Limit: "http1MaxPendingRequests"}
	if !errors.Is(err, proxy.ErrCircuitOpen) {
		t.Errorf("%v does not match ErrCircuitOpen", err)
	}
}

// tcp.maxConnectionDuration: a connection older than the limit serves its
// current request and closes; the next request gets a new connection.
func TestMaxConnectionDuration(t *testing.T) {
	up := newPoolUpstream(t, 0)
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnectionDuration: 30ms}}
`
	h := start(t, experiment(svc("reviews", 9080, up.addr()), dr))
	expect(t, h.get("reviews:9080", "/get"), 200, "ok")
	expect(t, h.get("reviews:9080", "/get"), 200, "ok")
	// The connection's age is the scenario: it must pass the 30 ms limit,
	// and the pool reads the wall clock itself.
	time.Sleep(60 * time.Millisecond)
	expect(t, h.get("reviews:9080", "/get"), 200, "ok")
	expect(t, h.get("reviews:9080", "/get"), 200, "ok")
	if got := up.conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (the first one expired)", got)
	}
	if cs, _ := h.p.Stats().Cluster(reviewsCluster); cs.UpstreamCxMaxDurationReached != 1 {
		t.Errorf("upstream_cx_max_duration_reached = %d, want 1", cs.UpstreamCxMaxDurationReached)
	}
}

// http.maxRetries bounds the retries outstanding at once on a cluster: a
// retry over it is not made, the original outcome stands, flagged UO
// (upstream_rq_retry_overflow).
func TestMaxRetriesOverflow(t *testing.T) {
	hold := make(chan struct{})
	var attempts atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		if r.Header.Get("X-Envoy-Attempt-Count") == "1" {
			w.WriteHeader(503)
			return
		}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "retried")
	}))
	t.Cleanup(up.Close)
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {http: {maxRetries: 1}}
`
	vs := fmt.Sprintf(reviewsVS, "  - retries: {attempts: 2, retryOn: 5xx}\n    route: [{destination: {host: reviews}}]\n")
	h := start(t, experiment(svc("reviews", 9080, strings.TrimPrefix(up.URL, "http://")), dr, vs))
	first := make(chan response, 1)
	go func() { first <- h.get("reviews", "/") }()
	wait.For(t, 5*time.Second, "the first request's retry to be in flight", func() bool { return attempts.Load() >= 2 })
	if cs, _ := h.p.Stats().Cluster(reviewsCluster); cs.RqRetryOpen != 1 {
		t.Errorf("circuit_breakers.default.rq_retry_open = %d, want 1", cs.RqRetryOpen)
	}
	r := h.get("reviews", "/")
	if r.code != 503 || r.body != "" {
		t.Errorf("got %d %q, want the upstream's 503 (retry refused)", r.code, r.body)
	}
	close(hold)
	expect(t, <-first, 200, "retried")
	cs, _ := h.p.Stats().Cluster(reviewsCluster)
	if cs.UpstreamRqRetryOverflow != 1 || cs.UpstreamRqRetry != 1 || h.flag("UO") != 1 {
		t.Errorf("retry_overflow %d, retries %d, flags %v", cs.UpstreamRqRetryOverflow, cs.UpstreamRqRetry, h.p.Stats().ByFlag)
	}
	// The reservation ended with the retried attempt: retries are admitted again.
	go func() { first <- h.get("reviews", "/") }()
	expect(t, <-first, 200, "retried")
	if cs, _ := h.p.Stats().Cluster(reviewsCluster); cs.UpstreamRqRetryOverflow != 1 || cs.RqRetryOpen != 0 {
		t.Errorf("retry_overflow %d, rq_retry_open %d after the retries ended", cs.UpstreamRqRetryOverflow, cs.RqRetryOpen)
	}
}
