package proxy_test

import (
	"net"
	"testing"
)

// A ServiceEntry's unix domain socket endpoints are left out: its IP
// endpoint takes the traffic. One that selects workloads has none to
// select: its host answers 503 UH.
func TestServiceEntryEndpointsFaultlineDoesNotDial(t *testing.T) {
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
  endpoints:
  - {address: "unix:///var/run/nowhere.sock"}
  - {address: 127.0.0.1, ports: {http: `+port+`}}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: vms}
spec:
  hosts: [vm.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
`))
	for range 5 {
		expect(t, h.get("api.example.com", "/x"), 200, "external")
	}
	if n := up.hits.Load(); n != 5 {
		t.Errorf("the IP endpoint saw %d requests, want 5", n)
	}
	r := h.get("vm.example.com", "/")
	if r.code != 503 || h.p.Stats().ByFlag["UH"] != 1 {
		t.Errorf("workload-selected host: %d %q, flags %v; want 503 UH", r.code, r.body, h.p.Stats().ByFlag)
	}
}
