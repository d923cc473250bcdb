package proxy_test

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/faultline/faultline/proxy"
)

// autoSNIDoc routes a.example.com, b.example.com and c.example.com to
// one cluster, secure.example.com at addr, in tls.mode SIMPLE without sni.
func autoSNIDoc(addr, istioVersion string) string {
	src := experiment(svc("secure.example.com", 80, addr), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure.example.com
  trafficPolicy:
    connectionPool: {http: {maxRetries: 0}}
    tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: names}
spec:
  hosts: [a.example.com, b.example.com, c.example.com]
  http:
  - route: [{destination: {host: secure.example.com}}]
    retries: {attempts: 0}
`)
	if istioVersion != "" {
		src = strings.Replace(src, "spec:\n  services:", "spec:\n  istioVersion: \""+istioVersion+"\"\n  services:", 1)
	}
	return src
}

// From Istio 1.21 a SIMPLE DestinationRule without sni gets Envoy's
// auto_sni and auto_san_validation: each request's Host is the SNI of the
// connection that carries it and the name its certificate must carry, and
// connections are not shared across names. Earlier releases send the
// destination host.
func TestOriginationSNIFollowsHost(t *testing.T) {
	ca, _ := proxy.NewCA()
	up := newUnstartedTLSUpstream(t, ca, nil, "a.example.com", "b.example.com", "secure.example.com")
	var conns atomic.Int64
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.StartTLS()
	t.Cleanup(up.Close)
	addr := strings.TrimPrefix(up.URL, "https://")
	files := fstest.MapFS{"etc/certs/ca.pem": {Data: ca.RootPEM()}}
	withFiles := func(o *proxy.Options) { o.Credentials = files }

	h := start(t, autoSNIDoc(addr, ""), withFiles)
	for _, host := range []string{"a.example.com", "b.example.com", "a.example.com", "b.example.com:80"} {
		name, _, _ := strings.Cut(host, ":")
		expect(t, h.get(host, "/"), 200, name+" -")
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d upstream connections, want 2 (one per SNI, each reused)", n)
	}
	// auto_san_validation: the certificate must name the Host.
	r := h.get("c.example.com", "/")
	if r.code != 503 || !strings.Contains(r.body, "CERTIFICATE_VERIFY_FAILED:verify cert failed: verify SAN list") {
		t.Errorf("a Host the certificate lacks: %d %q, want 503 verify SAN list", r.code, r.body)
	}

	old := start(t, autoSNIDoc(addr, "1.20"), withFiles)
	expect(t, old.get("a.example.com", "/"), 200, "secure.example.com -")
	expect(t, old.get("b.example.com", "/"), 200, "secure.example.com -")
}
