package proxy_test

import "testing"

// A DestinationRule's PASSTHROUGH (Envoy's ORIGINAL_DST) is balanced over
// the host's bound endpoints, the only addresses the experiment names:
// every request reaches one of them.
func TestPassthroughLoadBalancerUsesTheBoundEndpoints(t *testing.T) {
	a, b := newUpstream(t, "a"), newUpstream(t, "b")
	h := start(t, experiment(svc("reviews", 9080, a.addr(), b.addr()), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}
`))
	const n = 40
	for range n {
		if r := h.get("reviews", "/"); r.code != 200 {
			t.Fatalf("got %d %q, want 200", r.code, r.body)
		}
	}
	if got := a.hits.Load() + b.hits.Load(); got != n {
		t.Errorf("the endpoints saw %d requests, want %d", got, n)
	}
	if a.hits.Load() == 0 || b.hits.Load() == 0 {
		t.Errorf("a saw %d, b saw %d: want both used", a.hits.Load(), b.hits.Load())
	}
}
