package proxy_test

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// blackholeAddr is a loopback address whose connects hang: a listener with
// an accept backlog of 0 that never accepts, its queue filled by one
// connection, so further SYNs are dropped and connect() times out.
func blackholeAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skipf("getsockname: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // the queue is full: connects now hang
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill the accept queue: no blackhole on this system")
	return ""
}

// tcp.connectTimeout bounds the dial: 503 UF "… reset reason: connection
// timeout", upstream_cx_connect_timeout (a real hanging connect, not a
// dialer hook).
func TestConnectTimeout(t *testing.T) {
	addr := blackholeAddr(t)
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {connectTimeout: 50ms}}
`
	h := start(t, experiment(svc("reviews", 9080, addr), dr))
	began := time.Now()
	r := h.get("reviews:9080", "/")
	took := time.Since(began)
	if r.code != 503 || !strings.HasSuffix(r.body, "reset reason: connection timeout") {
		t.Fatalf("got %d %q, want 503 … reset reason: connection timeout", r.code, r.body)
	}
	// Istio's default policy retries connect failures twice.
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %v, want about 3 × 50ms plus back-off", took)
	}
	cs, _ := h.p.Stats().Cluster("outbound|9080||reviews.default.svc.cluster.local")
	// Each timed-out connect is also a connect failure, as Envoy counts it.
	if cs.UpstreamCxConnectTimeout != 3 || cs.UpstreamCxConnectFail != 3 {
		t.Errorf("connect_timeout %d, connect_fail %d: want 3 and 3 (one per attempt)", cs.UpstreamCxConnectTimeout, cs.UpstreamCxConnectFail)
	}
	if h.flag("UF") != 1 {
		t.Errorf("flags %v, want UF", h.p.Stats().ByFlag)
	}
}

// A dial outlives the request that started it: when the route timeout
// ends the request first (504 UT), the connect still runs to its own
// timeout and is counted then (upstream_cx_connect_timeout), not as the
// request's connect failure.
func TestConnectOutlivesRequest(t *testing.T) {
	addr := blackholeAddr(t)
	dr := `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {connectTimeout: 300ms}}
`
	h := start(t, experiment(svc("reviews", 9080, addr), dr, retryVS("timeout: 50ms")))
	r := h.get("reviews:9080", "/")
	if r.code != 504 {
		t.Fatalf("got %d %q, want 504 (route timeout)", r.code, r.body)
	}
	cs, _ := h.p.Stats().Cluster(reviewsCluster)
	if cs.UpstreamCxConnectTimeout != 0 || cs.UpstreamCxConnectFail != 0 {
		t.Errorf("at the reply: connect_timeout %d, connect_fail %d; want 0 and 0", cs.UpstreamCxConnectTimeout, cs.UpstreamCxConnectFail)
	}
	wait.Until(5*time.Second, func() bool {
		cs, _ = h.p.Stats().Cluster(reviewsCluster)
		return cs.UpstreamCxConnectTimeout != 0
	})
	if cs.UpstreamCxConnectTimeout != 1 || cs.UpstreamCxConnectFail != 0 {
		t.Errorf("after the connect timeout: connect_timeout %d, connect_fail %d; want 1 and 0", cs.UpstreamCxConnectTimeout, cs.UpstreamCxConnectFail)
	}
}
