package proxy_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// TestPlanMatchesAsTheProxyRoutes compiles a document with a demo
// endpoint and a gateway without opening anything, and asks which rule
// requests hit: by header, by gateway listener, none (404 NR) and an
// unknown host on the mesh (502 block_all).
func TestPlanMatchesAsTheProxyRoutes(t *testing.T) {
	doc, err := scenarios.Parse([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: plan}
spec:
  services:
  - host: ratings
    port: 9080
    endpoints: [{demo: ratings, labels: {version: v1}}]
  load: {url: "http://ratings:9080/ratings/0", requests: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["ratings.example.com"]}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings, ratings.example.com]
  gateways: [mesh, gw]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - name: ratings-api
    match: [{uri: {prefix: /ratings}}]
    route: [{destination: {host: ratings}}]
    timeout: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proxy.Plan(doc, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Experiment.Spec.Services[0].Endpoints[0].Address != "" {
		t.Error("Plan wrote an address into the caller's document")
	}
	req := func(host, path string, h map[string]string) *http.Request {
		u := &url.URL{Path: path}
		r := &http.Request{Method: "GET", URL: u, RequestURI: u.RequestURI(), Host: host, Header: http.Header{}}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	m, ok := plan.Match("mesh", req("ratings:9080", "/ratings/0", map[string]string{"end-user": "jason"}))
	if !ok || m.VirtualService != "ratings" || m.Rule != 0 || m.Name != "jason" || m.Route.Fault == nil || m.Route.Fault.AbortStatus != 500 {
		t.Errorf("jason's request hit %+v, want ratings/0 with its abort", m)
	}
	m, ok = plan.Match("mesh", req("ratings:9080", "/ratings/0", nil))
	if !ok || m.Rule != 1 || m.Route.Route == nil || m.Route.Route.Timeout != "1s" || len(m.Route.Route.Clusters) != 1 {
		t.Errorf("a request hit %+v, want ratings/1 with its 1s timeout and one destination", m)
	}
	if name := m.Route.Route.Clusters[0].Name; name != "outbound|9080||ratings.default.svc.cluster.local" {
		t.Errorf("destination %q", name)
	} else if c, ok := plan.Cluster(name); !ok || len(c.Endpoints) != 1 || c.Endpoints[0].Address != proxy.PlanAddress {
		t.Errorf("cluster %s = %+v, want the demo at the plan's placeholder address", name, c)
	}
	if m, ok := plan.Match("gw:8080", req("ratings.example.com", "/ratings/1", nil)); !ok || m.Rule != 1 {
		t.Errorf("through the gateway: %+v, want ratings/1", m)
	}
	if m, ok := plan.Match("mesh", req("ratings:9080", "/health", nil)); ok || m.Outcome != proxy.MatchNoRoute || m.Status != 404 {
		t.Errorf("an unmatched path: %+v, want no_route 404", m)
	}
	if m, ok := plan.Match("mesh", req("nowhere:80", "/", nil)); ok || m.Outcome != proxy.MatchBlockAll || m.Status != 502 {
		t.Errorf("an unknown host: %+v, want block_all 502", m)
	}
	if _, ok := plan.Match("gw:9999", req("ratings.example.com", "/", nil)); ok {
		t.Error("a listener the plan lacks matched")
	}
}
