package proxy_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// docs/scenarios.md (Ingress gateway exposing some paths): an ingress
// gateway exposes only some paths.
func TestIngressGateway(t *testing.T) {
	up := newUpstream(t, "httpbin")
	src := experiment(svc("httpbin", 8000, up.addr()), `apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: httpbin-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["httpbin.example.com"]
`, `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: ["httpbin.example.com"]
  gateways: [httpbin-gateway]
  http:
  - match:
    - uri: {prefix: /status}
    - uri: {prefix: /delay}
    route:
    - destination: {port: {number: 8000}, host: httpbin}
`)
	h := start(t, src)
	gw, ok := h.p.GatewayAddr("httpbin-gateway", 80)
	if !ok {
		t.Fatalf("no gateway listener in %v", h.p.Listeners())
	}
	if ls := h.p.Listeners(); len(ls) != 2 || ls[0].Name != "mesh" || ls[1].Name != "httpbin-gateway:80" || ls[1].Gateway != "httpbin-gateway" || ls[1].Port != 80 {
		t.Errorf("listeners %+v", ls)
	}
	r := h.do(gw, "GET", "httpbin.example.com", "/status/200")
	if r.code != 200 || r.header.Get("X-Envoy-Upstream-Service-Time") == "" || r.header.Get("Server") != "istio-envoy" {
		t.Errorf("gateway /status/200: %d %v", r.code, r.header)
	}
	if got := up.last(t).Host; got != "httpbin.example.com" {
		t.Errorf("upstream Host %q", got)
	}
	expect(t, h.do(gw, "GET", "httpbin.example.com", "/headers"), 404, "")
	expect(t, h.do(gw, "GET", "other.example.com", "/status/200"), 404, "")
	if r := h.do(gw, "GET", "other.example.com", "/"); r.header.Get("Server") != "istio-envoy" {
		t.Errorf("gateway local reply server %q", r.header.Get("Server"))
	}
	// The mesh does not apply a VirtualService bound only to the gateway:
	// httpbin.example.com is no service, so the mesh refuses it.
	expect(t, h.get("httpbin.example.com", "/status/200"), 502, "")
	s := h.p.Stats()
	if l, _ := s.Listener("httpbin-gateway:80"); l.Requests != 4 || l.NoRoute != 3 {
		t.Errorf("gateway listener %+v", l)
	}
}

// Gateway vhosts are the intersection of server and VirtualService hosts;
// a server nothing binds to answers 404 to everything.
func TestGatewayHostIntersection(t *testing.T) {
	up := newUpstream(t, "app")
	src := experiment(svc("app", 80, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ["*"]
`, `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: ["a.example.com", "example.com", "*.wild.example.com"]
  gateways: [gw]
  http:
  - match: [{port: 80}]
    route: [{destination: {host: app}}]
`)
	h := start(t, src)
	gw80, _ := h.p.GatewayAddr("gw", 80)
	gw8080, _ := h.p.GatewayAddr("gw", 8080)
	expect(t, h.do(gw80, "GET", "a.example.com", "/"), 200, "app")
	expect(t, h.do(gw80, "GET", "A.Example.Com:80", "/"), 200, "app")
	expect(t, h.do(gw80, "GET", "x.wild.example.com", "/"), 200, "app")
	expect(t, h.do(gw80, "GET", "example.com", "/"), 404, "")   // *.example.com ∩ example.com = ∅
	expect(t, h.do(gw80, "GET", "b.example.com", "/"), 404, "") // not a VS host
	// Port 8080: the VS is bound but its only rule matches port 80.
	expect(t, h.do(gw8080, "GET", "a.example.com", "/"), 404, "")
}

// docs/scenarios.md (Egress through a gateway): mesh → egress gateway
// listener → upstream, two hops, the Host preserved, each hop's cluster
// counted.
func TestEgressTwoHops(t *testing.T) {
	up := newUpstream(t, "httpbin.org")
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: egress}
spec:
  services:
  - host: httpbin.org
    port: 80
    endpoints: [{address: "` + up.addr() + `"}]
  - host: istio-egressgateway.istio-system.svc.cluster.local
    port: 80
    gateway: istio-egressgateway
  load: {url: "http://httpbin.org/ip"}
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http-port, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: istio-egressgateway}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [httpbin.org]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: dr-for-egressgateway}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: httpbin
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: vs-for-egressgateway}
spec:
  hosts: [httpbin.org]
  gateways: [istio-egressgateway, mesh]
  http:
  - match:
    - gateways: [mesh]
      port: 80
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: httpbin, port: {number: 80}}
      weight: 100
  - match:
    - gateways: [istio-egressgateway]
      port: 80
    route:
    - destination: {host: httpbin.org, port: {number: 80}}
      weight: 100
`
	h := start(t, src)
	r := h.viaProxy("http://httpbin.org/ip")
	expect(t, r, 200, "httpbin.org")
	if r.header.Get("Server") != "envoy" {
		t.Errorf("server %q (the mesh hop answers last)", r.header.Get("Server"))
	}
	if got := up.last(t).Host; got != "httpbin.org" {
		t.Errorf("upstream Host %q", got)
	}
	s := h.p.Stats()
	mesh, _ := s.Cluster("outbound|80|httpbin|istio-egressgateway.istio-system.svc.cluster.local")
	egress, _ := s.Cluster("outbound|80||httpbin.org")
	if mesh.UpstreamRqTotal != 1 || egress.UpstreamRqTotal != 1 || up.hits.Load() != 1 {
		t.Errorf("mesh hop %d, gateway hop %d, upstream %d", mesh.UpstreamRqTotal, egress.UpstreamRqTotal, up.hits.Load())
	}
	if l, _ := s.Listener("istio-egressgateway:80"); l.Requests != 1 {
		t.Errorf("egress listener %+v", l)
	}
	// The egress gateway listener, entered directly, routes too.
	gw, _ := h.p.GatewayAddr("istio-egressgateway", 80)
	expect(t, h.do(gw, "GET", "httpbin.org", "/ip"), 200, "httpbin.org")
}

// Listeners can be placed on given addresses.
func TestGatewayAddrs(t *testing.T) {
	up := newUpstream(t, "app")
	want := deadAddr(t)
	src := experiment(svc("app", 80, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`)
	p, err := proxy.Start(context.Background(), parse(t, src), "127.0.0.1:0", map[string]string{"gw": want}, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, _ := p.GatewayAddr("gw", 80); got != want {
		t.Errorf("gateway on %s, want %s", got, want)
	}
	// Nothing is bound to this server: every request is 404 NR.
	res, err := http.Get("http://" + want + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || res.Header.Get("Server") != "istio-envoy" || p.Stats().ByFlag["NR"] != 1 {
		t.Errorf("unbound gateway: %d %v %v", res.StatusCode, res.Header, p.Stats().ByFlag)
	}
}

// A ServiceEntry's STATIC endpoints serve its host when spec.services
// does not bind it; targetPort and the endpoint's ports map pick the port.
func TestServiceEntryStatic(t *testing.T) {
	up := newUpstream(t, "external")
	_, port, _ := net.SplitHostPort(up.addr())
	other := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, other.addr()), `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: `+port+`}}]
`))
	expect(t, h.get("api.example.com", "/x"), 200, "external")
	if _, ok := h.p.Stats().Cluster("outbound|80||api.example.com"); !ok {
		t.Error("no cluster outbound|80||api.example.com")
	}
}
