package proxy_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// meshEgressDoc is Istio's egress gateway with mesh mTLS: the mesh sends
// httpbin.org to the egress gateway's port 443 (a Gateway server in
// ISTIO_MUTUAL) under a DestinationRule in ISTIO_MUTUAL, the gateway sends
// it on to httpbin.org. serverMode is the gateway server's tls.mode and
// protocol; the gateway's host binding is on port 443.
func meshEgressDoc(httpbin, server string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: egress-mtls}
spec:
  services:
  - host: httpbin.org
    port: 80
    endpoints: [{address: "` + httpbin + `"}]
  - host: istio-egressgateway.istio-system.svc.cluster.local
    port: 443
    gateway: istio-egressgateway
  load: {url: "http://httpbin.org/ip"}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http-port, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, ` + server + `}
    hosts: [httpbin.org]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-httpbin}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: httpbin
    trafficPolicy:
      portLevelSettings:
      - port: {number: 443}
        tls: {mode: ISTIO_MUTUAL, sni: httpbin.org}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin-through-egress}
spec:
  hosts: [httpbin.org]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: httpbin, port: {number: 443}}}]
  - match: [{gateways: [istio-egressgateway], port: 443}]
    route: [{destination: {host: httpbin.org, port: {number: 80}}}]
`
}

// ISTIO_MUTUAL between two of Faultline's listeners is a real mTLS
// handshake with certificates of the run's CA: the egress gateway's
// listener presents its SPIFFE identity, requires the sender's, and tells
// the next hop who called in x-forwarded-client-cert (SANITIZE_SET: a
// value the client sent is replaced).
func TestMeshMutualTLSBetweenListeners(t *testing.T) {
	up := newUpstream(t, "httpbin.org")
	ca, _ := proxy.NewCA()
	h := start(t, meshEgressDoc(up.addr(), "protocol: HTTPS}\n    tls: {mode: ISTIO_MUTUAL"), func(o *proxy.Options) { o.CA = ca })
	r := h.viaProxy("http://httpbin.org/ip")
	expect(t, r, 200, "httpbin.org")
	seen := up.last(t)
	xfcc := seen.Header.Get("X-Forwarded-Client-Cert")
	for _, want := range []string{
		"By=spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account;Hash=",
		`;Cert="-----BEGIN%20CERTIFICATE-----%0a`,
		`;Subject="";URI=spiffe://cluster.local/ns/default/sa/default`,
	} {
		if !strings.Contains(xfcc, want) {
			t.Errorf("x-forwarded-client-cert %q lacks %q", xfcc, want)
		}
	}
	if n := len(seen.Header.Values("X-Forwarded-Client-Cert")); n != 1 {
		t.Errorf("%d x-forwarded-client-cert values, want 1", n)
	}
	// A forged XFCC from the mesh's caller is replaced, not forwarded.
	if r := h.get("httpbin.org", "/ip", "X-Forwarded-Client-Cert: By=spiffe://forged;URI=spiffe://forged"); r.code != 200 {
		t.Fatalf("forged xfcc: %d %q", r.code, r.body)
	}
	if got := up.last(t).Header.Get("X-Forwarded-Client-Cert"); strings.Contains(got, "forged") {
		t.Errorf("x-forwarded-client-cert %q kept the client's value", got)
	}

	gw, ok := h.p.GatewayAddr("istio-egressgateway", 443)
	if !ok {
		t.Fatal("no listener for istio-egressgateway:443")
	}
	// The listener takes no plain text...
	if r := h.do(gw, http.MethodGet, "httpbin.org", "/ip"); r.code == 200 {
		t.Errorf("plain HTTP to the ISTIO_MUTUAL listener: got %d %q, want it refused", r.code, r.body)
	}
	// ...no TLS client without a certificate, nor one of another CA; a
	// certificate of the run's CA is let in (the run's own load).
	if _, _, _, err := getBody(httpsClient(t, gw, caPool(ca), nil), "https://httpbin.org/ip"); err == nil {
		t.Error("TLS without a client certificate: want the handshake refused")
	}
	stranger, _ := proxy.NewCA()
	foreign, _ := stranger.IssueWorkload("spiffe://cluster.local/ns/default/sa/default")
	if _, _, _, err := getBody(httpsClient(t, gw, caPool(ca), &foreign), "https://httpbin.org/ip"); err == nil {
		t.Error("a certificate of another CA: want the handshake refused")
	}
	own, _ := ca.Issue([]string{"faultline-load"}, true)
	if code, body, _, err := getBody(httpsClient(t, gw, caPool(ca), &own), "https://httpbin.org/ip"); err != nil || code != 200 || body != "httpbin.org" {
		t.Errorf("the run's own client certificate: %d %q %v, want 200", code, body, err)
	}
	// The server's certificate names the gateway's SPIFFE identity.
	conn, err := tls.Dial("tcp", gw, &tls.Config{RootCAs: caPool(ca), ServerName: "httpbin.org", Certificates: []tls.Certificate{own}, NextProtos: []string{"istio-peer-exchange", "istio"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cs := conn.ConnectionState()
	if u := cs.PeerCertificates[0].URIs; len(u) != 1 || u[0].String() != "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account" {
		t.Errorf("server URI SANs %v", u)
	}
	if cs.NegotiatedProtocol != "" {
		t.Errorf("ALPN %q, want none for a client offering only the mesh's names", cs.NegotiatedProtocol)
	}
}

// Without Options.CA the proxy's own CA signs both ends of the hop.
func TestMeshMutualTLSOwnCA(t *testing.T) {
	up := newUpstream(t, "httpbin.org")
	h := start(t, meshEgressDoc(up.addr(), "protocol: HTTPS}\n    tls: {mode: ISTIO_MUTUAL"))
	expect(t, h.viaProxy("http://httpbin.org/ip"), 200, "httpbin.org")
}

// ISTIO_MUTUAL to a gateway listener that does not terminate the mesh's
// mTLS fails its handshake, as the sidecar's would (503 UF; compiling
// warns); to an endpoint that is not Faultline's it stays plain text:
// no sidecar is there to terminate it.
func TestMeshMutualTLSElsewhere(t *testing.T) {
	up := newUpstream(t, "httpbin.org")
	h := start(t, meshEgressDoc(up.addr(), "protocol: HTTP"))
	if r := h.viaProxy("http://httpbin.org/ip"); r.code != 503 || !strings.Contains(r.body, "TLS_error:|268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end") {
		t.Errorf("ISTIO_MUTUAL to a plain HTTP gateway server: %d %q, want 503 WRONG_VERSION_NUMBER", r.code, r.body)
	}
	plain := start(t, originationDoc(up.addr(), "{mode: ISTIO_MUTUAL}"))
	expect(t, plain.get("secure.example.com", "/"), 200, "httpbin.org")
}
