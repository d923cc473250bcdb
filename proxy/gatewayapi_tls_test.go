package proxy_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/faultline/faultline/proxy"
)

// The HTTPS ingress (the secure-gateway task) written with Istio's API
// and with the Gateway API: two HTTPS servers on port 443, each with its
// own certificate, routing the decrypted requests by host and path.
const httpsTwinIstio = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https-httpbin, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: httpbin-credential}
    hosts: [httpbin.example.com]
  - port: {number: 443, name: https-bookinfo, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: bookinfo-credential}
    hosts: [bookinfo.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /status}}, {uri: {prefix: /delay}}]
    route: [{destination: {host: httpbin, port: {number: 8000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo}
spec:
  hosts: [bookinfo.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {exact: /productpage}}]
    headers: {response: {set: {x-resp: bookinfo}}}
    route: [{destination: {host: productpage, port: {number: 9080}}}]
`

const httpsTwinGatewayAPI = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
  - name: https-httpbin
    port: 443
    protocol: HTTPS
    hostname: httpbin.example.com
    tls: {mode: Terminate, certificateRefs: [{kind: Secret, name: httpbin-credential}]}
  - name: https-bookinfo
    port: 443
    protocol: HTTPS
    hostname: bookinfo.example.com
    tls: {certificateRefs: [{name: bookinfo-credential}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httpbin}
spec:
  parentRefs: [{name: gw}]
  hostnames: [httpbin.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /status}}, {path: {type: PathPrefix, value: /delay}}]
    backendRefs: [{name: httpbin, port: 8000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bookinfo}
spec:
  parentRefs: [{name: gw, sectionName: https-bookinfo}]
  hostnames: ["*.example.com"]
  rules:
  - matches: [{path: {type: Exact, value: /productpage}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-resp, value: bookinfo}]}
    backendRefs: [{name: productpage, port: 9080}]
`

// tlsTwinAnswer is what one HTTPS request got through one form.
type tlsTwinAnswer struct {
	code   int
	body   string
	cert   string // the first DNS name of the server's certificate
	failed bool   // the handshake or the request failed
	header http.Header
}

// The Gateway API form of an HTTPS ingress behaves as its Istio form
// through a real TLS handshake: each SNI gets its listener's certificate
// (from a credentials directory, and from the run's CA without one), the
// decrypted requests are routed alike (codes, bodies, headers), an SNI no
// listener names is refused by both, and every backend sees the same
// number of requests.
func TestGatewayAPITwinHTTPS(t *testing.T) {
	ca, err := proxy.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	for _, host := range []string{"httpbin", "bookinfo"} {
		certPEM, keyPEM, err := ca.IssuePEM([]string{host + ".example.com"}, false)
		if err != nil {
			t.Fatal(err)
		}
		files[host+"-credential/tls.crt"] = &fstest.MapFile{Data: certPEM}
		files[host+"-credential/tls.key"] = &fstest.MapFile{Data: keyPEM}
	}
	type req struct{ url, want string }
	reqs := []req{
		{"https://httpbin.example.com/status/200", "200 "},
		{"https://httpbin.example.com/status/418", "418 "},
		{"https://httpbin.example.com/delay/1", "200 httpbin"},
		{"https://httpbin.example.com/headers", "404 "},
		{"https://bookinfo.example.com/productpage", "200 productpage"},
		{"https://bookinfo.example.com/productpage/x", "404 "},
		{"https://other.example.com/status/200", "refused"},
	}
	run := func(t *testing.T, src string, opt func(*proxy.Options)) ([]tlsTwinAnswer, map[string]int) {
		httpbin, productpage := newUpstream(t, "httpbin"), newUpstream(t, "productpage")
		h := start(t, experiment(svc("httpbin", 8000, httpbin.addr())+svc("productpage", 9080, productpage.addr()), src), opt)
		addr, ok := h.p.GatewayAddr("gw", 443)
		if !ok {
			t.Fatalf("no listener gw:443 in %v", h.p.Listeners())
		}
		if ok, _, _ := h.p.Table().TerminatesTLS("gw", 443); !ok {
			t.Errorf("gw:443 does not terminate TLS")
		}
		c := httpsClient(t, addr, caPool(ca), nil)
		var out []tlsTwinAnswer
		for _, r := range reqs {
			res, err := c.Get(r.url)
			if err != nil {
				out = append(out, tlsTwinAnswer{failed: true})
				continue
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			a := tlsTwinAnswer{code: res.StatusCode, body: string(b), header: res.Header}
			if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 && len(res.TLS.PeerCertificates[0].DNSNames) > 0 {
				a.cert = res.TLS.PeerCertificates[0].DNSNames[0]
			}
			out = append(out, a)
		}
		return out, map[string]int{"httpbin": int(httpbin.hits.Load()), "productpage": int(productpage.hits.Load())}
	}
	for _, tc := range []struct {
		name string
		opt  func(*proxy.Options)
	}{
		{"credentials directory", func(o *proxy.Options) { o.Credentials = files }},
		{"run's CA", func(o *proxy.Options) { o.CA = ca }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			istio, istioHits := run(t, httpsTwinIstio, tc.opt)
			api, apiHits := run(t, httpsTwinGatewayAPI, tc.opt)
			for i, r := range reqs {
				a, b := istio[i], api[i]
				got := "refused"
				if !a.failed {
					got = strconv.Itoa(a.code) + " " + a.body
				}
				if got != r.want {
					t.Errorf("%s: Istio form %q, want %q", r.url, got, r.want)
				}
				if a.failed != b.failed || a.code != b.code || a.body != b.body || a.cert != b.cert {
					t.Errorf("%s: Istio form %d %q (certificate %s, failed %v), Gateway API form %d %q (certificate %s, failed %v)",
						r.url, a.code, a.body, a.cert, a.failed, b.code, b.body, b.cert, b.failed)
				}
				if host := strings.SplitN(r.url, "/", 4)[2]; !a.failed && a.cert != host {
					t.Errorf("%s: the certificate names %q, want %s", r.url, a.cert, host)
				}
				for _, k := range twinHeaders {
					if a.header.Get(k) != b.header.Get(k) {
						t.Errorf("%s: header %s: Istio form %q, Gateway API form %q", r.url, k, a.header.Get(k), b.header.Get(k))
					}
				}
			}
			if got := api[4].header.Get("X-Resp"); got != "bookinfo" {
				t.Errorf("productpage: x-resp %q, want bookinfo", got)
			}
			for name, n := range istioHits {
				if apiHits[name] != n {
					t.Errorf("%s: Istio form sent %d requests, Gateway API form %d", name, n, apiHits[name])
				}
			}
			if istioHits["httpbin"] != 3 || istioHits["productpage"] != 1 {
				t.Errorf("backend requests %v, want httpbin 3 and productpage 1", istioHits)
			}
		})
	}
}

// A rule splitting traffic 80/20 between a Service with endpoints and an
// invalid backend (a Service bound to none, or a port the Service does
// not have): as istiod keeps the invalid backend's destination and weight
// and Envoy answers a missing cluster 500 under gateway semantics, about
// a fifth of the requests get 500 and the rest reach the real backend.
func TestGatewayAPIInvalidBackendShare(t *testing.T) {
	for _, tc := range []struct{ name, invalid string }{
		{"missing Service", "{name: missing, port: 9080, weight: 20}"},
		{"missing port", "{name: app, port: 9999, weight: 20}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newUpstream(t, "app")
			h := start(t, experiment(svc("app", 9080, app.addr()), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs:
    - {name: app, port: 9080, weight: 80}
    - `+tc.invalid+`
`))
			addr, ok := h.p.GatewayAddr("gw", 80)
			if !ok {
				t.Fatal("no listener gw:80")
			}
			const n = 200
			codes := map[int]int{}
			for range n {
				r := h.do(addr, http.MethodGet, "app.example.com", "/")
				codes[r.code]++
				if r.code == 200 && r.body != "app" {
					t.Fatalf("200 from %q", r.body)
				}
			}
			if codes[200]+codes[500] != n {
				t.Fatalf("codes %v, want 200s and 500s only", codes)
			}
			within(t, "500 share", codes[500], n, 0.2)
			if got := int(app.hits.Load()); got != codes[200] {
				t.Errorf("app saw %d requests, %d were answered 200", got, codes[200])
			}
			within(t, "app share", codes[200], n, 0.8)
			if lines := h.accessLog(); !slicesContainMatch(lines, `" 500 NC cluster_not_found `) {
				t.Errorf("no 500 NC cluster_not_found in the access log:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// A TLS listener opens a server: Passthrough a TLS (SNI) listener, and a
// listener with nothing to route closes the connections it takes.
func TestGatewayAPITLSPassthroughListener(t *testing.T) {
	app := newUpstream(t, "app")
	h := start(t, experiment(svc("app", 9080, app.addr()), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
  - {name: tls, port: 9443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
`))
	var found bool
	for _, l := range h.p.Listeners() {
		if l.Port == 9443 {
			found = true
			if l.Protocol != proxy.ProtocolTLS {
				t.Errorf("listener %s protocol %s, want TLS", l.Name, l.Protocol)
			}
		}
	}
	if !found {
		t.Fatalf("no listener on 9443 in %v", h.p.Listeners())
	}
	addr, _ := h.p.GatewayAddr("gw", 9443)
	if _, _, _, err := getBody(httpsClient(t, addr, nil, nil), "https://app.example.com/"); err == nil {
		t.Error("a connection with no TLS route was served")
	}
}
