package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// tcpEcho is a TCP upstream that answers each connection with its name,
// a colon and every byte the client sent, once the client has half-closed
// its side; so a reply proves both directions and the half-close went
// through the proxy.
type tcpEcho struct {
	ln   net.Listener
	name string
	wg   sync.WaitGroup
	// hold, when set, keeps every connection open until it is closed.
	hold chan struct{}
}

func newTCPEcho(t *testing.T, name string) *tcpEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &tcpEcho{ln: ln, name: name}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				in, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte(e.name+":"), in...))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.wg.Wait()
	})
	return e
}

func (e *tcpEcho) addr() string { return e.ln.Addr().String() }

// exchangeTCP connects to addr, sends msg, half-closes and returns what
// came back before the proxy or the upstream closed.
func exchangeTCP(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "" // closed by the proxy before the write
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	return string(got)
}

const tcpEchoGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-echo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
`

// tcpEchoShift is the tcp-echo task's traffic shift: the gateway, the
// two subsets and tcp routes weighted 80/20 between them.
func tcpEchoShift(v1, v2 *tcpEcho) string {
	return experiment(svc("tcp-echo", 9000, v1.addr()+"@version=v1", v2.addr()+"@version=v2"), tcpEchoGateway, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{port: 31400}]
    route:
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}
      weight: 80
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v2}
      weight: 20
`)
}

// The tcp-echo traffic shift through an ingress gateway: a TCP server,
// tcp routes weighted 80/20 between two subsets, each connection drawn
// once, bytes copied both ways with the half-close passed on.
func TestTCPGatewayWeightedRoutes(t *testing.T) {
	v1, v2 := newTCPEcho(t, "v1"), newTCPEcho(t, "v2")
	src := tcpEchoShift(v1, v2)
	h := start(t, src)
	addr, ok := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	if !ok {
		t.Fatal("no listener for tcp-echo-gateway:31400")
	}
	if ls := h.p.Listeners(); ls[1].Protocol != proxy.ProtocolTCP {
		t.Errorf("listener %s: protocol %q, want TCP", ls[1].Name, ls[1].Protocol)
	}
	const n = 200
	counts := map[string]int{}
	for i := range n {
		msg := fmt.Sprintf("hello %d\n", i)
		got := exchangeTCP(t, addr, msg)
		name, echoed, _ := strings.Cut(got, ":")
		if echoed != msg {
			t.Fatalf("connection %d: got %q, want <subset>:%q", i, got, msg)
		}
		counts[name]++
	}
	within(t, "v1 connections", counts["v1"], n, 0.8)
	if counts["v1"]+counts["v2"] != n {
		t.Errorf("counts %v: want only v1 and v2", counts)
	}
	st := h.p.Stats()
	ls, _ := st.Listener("tcp-echo-gateway:31400")
	if ls.TCPConnections != n || ls.TCPNoRoute != 0 {
		t.Errorf("listener: %d connections (%d no route), want %d, 0", ls.TCPConnections, ls.TCPNoRoute, n)
	}
	c1, _ := st.Cluster("outbound|9000|v1|tcp-echo.default.svc.cluster.local")
	c2, _ := st.Cluster("outbound|9000|v2|tcp-echo.default.svc.cluster.local")
	if c1.UpstreamCxTotal != int64(counts["v1"]) || c2.UpstreamCxTotal != int64(counts["v2"]) {
		t.Errorf("upstream_cx_total v1 %d v2 %d, want %v", c1.UpstreamCxTotal, c2.UpstreamCxTotal, counts)
	}
	if sent := c1.UpstreamCxTxBytesTotal + c2.UpstreamCxTxBytesTotal; sent != ls.TCPBytesReceived || sent == 0 {
		t.Errorf("bytes to endpoints %d, from clients %d: want equal and > 0", sent, ls.TCPBytesReceived)
	}
	if back := c1.UpstreamCxRxBytesTotal + c2.UpstreamCxRxBytesTotal; back != ls.TCPBytesSent || back != ls.TCPBytesReceived+3*n {
		t.Errorf("bytes from endpoints %d, to clients %d: want equal, %d", back, ls.TCPBytesSent, ls.TCPBytesReceived+3*n)
	}
	// The same seed draws the same split: a second proxy sees the same
	// counts for the same connection order.
	h2 := start(t, src)
	addr2, _ := h2.p.GatewayAddr("tcp-echo-gateway", 31400)
	again := map[string]int{}
	for i := range n {
		name, _, _ := strings.Cut(exchangeTCP(t, addr2, fmt.Sprintf("hello %d\n", i)), ":")
		again[name]++
	}
	if again["v1"] != counts["v1"] {
		t.Errorf("replay with the same seed: v1 %d, first run %d", again["v1"], counts["v1"])
	}
	lines := h.accessLog()
	if len(lines) != n {
		t.Fatalf("%d access-log lines, want one per connection (%d)", len(lines), n)
	}
	re := `^\[\S+Z\] "- - -" 0 - - - "-" 8 11 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|9000\|v[12]\|tcp-echo\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$`
	if !regexpMatch(re, lines[0]) {
		t.Errorf("access log line\n%s\ndoes not match\n%s", lines[0], re)
	}
}

// tcpGatewaySrc is a TCP gateway whose one route sends to service echo
// with the given DestinationRule traffic policy (YAML under trafficPolicy).
func tcpGatewaySrc(endpoint, policy string) string {
	extra := []string{tcpEchoGateway, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - route:
    - destination: {host: echo, port: {number: 9000}}
`}
	if policy != "" {
		extra = append(extra, "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: echo}\nspec:\n  host: echo\n  trafficPolicy:\n"+policy)
	}
	return experiment(svc("echo", 9000, endpoint), extra...)
}

// connectionPool.tcp.maxConnections is a circuit breaker for TCP: with
// the connections at the limit, Envoy's tcp_proxy closes a new downstream
// connection at once (flag UO, upstream_cx_overflow); a freed slot admits
// the next one.
func TestTCPMaxConnectionsOverflow(t *testing.T) {
	up := newTCPEcho(t, "echo")
	h := start(t, tcpGatewaySrc(up.addr(), "    connectionPool:\n      tcp: {maxConnections: 1}\n"))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	const cluster = "outbound|9000||echo.default.svc.cluster.local"

	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	wait.For(t, 5*time.Second, "the first connection to reach the endpoint", func() bool {
		c, _ := h.p.Stats().Cluster(cluster)
		return c.UpstreamCxActive == 1
	})
	if got := exchangeTCP(t, addr, "over\n"); got != "" {
		t.Errorf("a connection over maxConnections got %q, want it closed", got)
	}
	c, _ := h.p.Stats().Cluster(cluster)
	if c.UpstreamCxOverflow != 1 || c.UpstreamCxTotal != 1 || c.CxOpen != 1 {
		t.Errorf("upstream_cx_overflow %d, upstream_cx_total %d, cx_open %d; want 1, 1, 1", c.UpstreamCxOverflow, c.UpstreamCxTotal, c.CxOpen)
	}
	if n := h.flag("UO"); n != 1 {
		t.Errorf("UO: %d, want 1", n)
	}
	_, _ = io.WriteString(held, "first\n")
	_ = held.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(held); string(got) != "echo:first\n" {
		t.Errorf("held connection got %q", got)
	}
	wait.For(t, 5*time.Second, "the first connection's slot to be freed", func() bool {
		c, _ := h.p.Stats().Cluster(cluster)
		return c.UpstreamCxActive == 0
	})
	if got := exchangeTCP(t, addr, "next\n"); got != "echo:next\n" {
		t.Errorf("after the slot was freed: got %q", got)
	}
	lines := h.accessLog()
	if !slicesContainMatch(lines, `"- - -" 0 UO - - "-" \d+ 0 \d+ - "-" "-" "-" "-" "-" outbound\|9000\|\|echo\.default\.svc\.cluster\.local - `) {
		t.Errorf("no UO line in\n%s", strings.Join(lines, "\n"))
	}
}

// A refused connect closes the downstream connection: flags UF,URX (the
// one connect attempt Istio allows is spent), the transport failure
// reason, upstream_cx_connect_fail and upstream_cx_connect_attempts_exceeded.
func TestTCPConnectFailure(t *testing.T) {
	h := start(t, tcpGatewaySrc(deadAddr(t), ""))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	if got := exchangeTCP(t, addr, "x"); got != "" {
		t.Errorf("got %q, want the connection closed", got)
	}
	c, _ := h.p.Stats().Cluster("outbound|9000||echo.default.svc.cluster.local")
	if c.UpstreamCxConnectFail != 1 || c.UpstreamCxConnectAttemptsExceeded != 1 || c.UpstreamCxTotal != 0 {
		t.Errorf("connect_fail %d, connect_attempts_exceeded %d, cx_total %d; want 1, 1, 0", c.UpstreamCxConnectFail, c.UpstreamCxConnectAttemptsExceeded, c.UpstreamCxTotal)
	}
	lines := h.accessLog()
	re := `^\[\S+\] "- - -" 0 UF,URX - - "delayed_connect_error:_111" \d+ 0 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|9000\|\|echo\.default\.svc\.cluster\.local - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$`
	if len(lines) != 1 || !regexpMatch(re, lines[0]) {
		t.Errorf("access log\n%s\nwant one line matching\n%s", strings.Join(lines, "\n"), re)
	}
}

// A connection no tcp route matches is closed with flag NR and counted
// in the listener's downstream_cx_no_route, as when no filter chain
// matches.
func TestTCPNoRoute(t *testing.T) {
	up := newTCPEcho(t, "echo")
	src := experiment(svc("echo", 9000, up.addr()), tcpEchoGateway, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{port: 31400, destinationSubnets: [10.0.0.0/8]}]
    route:
    - destination: {host: echo, port: {number: 9000}}
`)
	h := start(t, src)
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	if got := exchangeTCP(t, addr, "x"); got != "" {
		t.Errorf("got %q, want the connection closed: 127.0.0.1 is not in 10.0.0.0/8", got)
	}
	ls, _ := h.p.Stats().Listener("tcp-echo-gateway:31400")
	if ls.TCPNoRoute != 1 || h.flag("NR") != 1 {
		t.Errorf("no_route %d, NR %d; want 1, 1", ls.TCPNoRoute, h.flag("NR"))
	}
}

// On the mesh, a tunnel (CONNECT) to a service whose VirtualService has
// tcp routes is routed by them (here to another service, by port); a
// port no route matches goes to the service itself.
func TestTCPMeshTunnelRoutes(t *testing.T) {
	prod, backup := newTCPEcho(t, "prod"), newTCPEcho(t, "backup")
	src := experiment(svc("mongo", 27017, prod.addr())+svc("mongo-backup", 5555, backup.addr()), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mongo}
spec:
  hosts: [mongo.default.svc.cluster.local]
  ports:
  - {number: 27017, name: mongo, protocol: MONGO}
  - {number: 27018, name: mongo-alt, protocol: MONGO}
  resolution: STATIC
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mongo}
spec:
  hosts: [mongo]
  tcp:
  - match: [{port: 27017}]
    route:
    - destination: {host: mongo-backup, port: {number: 5555}}
`)
	h := start(t, src)
	if got := tunnelExchange(t, h.p.MeshAddr(), "mongo:27017", "q\n"); got != "backup:q\n" {
		t.Errorf("CONNECT mongo:27017: got %q, want the tcp route to mongo-backup", got)
	}
	if got := tunnelExchange(t, h.p.MeshAddr(), "mongo:27018", "q\n"); got != "prod:q\n" {
		t.Errorf("CONNECT mongo:27018: got %q, want the service itself (no route for the port)", got)
	}
	st := h.p.Stats()
	if c, _ := st.Cluster("outbound|5555||mongo-backup.default.svc.cluster.local"); c.UpstreamCxTotal != 1 || c.UpstreamCxTxBytesTotal != 2 {
		t.Errorf("mongo-backup: upstream_cx_total %d, tx bytes %d; want 1, 2", c.UpstreamCxTotal, c.UpstreamCxTxBytesTotal)
	}
	if st.Tunnels != 2 {
		t.Errorf("tunnels %d, want 2", st.Tunnels)
	}
}

// tunnelExchange opens a CONNECT tunnel to target through the mesh at
// proxyAddr, sends msg, half-closes, and returns what came back.
func tunnelExchange(t *testing.T, proxyAddr, target, msg string) string {
	t.Helper()
	c, br := connectTunnel(t, proxyAddr, target)
	defer c.Close()
	_, _ = io.WriteString(c, msg)
	_ = c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(br)
	return string(got)
}

// connectTunnel sends CONNECT target to proxyAddr and reads the 200.
func connectTunnel(t *testing.T, proxyAddr, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("CONNECT %s: %q %v", target, status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("CONNECT %s: %v", target, err)
		}
		if line == "\r\n" {
			break
		}
	}
	return c, br
}

// Close ends the TCP listener's connections and their goroutines.
func TestTCPListenerCloseEndsConnections(t *testing.T) {
	up := newTCPEcho(t, "echo")
	before := quietGoroutines()
	h := start(t, tcpGatewaySrc(up.addr(), ""))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	conns := make([]net.Conn, 3)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	wait.For(t, 5*time.Second, "three connections to reach the endpoint", func() bool {
		c, _ := h.p.Stats().Cluster("outbound|9000||echo.default.svc.cluster.local")
		return c.UpstreamCxActive == 3
	})
	if err := h.p.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("connection %d still open after Close", i)
		}
		c.Close()
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the TCP listener still accepts after Close")
	}
	if after := settleGoroutines(before); after > before {
		t.Errorf("goroutines: %d before, %d after Close", before, after)
	}
}

func slicesContainMatch(lines []string, re string) bool {
	for _, l := range lines {
		if regexpMatch(re, l) {
			return true
		}
	}
	return false
}

// A service listener for a port a ServiceEntry declares TCP-like proxies
// connections (the sidecar's outbound listener for the service's
// address): by the service's tcp routes, here weighted to one subset.
func TestTCPServiceListener(t *testing.T) {
	v1, v2 := newTCPEcho(t, "v1"), newTCPEcho(t, "v2")
	src := experiment(svc("redis", 6379, v1.addr()+"@version=v1", v2.addr()+"@version=v2"), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: redis}
spec:
  hosts: [redis.default.svc.cluster.local]
  ports: [{number: 6379, name: redis, protocol: REDIS}]
  resolution: STATIC
`, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: redis}
spec:
  host: redis
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: redis}
spec:
  hosts: [redis]
  tcp:
  - route:
    - {destination: {host: redis, subset: v1}, weight: 0}
    - {destination: {host: redis, subset: v2}, weight: 100}
`)
	h := start(t, src, func(o *proxy.Options) {
		o.ServiceListeners = []proxy.ServiceListener{{Host: "redis", Port: 6379}}
	})
	addr, ok := h.p.ServiceAddr("redis", 6379)
	if !ok {
		t.Fatal("no service listener for redis:6379")
	}
	for _, l := range h.p.Listeners() {
		if l.Kind == proxy.KindService && l.Protocol != proxy.ProtocolTCP {
			t.Errorf("service listener %s: protocol %q, want TCP", l.Name, l.Protocol)
		}
	}
	for i := range 5 {
		if got := exchangeTCP(t, addr, "ping\n"); got != "v2:ping\n" {
			t.Fatalf("connection %d: got %q, want v2 (weight 100)", i, got)
		}
	}
}

// Apply opens the TCP listener of a Gateway new in the document, and
// refuses to turn an open TCP listener into an HTTP one (the old table
// keeps serving).
func TestTCPListenerOpenedByApply(t *testing.T) {
	up := newTCPEcho(t, "echo")
	h := start(t, experiment(svc("echo", 9000, up.addr())))
	if _, ok := h.p.GatewayAddr("tcp-echo-gateway", 31400); ok {
		t.Fatal("a listener for a Gateway the document lacks")
	}
	if err := h.p.Apply(parse(t, tcpGatewaySrc(up.addr(), ""))); err != nil {
		t.Fatalf("apply: %v", err)
	}
	addr, ok := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	if !ok {
		t.Fatal("Apply opened no listener for tcp-echo-gateway:31400")
	}
	if got := exchangeTCP(t, addr, "x\n"); got != "echo:x\n" {
		t.Errorf("through the applied TCP listener: got %q", got)
	}
	asHTTP := strings.Replace(tcpGatewaySrc(up.addr(), ""), "protocol: TCP", "protocol: HTTP", 1)
	if err := h.p.Apply(parse(t, asHTTP)); err == nil || !strings.Contains(err.Error(), "is open for TCP") {
		t.Errorf("apply turning the TCP listener HTTP: %v, want a refusal", err)
	}
	if got := exchangeTCP(t, addr, "y\n"); got != "echo:y\n" {
		t.Errorf("after the refused apply: got %q, want the old table serving", got)
	}
}
