package proxy_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// Gateway API twins: the same ingress written with Istio's API and with
// the Kubernetes Gateway API must behave alike through the real proxy:
// the same status, body and headers for every request, and the same
// requests at every backend.

// twinRequest is one request sent to both forms.
type twinRequest struct {
	method, host, path string
	headers            []string
}

// twinHeaders are the response headers compared between the forms.
var twinHeaders = []string{"Server", "Content-Type", "Content-Length", "Location", "X-Upstream", "X-Resp", "X-Envoy-Overloaded"}

// twinSeen is what one upstream saw of one request.
type twinSeen struct{ method, host, uri, user, a, drop string }

// twinRun starts src (its 127.0.0.1:1NNNN endpoint addresses replaced by
// real upstreams, one per address), sends reqs through the gateway's port
// 80 listener (the mesh listener for gateway "mesh"), and returns the responses and what each upstream saw.
func twinRun(t *testing.T, src, gateway string, reqs []twinRequest, upstreams map[string]string) ([]response, map[string][]twinSeen) {
	t.Helper()
	ups := map[string]*upstream{}
	for addr, name := range upstreams {
		u := newUpstream(t, name)
		ups[name] = u
		src = strings.ReplaceAll(src, addr, u.addr())
	}
	h := start(t, src)
	h.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	gw, ok := h.p.MeshAddr(), true
	if gateway != "mesh" {
		gw, ok = h.p.GatewayAddr(gateway, 80)
	}
	if !ok {
		t.Fatalf("no listener for gateway %s port 80 in %v", gateway, h.p.Listeners())
	}
	var out []response
	for _, rq := range reqs {
		out = append(out, h.do(gw, rq.method, rq.host, rq.path, rq.headers...))
	}
	seen := map[string][]twinSeen{}
	for name, u := range ups {
		// Mirrors are fire and forget: wait (bounded) for their copies.
		wait.Until(time.Second, func() bool { return u.hits.Load() == int64(len(u.seenCopy())) })
		for _, r := range u.seenCopy() {
			seen[name] = append(seen[name], twinSeen{r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("X-User"), r.Header.Get("X-A"), r.Header.Get("X-Drop")})
		}
	}
	return out, seen
}

func (u *upstream) seenCopy() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

// compareTwins runs both forms and requires identical answers and
// backend traffic; want checks the Istio form's answers.
func compareTwins(t *testing.T, istioSrc, apiSrc, gateway string, reqs []twinRequest, upstreams map[string]string, want []int) (map[string][]twinSeen, []response) {
	t.Helper()
	ri, si := twinRun(t, istioSrc, gateway, reqs, upstreams)
	ra, sa := twinRun(t, apiSrc, gateway, reqs, upstreams)
	for i, rq := range reqs {
		a, b := ri[i], ra[i]
		if a.code != want[i] {
			t.Errorf("%s %s (Host %s): Istio form answered %d, want %d", rq.method, rq.path, rq.host, a.code, want[i])
		}
		if a.code != b.code || a.body != b.body {
			t.Errorf("%s %s (Host %s): Istio form %d %q, Gateway API form %d %q", rq.method, rq.path, rq.host, a.code, a.body, b.code, b.body)
		}
		for _, k := range twinHeaders {
			if a.header.Get(k) != b.header.Get(k) {
				t.Errorf("%s %s: header %s: Istio form %q, Gateway API form %q", rq.method, rq.path, k, a.header.Get(k), b.header.Get(k))
			}
		}
		if (a.header.Get("X-Envoy-Upstream-Service-Time") == "") != (b.header.Get("X-Envoy-Upstream-Service-Time") == "") {
			t.Errorf("%s %s: x-envoy-upstream-service-time on one form only", rq.method, rq.path)
		}
	}
	for _, name := range upstreams {
		a, b := si[name], sa[name]
		if len(a) != len(b) {
			t.Errorf("upstream %s: Istio form sent %d requests, Gateway API form %d", name, len(a), len(b))
			continue
		}
		// Mirrored copies arrive in any order: compare as multisets.
		count := map[twinSeen]int{}
		for _, s := range a {
			count[s]++
		}
		for _, s := range b {
			count[s]--
		}
		for s, n := range count {
			if n != 0 {
				t.Errorf("upstream %s: %+v seen %+d more times through the Istio form", name, s, n)
			}
		}
	}
	return si, ri
}

func readTwin(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../scenarios/testdata/gatewayapi/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The ingress task's httpbin exposure: /status and /delay on
// httpbin.example.com, nothing else.
func TestGatewayAPITwinHTTPBin(t *testing.T) {
	reqs := []twinRequest{
		{"GET", "httpbin.example.com", "/status/200", nil},
		{"GET", "httpbin.example.com", "/status/418", nil},
		{"GET", "httpbin.example.com", "/delay/20", nil},
		{"GET", "httpbin.example.com", "/status", nil},
		{"GET", "httpbin.example.com", "/headers", nil},
		{"GET", "httpbin.example.com", "/", nil},
		{"GET", "other.example.com", "/status/200", nil},
		{"POST", "httpbin.example.com", "/status/201", nil},
	}
	want := []int{200, 418, 200, 200, 404, 404, 404, 201}
	seen, _ := compareTwins(t, readTwin(t, "httpbin-istio.yaml"), readTwin(t, "httpbin-gateway-api.yaml"), "httpbin-gateway", reqs,
		map[string]string{"127.0.0.1:18000": "httpbin"}, want)
	if n := len(seen["httpbin"]); n != 5 {
		t.Errorf("httpbin saw %d requests, want 5", n)
	}
}

// Bookinfo's ingress: productpage's exact and prefix paths on any host.
func TestGatewayAPITwinBookinfo(t *testing.T) {
	reqs := []twinRequest{
		{"GET", "bookinfo.example.com", "/productpage", nil},
		{"GET", "192.0.2.1", "/productpage?u=normal", nil},
		{"GET", "bookinfo.example.com", "/static/css/style.css", nil},
		{"GET", "bookinfo.example.com", "/login", nil},
		{"POST", "bookinfo.example.com", "/logout", nil},
		{"GET", "bookinfo.example.com", "/api/v1/products", nil},
		{"GET", "bookinfo.example.com", "/api/v1/products/0/reviews", nil},
		{"GET", "bookinfo.example.com", "/productpage/more", nil},
		{"GET", "bookinfo.example.com", "/", nil},
		{"GET", "bookinfo.example.com", "/reviews/0", nil},
	}
	want := []int{200, 200, 200, 200, 200, 200, 200, 404, 404, 404}
	seen, _ := compareTwins(t, readTwin(t, "bookinfo-istio.yaml"), readTwin(t, "bookinfo-gateway-api.yaml"), "bookinfo-gateway", reqs,
		map[string]string{"127.0.0.1:19080": "productpage", "127.0.0.1:19081": "reviews-v1", "127.0.0.1:19082": "reviews-v2"}, want)
	if n := len(seen["productpage"]); n != 7 {
		t.Errorf("productpage saw %d requests, want 7", n)
	}
	if n := len(seen["reviews-v1"]) + len(seen["reviews-v2"]); n != 0 {
		t.Errorf("reviews saw %d requests through the gateway, want none", n)
	}
}

// featureServices binds app-v1, app-v2 (real upstreams) for the filter
// twins.
const featureServices = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: features}
spec:
  services:
  - host: app-v1
    port: 9080
    endpoints: [{address: "127.0.0.1:19181"}]
  - host: app-v2
    port: 9080
    endpoints: [{address: "127.0.0.1:19182"}]
  load: {url: "http://app.example.com/", via: gw}
`

// The HTTPRoute features istiod translates, against the VirtualService it
// generates for them written by hand: header, method and query matches,
// header modifiers, weights, redirect, rewrites, a mirror, retries, timeouts, and
// 500 for a backend without endpoints or without weight.
func TestGatewayAPITwinFeatures(t *testing.T) {
	api := featureServices + `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [app.example.com]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-user, value: jason}]
        add: [{name: x-a, value: "1"}]
        remove: [x-drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: x-resp, value: r}]
    backendRefs: [{name: app-v2, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs:
    - {name: app-v1, port: 9080, weight: 80}
    - {name: app-v2, port: 9080, weight: 20}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: new.example.com
        statusCode: 301
        path: {type: ReplaceFullPath, replaceFullPath: /new}
  - matches: [{path: {type: PathPrefix, value: /api/}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v1}, hostname: api.internal}
    backendRefs: [{name: app-v1, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /strip}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    backendRefs: [{name: app-v1, port: 9080}]
  - matches: [{path: {type: Exact, value: /mirror}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: app-v2, port: 9080}}
    backendRefs: [{name: app-v1, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /delay}}]
    timeouts: {request: 100ms}
    backendRefs: [{name: app-v1, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /retry}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /status}}
    retry: {codes: [503], attempts: 2}
    timeouts: {backendRequest: 1s}
    backendRefs: [{name: app-v1, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /gone}}]
    backendRefs: [{name: missing, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /zero}}]
    backendRefs: [{name: app-v1, port: 9080, weight: 0}]
  - matches: [{path: {type: PathPrefix, value: /post}, method: POST}]
    backendRefs: [{name: app-v2, port: 9080}]
  - matches: [{queryParams: [{name: q, value: x}]}]
    backendRefs: [{name: app-v2, port: 9080}]
  - backendRefs: [{name: app-v1, port: 9080}]
`
	// The rules in istiod's order (sortHTTPRoutes): exact, then prefixes
	// longest first, method, headers, query; path-element prefixes.
	istio := featureServices + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {exact: /mirror}}]
    route: [{destination: {host: app-v1, port: {number: 9080}}}]
    mirrors: [{destination: {host: app-v2, port: {number: 9080}}}]
  - match: [{uri: {regex: "/split(/.*)?"}}]
    route:
    - {destination: {host: app-v1, port: {number: 9080}}, weight: 80}
    - {destination: {host: app-v2, port: {number: 9080}}, weight: 20}
  - match: [{uri: {regex: "/strip(/.*)?"}}]
    rewrite: {uriRegexRewrite: {match: "^/strip(/?)(.*)", rewrite: "/\\2"}}
    route: [{destination: {host: app-v1, port: {number: 9080}}}]
  - match: [{uri: {regex: "/delay(/.*)?"}}]
    timeout: 100ms
    route: [{destination: {host: app-v1, port: {number: 9080}}}]
  - match: [{uri: {regex: "/retry(/.*)?"}}]
    rewrite: {uriRegexRewrite: {match: "^/retry", rewrite: /status}}
    retries: {attempts: 2, retryOn: "connect-failure,refused-stream,unavailable,cancelled,503", perTryTimeout: 1s}
    route: [{destination: {host: app-v1, port: {number: 9080}}}]
  - match: [{uri: {regex: "/gone(/.*)?"}}]
    directResponse: {status: 500}
  - match: [{uri: {regex: "/zero(/.*)?"}}]
    directResponse: {status: 500}
  - match: [{uri: {regex: "/post(/.*)?"}, method: {exact: POST}}]
    route: [{destination: {host: app-v2, port: {number: 9080}}}]
  - match: [{uri: {regex: "/old(/.*)?"}}]
    redirect: {uri: /new, authority: new.example.com, redirectCode: 301, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {regex: "/api(/.*)?"}}]
    rewrite: {uriRegexRewrite: {match: "^/api", rewrite: /v1}, authority: api.internal}
    route: [{destination: {host: app-v1, port: {number: 9080}}}]
  - match: [{headers: {end-user: {exact: jason}}}]
    headers:
      request: {set: {x-user: jason}, add: {x-a: "1"}, remove: [x-drop]}
      response: {set: {x-resp: r}}
    route: [{destination: {host: app-v2, port: {number: 9080}}}]
  - match: [{queryParams: {q: {exact: x}}}]
    route: [{destination: {host: app-v2, port: {number: 9080}}}]
  - route: [{destination: {host: app-v1, port: {number: 9080}}}]
`
	host := "app.example.com"
	reqs := []twinRequest{
		{"GET", host, "/anything", []string{"end-user: jason", "x-drop: 1"}},
		{"GET", host, "/old/page", nil},
		{"GET", host, "/oldish", []string{"x-drop: 1"}},
		{"GET", host, "/api/items?id=1", nil},
		{"GET", host, "/api", nil},
		{"GET", host, "/strip/a/b", nil},
		{"GET", host, "/strip", nil},
		{"GET", host, "/mirror", nil},
		{"GET", host, "/delay/300", nil},
		{"GET", host, "/delay/1", nil},
		{"GET", host, "/retry/503", nil},
		{"GET", host, "/retry/200", nil},
		{"GET", host, "/gone", nil},
		{"GET", host, "/zero/x", nil},
		{"POST", host, "/post", nil},
		{"GET", host, "/post", nil},
		{"GET", host, "/?q=x", nil},
		{"GET", host, "/?q=y", nil},
		{"GET", "other.example.com", "/", nil},
	}
	want := []int{200, 301, 200, 200, 200, 200, 200, 200, 504, 200, 503, 200, 500, 500, 200, 200, 200, 200, 404}
	for range 200 {
		reqs = append(reqs, twinRequest{"GET", host, "/split/x", nil})
		want = append(want, 200)
	}
	seen, res := compareTwins(t, istio, api, "gw", reqs,
		map[string]string{"127.0.0.1:19181": "app-v1", "127.0.0.1:19182": "app-v2"}, want)
	if r := res[0]; r.body != "app-v2" || r.header.Get("X-Resp") != "r" {
		t.Errorf("jason: %d %q %v", r.code, r.body, r.header)
	}
	if loc := res[1].header.Get("Location"); !strings.HasPrefix(loc, "http://new.example.com") || !strings.HasSuffix(loc, "/new") {
		t.Errorf("redirect Location %q", loc)
	}
	uris := map[string]int{}
	for _, s := range seen["app-v1"] {
		uris[s.uri]++
	}
	for _, u := range []string{"/v1/items?id=1", "/v1", "/a/b", "/", "/mirror", "/oldish"} {
		if uris[u] == 0 {
			t.Errorf("app-v1 never saw %s: %v", u, uris)
		}
	}
	if uris["/status/503"] != 3 {
		t.Errorf("app-v1 saw /status/503 %d times, want 3 (two retries)", uris["/status/503"])
	}
	var v1, v2 int
	for _, s := range seen["app-v1"] {
		if s.uri == "/split/x" {
			v1++
		}
	}
	for _, s := range seen["app-v2"] {
		if s.uri == "/split/x" {
			v2++
		}
		if s.user == "jason" && (s.a != "1" || s.drop != "") {
			t.Errorf("jason's request at app-v2: %+v", s)
		}
	}
	if v1+v2 != 200 {
		t.Errorf("split: %d + %d requests", v1, v2)
	}
	within(t, "app-v2 share of /split", v2, 200, 0.2)
}

// The traffic-shifting and request-routing tasks on the mesh: Istio's
// subsets of reviews against the Gateway API's version Services and an
// HTTPRoute whose parent is the reviews Service (GAMMA).
func TestGatewayAPITwinMesh(t *testing.T) {
	services := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: shift}
spec:
  services:
  - host: reviews
    port: 9080
    endpoints:
    - {address: "127.0.0.1:19281", labels: {version: v1}}
    - {address: "127.0.0.1:19282", labels: {version: v2}}
  - host: reviews-v1
    port: 9080
    endpoints: [{address: "127.0.0.1:19281", labels: {version: v1}}]
  - host: reviews-v2
    port: 9080
    endpoints: [{address: "127.0.0.1:19282", labels: {version: v2}}]
  load: {url: "http://reviews:9080/reviews/0"}
`
	istio := services + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
`
	api := services + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: reviews-v2, port: 9080}]
  - backendRefs:
    - {name: reviews-v1, port: 9080, weight: 80}
    - {name: reviews-v2, port: 9080, weight: 20}
`
	reqs := []twinRequest{{"GET", "reviews:9080", "/reviews/0", []string{"end-user: jason"}}}
	want := []int{200}
	for range 200 {
		reqs = append(reqs, twinRequest{"GET", "reviews:9080", "/reviews/0", nil})
		want = append(want, 200)
	}
	seen, res := compareTwins(t, istio, api, "mesh", reqs,
		map[string]string{"127.0.0.1:19281": "reviews-v1", "127.0.0.1:19282": "reviews-v2"}, want)
	if res[0].body != "reviews-v2" {
		t.Errorf("jason got %q", res[0].body)
	}
	if n := len(seen["reviews-v1"]) + len(seen["reviews-v2"]); n != 201 {
		t.Errorf("reviews saw %d requests", n)
	}
	within(t, "reviews-v2 share", len(seen["reviews-v2"])-1, 200, 0.2)
}
