package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/faultline/faultline/proxy"
)

// httpsClient sends every request to addr over TLS, trusting roots, with
// the URL's host as SNI, presenting cert when given.
func httpsClient(t *testing.T, addr string, roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func caPool(ca *proxy.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(ca.RootPEM())
	return p
}

// getBody GETs url with headers ("Name: value") and returns status, body
// and the server certificate's names, or the error.
func getBody(c *http.Client, url string, headers ...string) (int, string, []string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", nil, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var names []string
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		names = res.TLS.PeerCertificates[0].DNSNames
	}
	return res.StatusCode, string(b), names, nil
}

const tlsBookinfoVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo}
spec:
  hosts: [bookinfo.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /reviews}, headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews-v2}}]
  - match: [{uri: {prefix: /reviews}}]
    route: [{destination: {host: reviews}}]
`

const tlsGatewayVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: httpbin}}]
`

// A SIMPLE gateway terminates TLS with a certificate of the run's CA for
// the server the SNI names, then routes the decrypted requests by path
// and header as an HTTP server port does, telling the upstream
// x-forwarded-proto https.
func TestGatewaySimpleTLSTerminatesAndRoutes(t *testing.T) {
	reviews, reviews2, httpbin := newUpstream(t, "reviews"), newUpstream(t, "reviews-v2"), newUpstream(t, "httpbin")
	ca, err := proxy.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	src := experiment(svc("reviews", 80, reviews.addr())+svc("reviews-v2", 80, reviews2.addr())+svc("httpbin", 80, httpbin.addr()), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https-bookinfo, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: bookinfo-credential}
    hosts: [bookinfo.example.com]
  - port: {number: 443, name: https-httpbin, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: httpbin-credential}
    hosts: [httpbin.example.com]
`, tlsBookinfoVS, tlsGatewayVS)
	h := start(t, src, func(o *proxy.Options) { o.CA = ca })
	addr, ok := h.p.GatewayAddr("gw", 443)
	if !ok {
		t.Fatal("no listener gw:443")
	}
	if ls := h.p.Listeners(); ls[1].Protocol != proxy.ProtocolHTTPS {
		t.Errorf("listener %s protocol %s, want HTTPS", ls[1].Name, ls[1].Protocol)
	}
	c := httpsClient(t, addr, caPool(ca), nil)
	for _, tc := range []struct {
		name, url, header, want, cert string
	}{
		{"path and header pick reviews-v2", "https://bookinfo.example.com/reviews/1", "end-user: jason", "reviews-v2", "bookinfo.example.com"},
		{"path alone picks reviews", "https://bookinfo.example.com/reviews/1", "end-user: mike", "reviews", "bookinfo.example.com"},
		{"the SNI picks the other server and its certificate", "https://httpbin.example.com/get", "x: y", "httpbin", "httpbin.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, names, err := getBody(c, tc.url, tc.header)
			if err != nil || code != 200 || body != tc.want {
				t.Fatalf("got %d %q, %v; want 200 %q", code, body, err, tc.want)
			}
			if len(names) == 0 || names[0] != tc.cert {
				t.Errorf("certificate names %v, want %s", names, tc.cert)
			}
		})
	}
	if got := reviews.last(t).Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("x-forwarded-proto %q, want https", got)
	}
	// An SNI no server names: no filter chain, the handshake is refused.
	if _, _, _, err := getBody(c, "https://other.example.com/"); err == nil {
		t.Error("other.example.com: got an answer, want the handshake refused")
	}
	// A client that does not trust the run's CA refuses the gateway.
	if _, _, _, err := getBody(httpsClient(t, addr, x509.NewCertPool(), nil), "https://httpbin.example.com/"); err == nil || !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("untrusted client: %v, want a certificate verification error", err)
	}
	// The access log names the SNI (%REQUESTED_SERVER_NAME%).
	if lines := h.accessLog(); !slicesContainMatch(lines, `"httpbin\.example\.com" "127\.0\.0\.1:\d+" outbound\|80\|\|httpbin\.default\.svc\.cluster\.local .* httpbin\.example\.com [^ ]+$`) {
		t.Errorf("no access-log line with the SNI in\n%s", strings.Join(lines, "\n"))
	}
}

// MUTUAL asks for a client certificate and verifies it against the
// server's CA bundle (here the run's CA): a client without one is
// refused at the handshake, one with a certificate of the CA is served;
// subjectAltNames narrows the certificates accepted.
func TestGatewayMutualTLSRequiresClientCertificate(t *testing.T) {
	httpbin := newUpstream(t, "httpbin")
	ca, err := proxy.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	src := experiment(svc("httpbin", 80, httpbin.addr()), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: httpbin-credential, subjectAltNames: [client.example.com]}
    hosts: [httpbin.example.com]
`, tlsGatewayVS)
	h := start(t, src, func(o *proxy.Options) { o.CA = ca })
	addr, _ := h.p.GatewayAddr("gw", 443)
	if ok, issued, mutual := h.p.Table().TerminatesTLS("gw", 443); !ok || !issued || !mutual {
		t.Errorf("TerminatesTLS = %v, %v, %v; want true, true, true", ok, issued, mutual)
	}
	roots := caPool(ca)
	if code, _, _, err := getBody(httpsClient(t, addr, roots, nil), "https://httpbin.example.com/get"); err == nil {
		t.Errorf("no client certificate: got %d, want the handshake refused", code)
	}
	other, err := ca.Issue([]string{"someone.example.com"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _, err := getBody(httpsClient(t, addr, roots, &other), "https://httpbin.example.com/get"); err == nil {
		t.Errorf("certificate outside subjectAltNames: got %d, want the handshake refused", code)
	}
	stranger, _ := proxy.NewCA()
	foreign, _ := stranger.Issue([]string{"client.example.com"}, true)
	if code, _, _, err := getBody(httpsClient(t, addr, roots, &foreign), "https://httpbin.example.com/get"); err == nil {
		t.Errorf("certificate of another CA: got %d, want the handshake refused", code)
	}
	cert, err := ca.Issue([]string{"client.example.com"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _, err := getBody(httpsClient(t, addr, roots, &cert), "https://httpbin.example.com/get"); err != nil || code != 200 || body != "httpbin" {
		t.Errorf("with a certificate of the CA: %d %q, %v; want 200 httpbin", code, body, err)
	}
}

// With a credentials directory, credentialName names its certificate,
// key and CA bundle (<name>/tls.crt, tls.key, ca.crt) and file paths are
// read inside it; a name with no files is a compile error at its field.
func TestGatewayTLSCredentialsDirectory(t *testing.T) {
	httpbin := newUpstream(t, "httpbin")
	ca, _ := proxy.NewCA()
	certPEM, keyPEM, err := ca.IssuePEM([]string{"httpbin.example.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"httpbin-credential/tls.crt":      {Data: certPEM},
		"httpbin-credential/tls.key":      {Data: keyPEM},
		"httpbin-credential/ca.crt":       {Data: ca.RootPEM()},
		"etc/istio/gateway-certs/tls.crt": {Data: certPEM},
		"etc/istio/gateway-certs/tls.key": {Data: keyPEM},
	}
	gw := func(tlsBlock string) string {
		return experiment(svc("httpbin", 80, httpbin.addr()), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: `+tlsBlock+`
    hosts: [httpbin.example.com]
`, tlsGatewayVS)
	}
	client, _ := ca.Issue([]string{"client"}, true)
	for _, tc := range []struct {
		name, tls string
		cert      *tls.Certificate
	}{
		{"credentialName", "{mode: SIMPLE, credentialName: httpbin-credential}", nil},
		{"kubernetes:// prefix", "{mode: SIMPLE, credentialName: kubernetes://httpbin-credential}", nil},
		{"file paths under the directory", "{mode: SIMPLE, serverCertificate: /etc/istio/gateway-certs/tls.crt, privateKey: /etc/istio/gateway-certs/tls.key}", nil},
		{"mutual with the secret's ca.crt", "{mode: MUTUAL, credentialName: httpbin-credential}", &client},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, gw(tc.tls), func(o *proxy.Options) { o.Credentials = files })
			addr, _ := h.p.GatewayAddr("gw", 443)
			if ok, issued, _ := h.p.Table().TerminatesTLS("gw", 443); !ok || issued {
				t.Errorf("TerminatesTLS ok %v issued %v, want true, false", ok, issued)
			}
			code, body, _, err := getBody(httpsClient(t, addr, caPool(ca), tc.cert), "https://httpbin.example.com/get")
			if err != nil || code != 200 || body != "httpbin" {
				t.Errorf("got %d %q, %v; want 200 httpbin", code, body, err)
			}
		})
	}
	_, err = proxy.Compile(parse(t, gw("{mode: SIMPLE, credentialName: missing}")), proxy.Options{Credentials: files}, nil)
	if err == nil || !strings.Contains(err.Error(), "spec.servers[0].tls.credentialName") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing credential: %v, want an error at spec.servers[0].tls.credentialName", err)
	}
}

// OPTIONAL_MUTUAL verifies a client certificate when one is presented
// and serves clients without one; ISTIO_MUTUAL, the mesh's mTLS, refuses
// plain HTTP and serves a client certificate of the run's CA
// (tls_mesh_test.go has the mesh's side).
func TestGatewayOptionalMutualAndMeshMutual(t *testing.T) {
	httpbin := newUpstream(t, "httpbin")
	ca, _ := proxy.NewCA()
	src := experiment(svc("httpbin", 80, httpbin.addr()), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: OPTIONAL_MUTUAL, credentialName: httpbin-credential}
    hosts: [httpbin.example.com]
  - port: {number: 8443, name: mesh, protocol: HTTPS}
    tls: {mode: ISTIO_MUTUAL}
    hosts: [httpbin.example.com]
`, tlsGatewayVS)
	h := start(t, src, func(o *proxy.Options) { o.CA = ca })
	addr, _ := h.p.GatewayAddr("gw", 443)
	roots := caPool(ca)
	if code, body, _, err := getBody(httpsClient(t, addr, roots, nil), "https://httpbin.example.com/get"); err != nil || code != 200 || body != "httpbin" {
		t.Errorf("no client certificate: %d %q, %v; want 200 httpbin", code, body, err)
	}
	stranger, _ := proxy.NewCA()
	foreign, _ := stranger.Issue([]string{"client"}, true)
	if code, _, _, err := getBody(httpsClient(t, addr, roots, &foreign), "https://httpbin.example.com/get"); err == nil {
		t.Errorf("certificate of another CA: got %d, want the handshake refused", code)
	}
	mesh, _ := h.p.GatewayAddr("gw", 8443)
	if r := h.do(mesh, http.MethodGet, "httpbin.example.com", "/get"); r.code == 200 {
		t.Errorf("plain HTTP to ISTIO_MUTUAL: %d %q, want it refused", r.code, r.body)
	}
	own, _ := ca.Issue([]string{"faultline-load"}, true)
	if code, body, _, err := getBody(httpsClient(t, mesh, roots, &own), "https://httpbin.example.com/get"); err != nil || code != 200 || body != "httpbin" {
		t.Errorf("ISTIO_MUTUAL with the run's client certificate: %d %q, %v; want 200 httpbin", code, body, err)
	}
}
