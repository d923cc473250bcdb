package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// mirrorExperiment is docs/scenarios.md (Mirroring to v2): httpbin v1 and
// v2 endpoints, the route to v1 and the given mirror lines (fields of the
// http rule).
func mirrorExperiment(v1, v2 string, lines ...string) string {
	rule := "  - route: [{destination: {host: httpbin, subset: v1}, weight: 100}]\n"
	for _, l := range lines {
		rule += "    " + l + "\n"
	}
	return experiment(svc("httpbin", 8000, v1+"@version=v1", v2+"@version=v2"), `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
`+rule)
}

const (
	v1Cluster = "outbound|8000|v1|httpbin.default.svc.cluster.local"
	v2Cluster = "outbound|8000|v2|httpbin.default.svc.cluster.local"
)

// Every request is copied to v2 (mirror_percent: 100, as the walkthrough
// writes it) with the route's header operations; every answer comes from
// v1; the copy's Host gets -shadow for Istio ≤ 1.27 only.
func TestMirrorAll(t *testing.T) {
	for _, tc := range []struct {
		istio, host string
	}{{"", "httpbin:8000"}, {"1.28", "httpbin:8000"}, {"1.27", "httpbin-shadow:8000"}, {"1.8", "httpbin-shadow:8000"}} {
		t.Run("istio "+tc.istio, func(t *testing.T) {
			v1 := newUpstream(t, "v1")
			v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
			src := mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}", "mirror_percent: 100",
				"headers: {request: {set: {x-route: set}}}")
			if tc.istio != "" {
				src = withIstio(src, tc.istio)
			}
			h := start(t, src)
			const n = 20
			for i := 0; i < n; i++ {
				r := h.get("httpbin:8000", fmt.Sprintf("/get?i=%d", i), "X-Request-Id: req-"+fmt.Sprint(i))
				expect(t, r, 200, "v1")
			}
			wait.For(t, 5*time.Second, "the shadows", func() bool { return v2.n.Load() == n })
			for _, s := range v2.requests() {
				if s.host != tc.host || s.header.Get("X-Route") != "set" || !strings.HasPrefix(s.header.Get("X-Request-Id"), "req-") ||
					s.header.Get("X-Envoy-Attempt-Count") != "1" {
					t.Fatalf("shadow Host %q headers %v", s.host, s.header)
				}
			}
			if got := v1.last(t).Host; got != "httpbin:8000" {
				t.Errorf("primary Host %q", got)
			}
			s := h.p.Stats()
			c1, _ := s.Cluster(v1Cluster)
			wait.For(t, 5*time.Second, "shadow counters", func() bool {
				c2, _ := h.p.Stats().Cluster(v2Cluster)
				return c2.Codes["upstream_rq_200"] == n && c2.UpstreamRqActive == 0
			})
			c2, _ := h.p.Stats().Cluster(v2Cluster)
			if s.Mirrored != n || s.MirrorsDropped != 0 || s.UpstreamRequests != n || c1.UpstreamRqTotal != n || c2.UpstreamRqTotal != n {
				t.Errorf("totals %+v v1 %+v v2 %+v", s.Totals, c1, c2)
			}
			if rs, _ := s.Route("httpbin", 0); rs.Mirrored != n || rs.Matched != n {
				t.Errorf("route %+v", rs)
			}
		})
	}
}

// A slow or failing mirror target never reaches the client nor delays it.
func TestMirrorPrimaryUnaffected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(int, http.ResponseWriter, *http.Request)
	}{
		{"mirror sleeps 2s", func(_ int, _ http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}},
		{"mirror answers 500", func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }},
		{"mirror resets", func(_ int, w http.ResponseWriter, _ *http.Request) {
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v1 := newUpstream(t, "v1")
			v2 := newScripted(t, tc.handle)
			h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}"))
			for i := 0; i < 10; i++ {
				t0 := time.Now()
				r := h.get("httpbin:8000", "/get")
				if el := time.Since(t0); el > 500*time.Millisecond {
					t.Errorf("request %d took %v", i, el)
				}
				expect(t, r, 200, "v1")
				if r.header.Get("X-Upstream") != "v1" {
					t.Errorf("headers %v", r.header)
				}
			}
			wait.For(t, 5*time.Second, "the shadows", func() bool { return v2.n.Load() == 10 })
			if s := h.p.Stats(); s.ByFlag["URX"] != 0 || s.Retries != 0 || s.UpstreamRequests != 10 {
				t.Errorf("totals %+v", s.Totals)
			}
		})
	}
}

// mirrorPercentage 50 mirrors about half (binomial bounds over 1000
// requests); the deprecated integer form works the same.
func TestMirrorPercentage(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		p    float64
	}{
		{"mirrorPercentage 50", "mirrorPercentage: {value: 50}", 0.5},
		{"mirror_percent 30", "mirror_percent: 30", 0.3},
		{"mirrorPercent 0", "mirrorPercent: 0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v1 := newUpstream(t, "v1")
			v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
			h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}", tc.line))
			const n = 1000
			for i := 0; i < n; i++ {
				expect(t, h.get("httpbin:8000", "/get"), 200, "v1")
			}
			mirrored := h.p.Stats().Mirrored
			wait.For(t, 5*time.Second, "the shadows", func() bool { return v2.n.Load() == mirrored })
			if tc.p == 0 {
				if mirrored != 0 {
					t.Errorf("mirrored %d at 0 %%", mirrored)
				}
				return
			}
			within(t, "mirrored", int(mirrored), n, tc.p)
		})
	}
}

// mirrors[] sends one copy per target, each with its own percentage; all
// targets are judged against the request's one draw (Envoy's stable
// random), so a request mirrored at 30 % is also mirrored at 60 %.
func TestMirrors(t *testing.T) {
	v1 := newUpstream(t, "v1")
	a := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	b := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	c := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
	src := experiment(svc("httpbin", 8000, v1.addr())+svc("mirror-a", 80, a.addr())+svc("mirror-b", 80, b.addr())+svc("mirror-c", 80, c.addr()), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin}}]
    mirrors:
    - destination: {host: mirror-a}
    - destination: {host: mirror-b}
      percentage: {value: 30}
    - destination: {host: mirror-c}
      percentage: {value: 60}
`)
	h := start(t, src)
	const n = 500
	for i := 0; i < n; i++ {
		expect(t, h.get("httpbin", fmt.Sprintf("/get?i=%d", i)), 200, "v1")
	}
	s := h.p.Stats()
	wait.For(t, 5*time.Second, "the shadows", func() bool { return a.n.Load()+b.n.Load()+c.n.Load() == s.Mirrored })
	if a.n.Load() != n {
		t.Errorf("mirror-a (100 %%) got %d of %d", a.n.Load(), n)
	}
	within(t, "mirror-b", int(b.n.Load()), n, 0.3)
	within(t, "mirror-c", int(c.n.Load()), n, 0.6)
	inC := map[string]bool{}
	for _, r := range c.requests() {
		inC[r.header.Get("X-Request-Id")] = true
	}
	for _, r := range b.requests() {
		if !inC[r.header.Get("X-Request-Id")] {
			t.Fatalf("request %s mirrored at 30 %% but not at 60 %%", r.header.Get("X-Request-Id"))
		}
	}
	if cs, _ := h.p.Stats().Cluster("outbound|80||mirror-b.default.svc.cluster.local"); cs.UpstreamRqTotal != b.n.Load() {
		t.Errorf("mirror-b cluster %+v", cs)
	}
}

// The fault stage runs first: an aborted request is never mirrored, a
// delayed one is mirrored once its delay is over.
func TestMirrorAfterFaults(t *testing.T) {
	t.Run("abort", func(t *testing.T) {
		v1 := newUpstream(t, "v1")
		v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
		h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}",
			"fault: {abort: {httpStatus: 500, percentage: {value: 100}}}"))
		for i := 0; i < 5; i++ {
			expect(t, h.get("httpbin:8000", "/"), 500, "fault filter abort")
		}
		expect(t, h.get("httpbin:8000", "/"), 500, "fault filter abort")
		// That nothing is mirrored can only be seen over a window: a
		// shadow, were one sent, arrives after the answer.
		time.Sleep(100 * time.Millisecond)
		if v2.n.Load() != 0 || h.p.Stats().Mirrored != 0 {
			t.Errorf("an aborted request was mirrored")
		}
	})
	t.Run("delay", func(t *testing.T) {
		v1 := newUpstream(t, "v1")
		v2 := newScripted(t, func(int, http.ResponseWriter, *http.Request) {})
		h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}",
			"fault: {delay: {fixedDelay: 150ms, percentage: {value: 100}}}"))
		t0 := time.Now()
		expect(t, h.get("httpbin:8000", "/"), 200, "v1")
		wait.For(t, 5*time.Second, "the shadow", func() bool { return v2.n.Load() == 1 })
		if at := v2.requests()[0].at.Sub(t0); at < 150*time.Millisecond {
			t.Errorf("mirrored %v after the request, before its delay ended", at)
		}
	})
}

// The shadow carries the request body and gets the primary's route
// timeout; it is never retried.
func TestMirrorBodyTimeoutNoRetry(t *testing.T) {
	v1 := newUpstream(t, "v1")
	v2 := newScripted(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			hang(r)
			return
		}
		w.WriteHeader(503) // retriable by the route's policy, but shadows are not retried
	})
	h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}", "timeout: 200ms",
		"retries: {attempts: 3, retryOn: 5xx}"))
	body := bytes.Repeat([]byte("payload "), 1000)
	req, _ := http.NewRequest("POST", "http://"+h.p.MeshAddr()+"/post", bytes.NewReader(body))
	req.Host = "httpbin:8000"
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	wait.For(t, 5*time.Second, "the shadow", func() bool { return v2.n.Load() == 1 })
	if got := v2.requests()[0].body; got != string(body) {
		t.Errorf("shadow body of %d bytes, want %d", len(got), len(body))
	}
	t0 := time.Now()
	expect(t, h.get("httpbin:8000", "/slow"), 200, "v1")
	wait.For(t, 5*time.Second, "the shadow's timeout", func() bool {
		c2, _ := h.p.Stats().Cluster(v2Cluster)
		return c2.UpstreamRqTimeout == 1
	})
	if el := time.Since(t0); el > 1500*time.Millisecond {
		t.Errorf("shadow timed out after %v, want about the 200ms route timeout", el)
	}
	c2, _ := h.p.Stats().Cluster(v2Cluster)
	if v2.n.Load() != 2 || c2.UpstreamRqRetry != 0 || c2.Codes["upstream_rq_503"] != 1 || c2.Codes["upstream_rq_504"] != 1 {
		t.Errorf("mirror saw %d, cluster %+v", v2.n.Load(), c2)
	}
}

// A hanging mirror target fills the in-flight limit; further shadows are
// dropped and counted, the primary keeps its latency, goroutines stay
// bounded, and Close releases every shadow.
func TestMirrorDropWhenFull(t *testing.T) {
	v1 := newUpstream(t, "v1")
	var released atomic.Int64
	v2 := newScripted(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hangs until the proxy gives up the shadow
		released.Add(1)
	})
	before := quietGoroutines() // earlier tests' connections wind down
	h := start(t, mirrorExperiment(v1.addr(), v2.addr(), "mirror: {host: httpbin, subset: v2}"),
		func(o *proxy.Options) { o.MaxMirrorsInFlight = 3 })
	const n = 40
	for i := 0; i < n; i++ {
		t0 := time.Now()
		expect(t, h.get("httpbin:8000", "/get"), 200, "v1")
		if el := time.Since(t0); el > 500*time.Millisecond {
			t.Errorf("request %d took %v", i, el)
		}
	}
	wait.For(t, 5*time.Second, "the shadows", func() bool { return v2.n.Load() == 3 })
	s := h.p.Stats()
	if s.Mirrored != 3 || s.MirrorsDropped != n-3 {
		t.Errorf("totals %+v", s.Totals)
	}
	if rs, _ := s.Route("httpbin", 0); rs.Mirrored != 3 || rs.MirrorsDropped != n-3 {
		t.Errorf("route %+v", rs)
	}
	// Three shadows in flight hold a few goroutines each (shadow, client
	// connection, server handler), whatever the number of requests.
	if g := runtime.NumGoroutine(); g > before+40 {
		t.Errorf("%d goroutines with 3 shadows in flight (%d before)", g, before)
	}
	h.p.Close()
	wait.For(t, 5*time.Second, "the shadows' end", func() bool { return released.Load() == 3 })
	if c2, _ := h.p.Stats().Cluster(v2Cluster); c2.UpstreamRqActive != 0 || c2.UpstreamRqCancelled != 3 {
		t.Errorf("v2 cluster after Close %+v", c2)
	}
	h.client.Transport.(*http.Transport).CloseIdleConnections()
	v1.Close()
	v2.Close()
	if after := settleGoroutines(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
