package proxy_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
)

// canaryCaller binds 127.0.0.2 as the endpoint of a client service
// labelled app: canary: a connection from that address comes from it.
const canaryCaller = `  - host: client
    port: 9
    endpoints:
    - {address: "127.0.0.2:9", labels: {app: canary}}
`

// dialFrom dials addr from the local address ip.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// tcp match sourceLabels: the caller of a TCP connection is its source
// address. A connection from 127.0.0.2, a bound endpoint labelled
// app: canary, takes the sourceLabels route to v2; one from 127.0.0.1
// (where every local process sends from, unlabelled) the next route, v1.
func TestSourceLabelsTCP(t *testing.T) {
	v1, v2 := newTCPEcho(t, "v1"), newTCPEcho(t, "v2")
	src := experiment(svc("db", 5432, v1.addr()+"@version=v1", v2.addr()+"@version=v2")+canaryCaller, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
`, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{sourceLabels: {app: canary}}]
    route: [{destination: {host: db, subset: v2}}]
  - route: [{destination: {host: db, subset: v1}}]
`)
	h := start(t, src, func(o *proxy.Options) {
		o.ServiceListeners = []proxy.ServiceListener{{Host: "db", Port: 5432}}
	})
	addr, ok := h.p.ServiceAddr("db", 5432)
	if !ok {
		t.Fatal("no service listener for db:5432")
	}
	send := func(ip string) string {
		c := dialFrom(t, ip, addr)
		defer c.Close()
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return ""
		}
		_ = c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(c)
		return string(got)
	}
	for i := range 3 {
		if got := send("127.0.0.2"); got != "v2:ping\n" {
			t.Errorf("connection %d from 127.0.0.2 (app: canary): got %q, want v2", i, got)
		}
		if got := send("127.0.0.1"); got != "v1:ping\n" {
			t.Errorf("connection %d from 127.0.0.1 (unlabelled): got %q, want v1", i, got)
		}
	}
}

// tls match sourceLabels, on a TLS port routed by SNI: the same SNI goes
// to v2 from the labelled caller and to v1 from 127.0.0.1; the TLS
// session is the upstream's own (passthrough).
func TestSourceLabelsTLS(t *testing.T) {
	upstream := func(name string) string {
		s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	v1, v2 := upstream("v1"), upstream("v2")
	src := experiment(svc("secure.example.com", 8443, v1+"@version=v1", v2+"@version=v2")+canaryCaller, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  ports: [{number: 8443, name: tls, protocol: TLS}]
  resolution: STATIC
`, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure.example.com
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  tls:
  - match: [{sniHosts: [secure.example.com], sourceLabels: {app: canary}}]
    route: [{destination: {host: secure.example.com, subset: v2}}]
  - match: [{sniHosts: [secure.example.com]}]
    route: [{destination: {host: secure.example.com, subset: v1}}]
`)
	h := start(t, src, func(o *proxy.Options) {
		o.ServiceListeners = []proxy.ServiceListener{{Host: "secure.example.com", Port: 8443}}
	})
	addr, ok := h.p.ServiceAddr("secure.example.com", 8443)
	if !ok {
		t.Fatalf("no service listener for secure.example.com:8443 in %v", h.p.Listeners())
	}
	get := func(ip string) string {
		c := tls.Client(dialFrom(t, ip, addr), &tls.Config{ServerName: "secure.example.com", InsecureSkipVerify: true})
		defer c.Close()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: secure.example.com\r\nConnection: close\r\n\r\n"); err != nil {
			return err.Error()
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	for i := range 3 {
		if got := get("127.0.0.2"); got != "v2" {
			t.Errorf("connection %d from 127.0.0.2 (app: canary): got %q, want v2", i, got)
		}
		if got := get("127.0.0.1"); got != "v1" {
			t.Errorf("connection %d from 127.0.0.1 (unlabelled): got %q, want v1", i, got)
		}
	}
}
