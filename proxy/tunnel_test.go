package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// echoServer is a TCP server that echoes what it reads and closes its
// connection when the client ends its stream.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	once  sync.Once
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(e.close)
	return e
}

// close stops the server and its connections, and waits for their
// goroutines.
func (e *echoServer) close() {
	e.once.Do(func() {
		e.ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
	})
	e.wg.Wait()
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

// connect opens a connection to a proxy listener and sends CONNECT target.
// The connection is closed at cleanup.
func connect(t *testing.T, proxyAddr, target string) (net.Conn, *bufio.Reader, *http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tunnel-test\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	var body []byte
	if res.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(res.Body)
	}
	res.Body.Close()
	return c, br, res, string(body)
}

// roundTrip sends msg through an open tunnel to an echo server, ends the
// client's stream and reads everything back until the tunnel closes.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, msg string) string {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read through the tunnel: %v", err)
	}
	return string(got)
}

// tunnelsDone reports whether no tunnel is open and every request has
// ended, counted and logged, on every listener.
func tunnelsDone(p *proxy.Proxy) bool { return p.Stats().TunnelsActive == 0 && idle(p) }

// CONNECT on the mesh: a service of the table (any name the mesh accepts
// for it) tunnels to its endpoint, a literal address only when the
// allow-list approves it, and a dial failure is a 503 UF. Each tunnel
// passes bytes both ways untouched, ends with a half-close passed on, is
// counted and logs one line.
func TestConnectTunnels(t *testing.T) {
	ratings, other := newEchoServer(t), newEchoServer(t)
	dead := deadAddr(t)
	h := start(t, experiment(svc("ratings", 9080, ratings.addr())))
	cases := []struct {
		name, target string
		code         int
		body         string // a substring of the refusal
		logLine      string // a regexp of its access-log line
	}{
		{"bound service by short name", "ratings:9080", 200, "",
			`"CONNECT - HTTP/1\.1" 200 - via_upstream - "-" 5 5 \d+ - "-" "tunnel-test" "[0-9a-f-]+" "ratings:9080" "` + ratings.addr() + `" outbound\|9080\|\|ratings\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+ `},
		{"bound service by FQDN", "ratings.default.svc.cluster.local:9080", 200, "",
			`"CONNECT - HTTP/1\.1" 200 - via_upstream .* "ratings\.default\.svc\.cluster\.local:9080" "` + ratings.addr() + `" outbound\|9080\|\|ratings`},
		{"literal loopback address", other.addr(), 200, "",
			`"CONNECT - HTTP/1\.1" 200 - via_upstream .* "` + other.addr() + `" "` + other.addr() + `" PassthroughCluster `},
		{"name outside the allow-list", "example.com:443", 403, "CONNECT example.com:443 refused: the target is not on the allow-list",
			`"CONNECT - HTTP/1\.1" 403 - connect_target_not_allowed - "-" 0 \d+ .* "example\.com:443" "-" - `},
		{"service name on a port it does not serve", "ratings:443", 403, "not on the allow-list",
			`"CONNECT - HTTP/1\.1" 403 - connect_target_not_allowed .* "ratings:443" "-" - `},
		{"nobody listening", dead, 503, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure",
			`"CONNECT - HTTP/1\.1" 503 UF upstream_reset_before_response_started\{remote_connection_failure\|delayed_connect_error:_111\} - "delayed_connect_error:_111" .* PassthroughCluster `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, br, res, body := connect(t, h.p.MeshAddr(), tc.target)
			if res.StatusCode != tc.code {
				t.Fatalf("got %d %q, want %d", res.StatusCode, body, tc.code)
			}
			if tc.code != 200 {
				if !strings.Contains(body, tc.body) || res.Header.Get("Content-Type") != "text/plain" {
					t.Errorf("refusal %q (%s), want text/plain containing %q", body, res.Header.Get("Content-Type"), tc.body)
				}
				return
			}
			if got := roundTrip(t, c, br, "hello"); got != "hello" {
				t.Errorf("echoed %q, want %q", got, "hello")
			}
		})
	}
	wait.For(t, 5*time.Second, "the tunnels to close", func() bool { return tunnelsDone(h.p) })
	s := h.p.Stats()
	if s.Tunnels != 3 || s.TunnelsRefused != 3 || s.TunnelBytesUp != 15 || s.TunnelBytesDown != 15 || s.ByFlag["UF"] != 1 {
		t.Errorf("tunnels %d, refused %d, bytes up %d down %d, UF %d; want 3, 3, 15, 15, 1",
			s.Tunnels, s.TunnelsRefused, s.TunnelBytesUp, s.TunnelBytesDown, s.ByFlag["UF"])
	}
	if l, _ := s.Listener("mesh"); l.Requests != 6 || l.Active != 0 || l.Rq2xx != 3 || l.Rq4xx != 2 || l.Rq5xx != 1 {
		t.Errorf("mesh listener %+v", l)
	}
	lines := h.accessLog()
	if len(lines) != len(cases) {
		t.Fatalf("%d access-log lines, want %d:\n%s", len(lines), len(cases), strings.Join(lines, "\n"))
	}
	for _, tc := range cases {
		found := false
		for _, l := range lines {
			found = found || regexpMatch(tc.logLine, l)
		}
		if !found {
			t.Errorf("%s: no access-log line matches %s in\n%s", tc.name, tc.logLine, strings.Join(lines, "\n"))
		}
	}
}

// Options.AllowTarget decides which literal addresses a tunnel may reach;
// services of the table are reachable whatever it says of other targets.
func TestConnectAllowTarget(t *testing.T) {
	ratings, other := newEchoServer(t), newEchoServer(t)
	allowed := ratings.addr() // the service's endpoint, checked when compiling
	h := start(t, experiment(svc("ratings", 9080, ratings.addr())), func(o *proxy.Options) {
		o.AllowTarget = func(hostport string) error {
			if hostport != allowed {
				return fmt.Errorf("%s is not %s", hostport, allowed)
			}
			return nil
		}
	})
	if _, _, res, body := connect(t, h.p.MeshAddr(), other.addr()); res.StatusCode != 403 || !strings.Contains(body, "is not "+allowed) {
		t.Errorf("loopback address the allow-list refuses: %d %q", res.StatusCode, body)
	}
	c, br, res, _ := connect(t, h.p.MeshAddr(), "ratings:9080")
	if res.StatusCode != 200 {
		t.Fatalf("service: %d", res.StatusCode)
	}
	if got := roundTrip(t, c, br, "ping"); got != "ping" {
		t.Errorf("echoed %q", got)
	}
}

// A client's https:// request through the mesh as HTTP_PROXY: TLS passes
// through the tunnel untouched, end to end.
func TestConnectHTTPSThroughMesh(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret "+r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	h := start(t, experiment(svc("ratings", 9080, deadAddr(t))))
	pu, _ := url.Parse("http://" + h.p.MeshAddr())
	tr := backend.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(pu)
	client := &http.Client{Transport: tr}
	for i := 0; i < 3; i++ {
		res, err := client.Get(backend.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "secret /x" || res.TLS == nil {
			t.Fatalf("got %d %q (TLS %v)", res.StatusCode, body, res.TLS != nil)
		}
	}
	s := h.p.Stats()
	if s.Tunnels != 1 || s.TunnelsActive != 1 || s.TunnelBytesUp == 0 || s.TunnelBytesDown == 0 {
		t.Errorf("one kept-alive tunnel expected: %+v", s.Totals)
	}
	if l, _ := s.Listener("mesh"); l.Active != 1 {
		t.Errorf("mesh active %d, want the open tunnel", l.Active)
	}
	tr.CloseIdleConnections()
	wait.For(t, 5*time.Second, "the tunnel to close", func() bool { return tunnelsDone(h.p) })
}

// Service listeners tunnel too, each CONNECT to its own target; gateways
// answer a CONNECT 404 (no route: Envoy's routes match no CONNECT without
// a connect_matcher) and dial nothing; the in-process mesh handler cannot
// tunnel and says so.
func TestConnectOnOtherListeners(t *testing.T) {
	ratings := newEchoServer(t)
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("ratings", 9080, ratings.addr())+svc("reviews", 9080, up.addr()), gatewayDoc), func(o *proxy.Options) {
		o.ServiceListeners = []proxy.ServiceListener{{Host: "reviews", Port: 9080}}
	})
	svcAddr, _ := h.p.ServiceAddr("reviews", 9080)
	c, br, res, _ := connect(t, svcAddr, "ratings:9080")
	if res.StatusCode != 200 {
		t.Fatalf("service listener CONNECT: %d", res.StatusCode)
	}
	if got := roundTrip(t, c, br, "abc"); got != "abc" {
		t.Errorf("echoed %q", got)
	}

	gw, _ := h.p.GatewayAddr("gw", 80)
	if _, _, res, body := connect(t, gw, "reviews:9080"); res.StatusCode != 404 || body != "" || res.Header.Get("Server") != "istio-envoy" {
		t.Errorf("gateway CONNECT: %d %q %v", res.StatusCode, body, res.Header)
	}
	if up.hits.Load() != 0 {
		t.Errorf("the gateway forwarded a CONNECT upstream")
	}

	rec := httptest.NewRecorder()
	h.p.Handler("mesh").ServeHTTP(rec, httptest.NewRequest(http.MethodConnect, "ratings:9080", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("in-process CONNECT: %d %q", rec.Code, rec.Body.String())
	}

	wait.For(t, 5*time.Second, "the tunnel to close", func() bool { return tunnelsDone(h.p) })
	s := h.p.Stats()
	if l, _ := s.Listener("svc:reviews:9080"); l.Requests != 1 || l.Rq2xx != 1 {
		t.Errorf("service listener %+v", l)
	}
	if l, _ := s.Listener("gw:80"); l.Requests != 1 || l.NoRoute != 1 {
		t.Errorf("gateway listener %+v", l)
	}
	if s.Tunnels != 1 || s.TunnelsRefused != 1 {
		t.Errorf("tunnels %d refused %d, want 1 and 1 (the in-process CONNECT; the gateway's 404 is no tunnel)", s.Tunnels, s.TunnelsRefused)
	}
	log := strings.Join(h.accessLog(), "\n")
	for _, want := range []string{
		`"CONNECT - HTTP/1\.1" 200 - via_upstream .* "ratings:9080" "` + ratings.addr() + `" outbound\|9080\|\|ratings`,
		`"CONNECT - HTTP/1\.1" 404 NR route_not_found .* "reviews:9080" "-" - `,
		`"CONNECT - HTTP/1\.1" 501 - connect_not_hijackable `,
	} {
		if !regexpMatch(want, log) {
			t.Errorf("no access-log line matches %s in\n%s", want, log)
		}
	}
}

// A tunnel to a service follows its cluster's balancer and outlier
// detection: an ejected endpoint gets no tunnel.
func TestConnectSkipsEjectedEndpoints(t *testing.T) {
	good, bad := newUpstream(t, "good"), newFailing(t, 500)
	clk := &fakeClock{}
	h := start(t, experiment(svc("reviews", 9080, good.addr(), bad.addr()), outlierDR(`    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
`)), clk.option())
	for i := 0; i < 10; i++ {
		h.get("reviews", "/")
	}
	if cs := clusterStats(t, h); cs.EjectionsActive != 1 {
		t.Fatalf("ejections active %d, want the failing endpoint ejected", cs.EjectionsActive)
	}
	hits := bad.hits.Load()
	for i := 0; i < 6; i++ {
		c, br, res, _ := connect(t, h.p.MeshAddr(), "reviews:9080")
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", res.StatusCode)
		}
		io.WriteString(c, "GET /through HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n")
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(body) != "good" {
			t.Errorf("tunnel %d reached %q, want the healthy endpoint", i, body)
		}
	}
	if got := bad.hits.Load(); got != hits {
		t.Errorf("the ejected endpoint got %d requests through tunnels", got-hits)
	}
}

// Close ends the tunnels still open, promptly, and leaves no goroutine
// behind.
func TestCloseEndsTunnels(t *testing.T) {
	before := quietGoroutines()
	func() {
		echo := newEchoServer(t)
		p, err := proxy.Start(context.Background(), parse(t, experiment(svc("ratings", 9080, echo.addr()))), "127.0.0.1:0", nil,
			proxy.Options{AccessLog: io.Discard, DrainTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var conns []*bufio.Reader
		for i := 0; i < 3; i++ {
			c, br, res, _ := connect(t, p.MeshAddr(), "ratings:9080")
			if res.StatusCode != 200 {
				t.Fatalf("CONNECT: %d", res.StatusCode)
			}
			io.WriteString(c, "x")
			if b, err := br.ReadByte(); err != nil || b != 'x' {
				t.Fatalf("echo: %q %v", b, err)
			}
			conns = append(conns, br)
		}
		if n := p.Stats().TunnelsActive; n != 3 {
			t.Fatalf("tunnels active %d, want 3", n)
		}
		t0 := time.Now()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if el := time.Since(t0); el > time.Second {
			t.Errorf("Close took %v with tunnels open", el)
		}
		for i, br := range conns {
			if _, err := br.ReadByte(); err == nil {
				t.Errorf("tunnel %d still open after Close", i)
			}
		}
		s := p.Stats()
		if s.TunnelsActive != 0 || s.Tunnels != 3 {
			t.Errorf("after Close: %d active of %d", s.TunnelsActive, s.Tunnels)
		}
		if l, _ := s.Listener("mesh"); l.Active != 0 {
			t.Errorf("mesh active %d after Close", l.Active)
		}
		echo.close()
	}()
	if after := settleGoroutines(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
