package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

func faultVS(fault string, extra ...string) string {
	rest := ""
	for _, e := range extra {
		rest += "    " + e + "\n"
	}
	return fmt.Sprintf(reviewsVS, "  - fault: "+fault+"\n    route: [{destination: {host: reviews}}]\n"+rest)
}

// A 100 % abort answers with the status, Envoy's body, flag FI, and never
// reaches the upstream.
func TestFaultAbortAlways(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{abort: {httpStatus: 555, percentage: {value: 100}}}`)))
	r := h.get("reviews", "/")
	expect(t, r, 555, "fault filter abort")
	if r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("abort headers %v", r.header)
	}
	if up.hits.Load() != 0 {
		t.Error("an aborted request reached the upstream")
	}
	s := h.p.Stats()
	if s.FaultsAborted != 1 || s.ByFlag["FI"] != 1 || s.UpstreamRequests != 0 {
		t.Errorf("stats %+v", s.Totals)
	}
	if rs, _ := s.Route("reviews", 0); rs.Matched != 1 || rs.AbortsInjected != 1 {
		t.Errorf("route stats %+v", rs)
	}
	lines := h.accessLog()
	if !strings.Contains(lines[0], `" 555 FI fault_filter_abort - "-" 0 18 `) {
		t.Errorf("log %q", lines[0])
	}
}

// Percentage absent means 0 %; 50 % aborts about half; gRPC aborts are
// HTTP 200 with grpc-status.
func TestFaultAbortPercentages(t *testing.T) {
	up := newUpstream(t, "reviews")
	t.Run("absent percentage never aborts", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{abort: {httpStatus: 500}, delay: {fixedDelay: 1s}}`)))
		for i := 0; i < 50; i++ {
			expect(t, h.get("reviews", "/"), 200, "reviews")
		}
	})
	t.Run("50 percent", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{abort: {httpStatus: 503, percentage: {value: 50}}}`)))
		const n = 2000
		aborted := 0
		for i := 0; i < n; i++ {
			if h.get("reviews", "/").code == 503 {
				aborted++
			}
		}
		within(t, "aborts", aborted, n, 0.5)
		if got := h.p.Stats().FaultsAborted; got != int64(aborted) {
			t.Errorf("faultsAborted %d, observed %d", got, aborted)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}`)))
		r := h.get("reviews", "/pkg.Svc/Call", "Content-Type: application/grpc")
		if r.code != 200 || r.header.Get("Grpc-Status") != "14" || r.header.Get("Grpc-Message") != "fault filter abort" {
			t.Errorf("grpc abort: %d %v", r.code, r.header)
		}
	})
}

// A delay holds the request at least that long, sets DI, then forwards.
func TestFaultDelay(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{delay: {fixedDelay: 60ms, percent: 100}}`)))
	t0 := time.Now()
	r := h.get("reviews", "/")
	if el := time.Since(t0); el < 60*time.Millisecond {
		t.Errorf("answered after %v, want >= 60ms", el)
	}
	expect(t, r, 200, "reviews")
	// The injected delay is not upstream service time.
	if st, err := strconv.Atoi(r.header.Get("X-Envoy-Upstream-Service-Time")); err != nil || st >= 60 {
		t.Errorf("x-envoy-upstream-service-time %q includes the delay", r.header.Get("X-Envoy-Upstream-Service-Time"))
	}
	if s := h.p.Stats(); s.FaultsDelayed != 1 || s.ByFlag["DI"] != 1 {
		t.Errorf("stats %+v", s.Totals)
	}
	if l := h.accessLog(); !strings.Contains(l[0], `" 200 DI via_upstream `) {
		t.Errorf("log %q", l[0])
	}
}

// Delay and abort draws are independent: about a quarter of requests in
// each quadrant.
func TestFaultDelayAbortIndependent(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()),
		faultVS(`{delay: {fixedDelay: 1ms, percentage: {value: 50}}, abort: {httpStatus: 500, percentage: {value: 50}}}`)))
	const n, workers = 2000, 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				req, _ := http.NewRequest("GET", "http://"+h.p.MeshAddr()+"/", nil)
				req.Host = "reviews"
				res, err := h.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	quad := map[string]int{}
	for _, l := range h.accessLog() {
		switch {
		case strings.Contains(l, " DI,FI "):
			quad["DI,FI"]++
		case strings.Contains(l, " DI "):
			quad["DI"]++
		case strings.Contains(l, " FI "):
			quad["FI"]++
		case strings.Contains(l, " - via_upstream "):
			quad["-"]++
		}
	}
	for _, q := range []string{"DI,FI", "DI", "FI", "-"} {
		within(t, "quadrant "+q, quad[q], n, 0.25)
	}
}

// The same seed and request order draw the same fault decisions; another
// seed draws others.
func TestSameSeedSameDecisions(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), faultVS(`{abort: {httpStatus: 500, percentage: {value: 50}}}`))
	run := func(seed int64) string {
		h := start(t, src, func(o *proxy.Options) { o.Seed = seed })
		var b strings.Builder
		for i := 0; i < 200; i++ {
			if h.get("reviews", "/").code == 500 {
				b.WriteByte('A')
			} else {
				b.WriteByte('.')
			}
		}
		h.p.Close()
		return b.String()
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Errorf("same seed, different decisions:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same decisions")
	}
}

// A delay gives up at once when the client goes away.
func TestFaultDelayHonoursCancel(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{delay: {fixedDelay: 10s, percent: 100}}`)))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.p.MeshAddr()+"/", nil)
	req.Host = "reviews"
	if _, err := h.client.Do(req); err == nil {
		t.Fatal("want a client timeout")
	}
	wait.For(t, 2*time.Second, "the delayed request to leave the proxy", func() bool {
		l, _ := h.p.Stats().Listener("mesh")
		return l.Active == 0
	})
	if up.hits.Load() != 0 {
		t.Error("a cancelled request reached the upstream")
	}
	if h.flag("DC") != 1 {
		t.Errorf("DC = %d", h.flag("DC"))
	}
}

// The route timeout answers 504 UT; the fault delay does not count
// against it; upstream learns the budget.
func TestRouteTimeout(t *testing.T) {
	up := newUpstream(t, "reviews")
	vs := fmt.Sprintf(reviewsVS, `  - match: [{uri: {prefix: /slow-fault}}]
    timeout: 100ms
    fault: {delay: {fixedDelay: 150ms, percentage: {value: 100}}}
    route: [{destination: {host: reviews}}]
  - timeout: 100ms
    route: [{destination: {host: reviews}}]
`)
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	t0 := time.Now()
	r := h.get("reviews", "/delay/1000")
	el := time.Since(t0)
	expect(t, r, 504, "upstream request timeout")
	if el < 100*time.Millisecond || el > 900*time.Millisecond {
		t.Errorf("504 after %v", el)
	}
	if r.header.Get("X-Envoy-Upstream-Service-Time") != "" || r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("timeout headers %v", r.header)
	}
	expect(t, h.get("reviews", "/fast"), 200, "reviews")
	if got := up.last(t).Header.Get("X-Envoy-Expected-Rq-Timeout-Ms"); got != "100" {
		t.Errorf("x-envoy-expected-rq-timeout-ms %q", got)
	}
	t0 = time.Now()
	expect(t, h.get("reviews", "/slow-fault"), 200, "reviews")
	if el := time.Since(t0); el < 150*time.Millisecond {
		t.Errorf("delayed request answered after %v", el)
	}
	s := h.p.Stats()
	if s.Timeouts != 1 || s.ByFlag["UT"] != 1 {
		t.Errorf("stats %+v", s.Totals)
	}
	c, _ := s.Cluster("outbound|9080||reviews.default.svc.cluster.local")
	if c.UpstreamRqTimeout != 1 || c.Codes["upstream_rq_504"] != 1 {
		t.Errorf("cluster %+v", c)
	}
	if rs, _ := s.Route("reviews", 1); rs.Timeouts != 1 {
		t.Errorf("route %+v", rs)
	}
}

// A refused connection is Envoy's 503 UF with its exact body. Istio's
// default retry policy retries connect failures twice, so the reply says
// "retried and the latest reset reason" and carries URX; with retries off
// it is the plain reset body.
func TestConnectFailure(t *testing.T) {
	dead := deadAddr(t)
	t.Run("default retry policy", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, dead)))
		r := h.get("reviews", "/")
		expect(t, r, 503, "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111")
		if r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
			t.Error("local reply carries x-envoy-upstream-service-time")
		}
		s := h.p.Stats()
		c, _ := s.Cluster("outbound|9080||reviews.default.svc.cluster.local")
		if c.UpstreamCxConnectFail != 3 || c.UpstreamRqRetry != 2 || c.UpstreamRqRetryLimitExceeded != 1 || c.Codes["upstream_rq_503"] != 1 ||
			s.ByFlag["UF"] != 1 || s.ByFlag["URX"] != 1 || s.Retries != 2 {
			t.Errorf("cluster %+v flags %v", c, s.ByFlag)
		}
		l := h.accessLog()[0]
		want := `" 503 UF,URX upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_111} - "delayed_connect_error:_111" `
		if !strings.Contains(l, want) || !strings.Contains(l, `"`+dead+`" outbound|9080||reviews.default.svc.cluster.local`) {
			t.Errorf("log %q", l)
		}
	})
	t.Run("attempts 0", func(t *testing.T) {
		h := start(t, experiment(svc("reviews", 9080, dead), fmt.Sprintf(reviewsVS, "  - retries: {attempts: 0}\n    route: [{destination: {host: reviews}}]\n")))
		r := h.get("reviews", "/")
		expect(t, r, 503, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: 111")
		s := h.p.Stats()
		c, _ := s.Cluster("outbound|9080||reviews.default.svc.cluster.local")
		if c.UpstreamCxConnectFail != 1 || c.UpstreamRqRetry != 0 || s.ByFlag["UF"] != 1 || s.ByFlag["URX"] != 0 {
			t.Errorf("cluster %+v flags %v", c, s.ByFlag)
		}
		l := h.accessLog()[0]
		want := `" 503 UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_111} - "delayed_connect_error:_111" `
		if !strings.Contains(l, want) {
			t.Errorf("log %q", l)
		}
	})
}
