package proxy_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsEcho is a TLS upstream with a self-signed certificate for its names:
// after the handshake it answers each line with its name, a colon and the
// line.
type tlsEcho struct {
	ln   net.Listener
	name string
	cert *x509.Certificate
	wg   sync.WaitGroup
}

func newTLSEcho(t *testing.T, name string, dnsNames ...string) *tlsEcho {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: dnsNames[0]},
		DNSNames:              dnsNames,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	e := &tlsEcho{ln: ln, name: name, cert: cert}
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
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, e.name+":"+line)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.wg.Wait()
	})
	return e
}

func (e *tlsEcho) addr() string { return e.ln.Addr().String() }

// tlsExchange dials addr (or uses conn when given), handshakes as a client
// that trusts only roots and names serverName, sends msg and returns the
// reply line, or the handshake's error.
func tlsExchange(conn net.Conn, serverName string, roots *x509.CertPool, msg string) (string, error) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(conn, &tls.Config{ServerName: serverName, RootCAs: roots})
	if err := c.Handshake(); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The SNI passthrough task: an HTTPS gateway server in PASSTHROUGH routes
// each connection by the SNI of its ClientHello through the tls routes,
// without terminating it; the client's handshake completes with the
// endpoint's own certificate, verified end to end.
func TestTLSPassthroughGatewayRoutesBySNI(t *testing.T) {
	nginx := newTLSEcho(t, "nginx", "nginx.example.com")
	login := newTLSEcho(t, "login", "login.example.com")
	roots := x509.NewCertPool()
	roots.AddCert(nginx.cert)
	roots.AddCert(login.cert)
	src := experiment(svc("my-nginx", 443, nginx.addr())+svc("login", 8443, login.addr()), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mygateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: PASSTHROUGH}
    hosts: ["*.example.com"]
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni}
spec:
  hosts: ["*.example.com"]
  gateways: [mygateway]
  tls:
  - match: [{port: 443, sniHosts: [nginx.example.com]}]
    route:
    - destination: {host: my-nginx, port: {number: 443}}
  - match: [{sniHosts: ["*.example.com"]}]
    route:
    - destination: {host: login}
`)
	h := start(t, src)
	addr, ok := h.p.GatewayAddr("mygateway", 443)
	if !ok {
		t.Fatal("no listener for mygateway:443")
	}
	for _, tc := range []struct {
		name, sni, want string
	}{
		{"exact SNI wins over the wildcard route listed after it", "nginx.example.com", "nginx:hi\n"},
		{"the wildcard takes the other names", "login.example.com", "login:hi\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tlsExchange(dial(t, addr), tc.sni, roots, "hi\n")
			if err != nil || got != tc.want {
				t.Errorf("SNI %s: got %q, %v; want %q", tc.sni, got, err, tc.want)
			}
		})
	}
	// The wildcard route sends shop.example.com to login, whose
	// certificate does not name it: the client, not the proxy, refuses.
	if _, err := tlsExchange(dial(t, addr), "shop.example.com", roots, "hi\n"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("shop.example.com: %v, want the client to refuse login's certificate", err)
	}
	// No route for a name outside the server hosts: closed (NR).
	if _, err := tlsExchange(dial(t, addr), "nginx.example.org", roots, "hi\n"); err == nil {
		t.Error("nginx.example.org: handshake completed, want the connection closed")
	}
	st := h.p.Stats()
	if ls, _ := st.Listener("mygateway:443"); ls.TCPConnections != 4 || ls.TCPNoRoute != 1 {
		t.Errorf("listener: %d connections, %d no route; want 4, 1", ls.TCPConnections, ls.TCPNoRoute)
	}
	if c, _ := st.Cluster("outbound|8443||login.default.svc.cluster.local"); c.UpstreamCxTotal != 2 {
		t.Errorf("login: upstream_cx_total %d, want 2", c.UpstreamCxTotal)
	}
	lines := h.accessLog()
	if !slicesContainMatch(lines, `^\[\S+\] "- - -" 0 - - - "-" \d+ \d+ \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|443\|\|my-nginx\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ nginx\.example\.com -$`) {
		t.Errorf("no line for nginx.example.com with its SNI in\n%s", strings.Join(lines, "\n"))
	}
	if !slicesContainMatch(lines, `"- - -" 0 NR - - "-" \d+ 0 \d+ - "-" "-" "-" "-" "-" - - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ nginx\.example\.org -$`) {
		t.Errorf("no NR line for nginx.example.org in\n%s", strings.Join(lines, "\n"))
	}
}

// On the mesh, a tunnel to a TLS port of a ServiceEntry is routed by the
// SNI inside it through the mesh's tls routes: the egress-firewall
// example, where wikipedia.org goes to an internal firewall.
func TestTLSMeshTunnelRoutesBySNI(t *testing.T) {
	firewall := newTLSEcho(t, "firewall", "wikipedia.org", "en.wikipedia.org")
	roots := x509.NewCertPool()
	roots.AddCert(firewall.cert)
	// wikipedia.org's own binding is dead: only SNI routing reaches the
	// firewall.
	src := experiment(svc("internal-egress-firewall.ns1.svc.cluster.local", 443, firewall.addr())+svc("wikipedia.org", 443, deadAddr(t)), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia}
spec:
  hosts: [wikipedia.org]
  ports:
  - {number: 443, name: tls, protocol: TLS}
  resolution: NONE
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-routing}
spec:
  hosts: [wikipedia.org, "*.wikipedia.org"]
  tls:
  - match: [{sniHosts: [wikipedia.org, "*.wikipedia.org"]}]
    route:
    - destination: {host: internal-egress-firewall.ns1.svc.cluster.local}
`)
	h := start(t, src)
	for _, host := range []string{"wikipedia.org", "en.wikipedia.org"} {
		c, br := connectTunnel(t, h.p.MeshAddr(), host+":443")
		got, err := tlsExchange(&bufferedConn{Conn: c, r: br}, host, roots, "hi\n")
		if err != nil || got != "firewall:hi\n" {
			t.Errorf("CONNECT %s:443: got %q, %v; want the firewall", host, got, err)
		}
	}
	// An SNI no route names: to the CONNECT's own service as opaque TCP
	// (here a dead address, so UF,URX); for a host the mesh does not
	// know, to BlackHoleCluster (UH).
	for _, target := range []string{"wikipedia.org:443", "unknown.example:443"} {
		c, br := connectTunnel(t, h.p.MeshAddr(), target)
		if _, err := tlsExchange(&bufferedConn{Conn: c, r: br}, "other.org", roots, "hi\n"); err == nil {
			t.Errorf("CONNECT %s with SNI other.org: handshake completed, want the tunnel closed", target)
		}
	}
	st := h.p.Stats()
	if c, _ := st.Cluster("outbound|443||internal-egress-firewall.ns1.svc.cluster.local"); c.UpstreamCxTotal != 2 {
		t.Errorf("firewall: upstream_cx_total %d, want 2", c.UpstreamCxTotal)
	}
	if c, _ := st.Cluster("outbound|443||wikipedia.org"); c.UpstreamCxConnectFail != 1 {
		t.Errorf("wikipedia.org's own cluster: upstream_cx_connect_fail %d, want 1", c.UpstreamCxConnectFail)
	}
	lines := h.accessLog()
	if !slicesContainMatch(lines, `"CONNECT - HTTP/1.1" 200 UF,URX .* outbound\|443\|\|wikipedia\.org - .* other\.org -$`) ||
		!slicesContainMatch(lines, `"CONNECT - HTTP/1.1" 200 UH .* "unknown\.example:443" "-" BlackHoleCluster - .* other\.org -$`) {
		t.Errorf("no UF,URX line to wikipedia.org or UH line to BlackHoleCluster in\n%s", strings.Join(lines, "\n"))
	}
	if !slicesContainMatch(lines, `^\[\S+\] "CONNECT - HTTP/1.1" 200 - via_upstream - "-" \d+ \d+ \d+ - "-" "-" "\S+" "en\.wikipedia\.org:443" "127\.0\.0\.1:\d+" outbound\|443\|\|internal-egress-firewall\.ns1\.svc\.cluster\.local 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ en\.wikipedia\.org -$`) {
		t.Errorf("no CONNECT line naming the firewall and the SNI in\n%s", strings.Join(lines, "\n"))
	}
}

// bufferedConn reads through r, which may hold bytes read past a CONNECT
// answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
