package proxy_test

import (
	"strings"
	"testing"
	"time"
)

// tcp.connectTimeout bounds a TCP connection's dial too: the downstream
// connection is closed when it expires, with UF,URX and
// upstream_cx_connect_timeout (a real hanging connect).
func TestTCPConnectTimeout(t *testing.T) {
	h := start(t, tcpGatewaySrc(blackholeAddr(t), "    connectionPool: {tcp: {connectTimeout: 50ms}}\n"))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	began := time.Now()
	if got := exchangeTCP(t, addr, "x"); got != "" {
		t.Errorf("got %q, want the connection closed", got)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("closed after %v: the 50ms connect timeout did not bound the dial", d)
	}
	c, _ := h.p.Stats().Cluster("outbound|9000||echo.default.svc.cluster.local")
	if c.UpstreamCxConnectTimeout != 1 || c.UpstreamCxConnectFail != 1 {
		t.Errorf("upstream_cx_connect_timeout %d, upstream_cx_connect_fail %d; want 1, 1", c.UpstreamCxConnectTimeout, c.UpstreamCxConnectFail)
	}
	lines := h.accessLog()
	if len(lines) != 1 || !strings.Contains(lines[0], `"- - -" 0 UF,URX - - "-" `) {
		t.Errorf("access log %q: want one UF,URX line without a transport failure reason", lines)
	}
}
