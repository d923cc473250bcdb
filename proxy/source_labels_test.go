package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// sourceLabels match the caller Faultline can know: on the mesh, a
// request sent from the address of a bound service's endpoint carries that
// endpoint's labels; a request from 127.0.0.1 (a run's load) is
// unlabelled, so the block does not apply; on a gateway the caller is the
// gateway, labelled by its selector.
func TestSourceLabels(t *testing.T) {
	v1, v2, _, _ := threeVersions(t)
	services := fmt.Sprintf(`  - host: reviews
    port: 9080
    endpoints:
    - {address: %q, labels: {version: v1}}
    - {address: %q, labels: {version: v2}}
  - host: productpage
    port: 9080
    endpoints:
    - {address: "127.0.0.2:9", labels: {app: productpage, version: v1}}
`, v1.addr(), v2.addr())
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews, reviews.example.com]
  gateways: [mesh, ingress]
  http:
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{sourceLabels: {istio: ingressgateway, app: other}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{sourceLabels: {istio: ingressgateway}, uri: {prefix: /gw}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`
	gw := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [reviews.example.com]
`
	h := start(t, experiment(services, vs, gw, reviewsSubsets()))

	// A client that sends from 127.0.0.2, productpage's endpoint address.
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	fromProductpage := func(path string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+h.p.MeshAddr()+path, nil)
		req.Host = "reviews:9080"
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("GET from 127.0.0.2: %v", err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %s", res.StatusCode, b)
	}
	gwAddr, _ := h.p.GatewayAddr("ingress", 80)
	for i := range 3 {
		if got, want := fromProductpage(fmt.Sprintf("/%d", i)), "200 v2"; got != want {
			t.Errorf("from productpage's address: got %s, want %s", got, want)
		}
		expect(t, h.get("reviews:9080", "/"), 200, "v1")                       // the load: unlabelled
		expect(t, h.do(gwAddr, "GET", "reviews.example.com", "/x"), 200, "v1") // the gateway lacks app: other
		expect(t, h.do(gwAddr, "GET", "reviews.example.com", "/gw"), 200, "v2")
	}
	if got, want := [2]int64{v1.hits.Load(), v2.hits.Load()}, [2]int64{6, 6}; got != want {
		t.Errorf("v1, v2 served %v, want %v", got, want)
	}
}
