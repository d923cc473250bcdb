package proxy_test

import "testing"

// A root VirtualService's delegating routes are replaced by its delegates'
// routes, merged as istiod merges them: a delegate match narrows the
// root's (and inherits what it leaves unset), a delegate route without
// match takes the root's, root policies fill in what the delegate route
// leaves unset, a delegate route whose match conflicts with the root's is
// dropped, and a root route whose delegate is missing or not exported to
// the root's namespace is ignored.
func TestDelegateVirtualServices(t *testing.T) {
	v1, v2, v3, services := threeVersions(t)
	root := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: api
    match: [{uri: {prefix: /api}, headers: {x-team: {exact: blue}}}]
    headers: {response: {set: {x-root: api}}}
    delegate: {name: reviews-api}
  - match: [{uri: {prefix: /faulty}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    delegate: {name: reviews-faulty}
  - match: [{uri: {prefix: /hidden}}]
    delegate: {name: reviews-hidden, namespace: other}
  - match: [{uri: {prefix: /missing}}]
    delegate: {name: nowhere}
  - route: [{destination: {host: reviews, subset: v1}}]
`
	api := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-api}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /api/v2}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {exact: /elsewhere}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - headers: {response: {set: {x-delegate: own}}}
    route: [{destination: {host: reviews, subset: v3}}]
`
	faulty := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-faulty}
spec:
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
`
	hidden := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-hidden, namespace: other}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local, subset: v3}}]
`
	h := start(t, experiment(services, root, api, faulty, hidden, reviewsSubsets()))
	cases := []struct {
		name, path, team string
		code             int
		body, xRoot      string
		xDelegate        string
	}{
		{"a delegate match narrows the root's and keeps its header condition", "/api/v2/x", "blue", 200, "v2", "api", ""},
		{"without the root's header the merged match does not hold", "/api/v2/x", "", 200, "v1", "", ""},
		{"a delegate route without match takes the root's; its own headers win over the root's", "/api/x", "blue", 200, "v3", "", "own"},
		{"a delegate route whose match conflicts with the root's is dropped", "/elsewhere", "blue", 200, "v1", "", ""},
		{"the root route's fault applies to a delegate route without one", "/faulty/1", "", 418, "fault filter abort", "", ""},
		{"a delegate not exported to the root's namespace is ignored", "/hidden", "", 200, "v1", "", ""},
		{"a missing delegate is ignored", "/missing", "", 200, "v1", "", ""},
	}
	for _, tc := range cases {
		var hdr []string
		if tc.team != "" {
			hdr = append(hdr, "x-team: "+tc.team)
		}
		r := h.get("reviews", tc.path, hdr...)
		if r.code != tc.code || r.body != tc.body {
			t.Errorf("%s: GET %s got %d %q, want %d %q", tc.name, tc.path, r.code, r.body, tc.code, tc.body)
		}
		if got := r.header.Get("X-Root"); got != tc.xRoot {
			t.Errorf("%s: x-root %q, want %q", tc.name, got, tc.xRoot)
		}
		if got := r.header.Get("X-Delegate"); got != tc.xDelegate {
			t.Errorf("%s: x-delegate %q, want %q", tc.name, got, tc.xDelegate)
		}
	}
	if got, want := [3]int64{v1.hits.Load(), v2.hits.Load(), v3.hits.Load()}, [3]int64{4, 1, 1}; got != want {
		t.Errorf("v1, v2, v3 served %v, want %v", got, want)
	}
}
