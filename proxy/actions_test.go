package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Redirects and direct responses are local replies that do get the
// route's response header operations.
func TestRedirectAndDirectResponse(t *testing.T) {
	up := newUpstream(t, "reviews")
	vs := fmt.Sprintf(reviewsVS, `  - match: [{uri: {prefix: /moved}}]
    redirect: {uri: /new, authority: other.example.com, redirectCode: 302}
    headers: {response: {set: {x-route: redirected}}}
  - match: [{uri: {prefix: /old/}}]
    redirect: {prefixRewrite: /v2/, scheme: https, port: 8443}
  - match: [{uri: {exact: /derive}}]
    redirect: {uri: /d, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
    headers: {response: {set: {content-type: application/json, x-direct: "yes"}, add: {x-added: a}}}
  - match: [{uri: {exact: /bytes}}]
    directResponse: {status: 200, body: {bytes: aGVsbG8=}}
  - match: [{uri: {exact: /empty}}]
    directResponse: {status: 204}
`)
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	noFollow := *h.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = &noFollow

	r := h.get("reviews:9080", "/moved/x?q=1")
	expect(t, r, 302, "")
	if loc := r.header.Get("Location"); loc != "http://other.example.com/new?q=1" {
		t.Errorf("location %q", loc)
	}
	if r.header.Get("X-Route") != "redirected" || r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("redirect headers %v", r.header)
	}
	r = h.get("reviews:9080", "/old/page?a=b")
	expect(t, r, 301, "")
	if loc := r.header.Get("Location"); loc != "https://reviews:8443/v2/page?a=b" {
		t.Errorf("prefixRewrite location %q", loc)
	}
	r = h.get("reviews", "/derive")
	if loc := r.header.Get("Location"); r.code != 301 || loc != "http://reviews:9080/d" {
		t.Errorf("derivePort: %d %q", r.code, loc)
	}
	r = h.get("reviews", "/teapot")
	expect(t, r, 418, "short and stout")
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Direct") != "yes" || r.header.Get("X-Added") != "a" {
		t.Errorf("direct headers %v", r.header)
	}
	if r.header.Get("Server") != "envoy" || r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("direct headers %v", r.header)
	}
	expect(t, h.get("reviews", "/bytes"), 200, "hello")
	expect(t, h.get("reviews", "/empty"), 204, "")
	if up.hits.Load() != 0 {
		t.Error("a local reply reached the upstream")
	}
	s := h.p.Stats()
	l, _ := s.Listener("mesh")
	if l.Redirects != 3 || l.DirectResponses != 3 {
		t.Errorf("listener %+v", l)
	}
	if rs, _ := s.Route("reviews", 0); rs.Redirects != 1 {
		t.Errorf("route %+v", rs)
	}
}

// Rewrites change path and authority and keep the original path in
// x-envoy-original-path.
func TestRewrite(t *testing.T) {
	up := newUpstream(t, "reviews")
	vs := fmt.Sprintf(reviewsVS, `  - match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {exact: /exact}}]
    rewrite: {uri: /whole, authority: rewritten.example.com}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /re/}}]
    rewrite: {uriRegexRewrite: {match: "^/re/([a-z]+)/([0-9]+)$", rewrite: "/\\2/\\1"}}
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`)
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	cases := []struct {
		path, wantURI, wantOrig, wantHost string
	}{
		{"/old/x?q=1", "/new/x?q=1", "/old/x?q=1", "reviews"},
		{"/oldish", "/newish", "/oldish", "reviews"},
		{"/exact?k=v", "/whole?k=v", "/exact?k=v", "rewritten.example.com"},
		{"/re/abc/123?z", "/123/abc?z", "/re/abc/123?z", "reviews"},
		{"/plain", "/plain", "", "reviews"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			expect(t, h.get("reviews", tc.path), 200, "reviews")
			last := up.last(t)
			if last.RequestURI != tc.wantURI || last.Header.Get("X-Envoy-Original-Path") != tc.wantOrig || last.Host != tc.wantHost {
				t.Errorf("upstream saw %q orig %q host %q", last.RequestURI, last.Header.Get("X-Envoy-Original-Path"), last.Host)
			}
		})
	}
	// The access log shows the path as the client sent it.
	for _, l := range h.accessLog() {
		if strings.Contains(l, "/new/x") {
			t.Errorf("log shows the rewritten path: %q", l)
		}
	}
}

// Header operations at route and destination level, on requests and
// upstream responses; a host set becomes the authority.
func TestHeaderOperations(t *testing.T) {
	up := newUpstream(t, "reviews")
	vs := fmt.Sprintf(reviewsVS, `  - headers:
      request:
        set: {x-set: route, x-both: route, host: authority.example.com}
        add: {x-add: route}
        remove: [x-remove]
      response:
        set: {x-resp: route}
        remove: [x-upstream]
    route:
    - destination: {host: reviews}
      headers:
        request: {set: {x-both: destination}, add: {x-dest: d}}
        response: {add: {x-resp-dest: d}}
`)
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	r := h.get("reviews", "/", "X-Remove: gone", "X-Add: client")
	expect(t, r, 200, "reviews")
	got := up.last(t)
	if got.Host != "authority.example.com" {
		t.Errorf("authority %q", got.Host)
	}
	for k, want := range map[string]string{"X-Set": "route", "X-Both": "destination", "X-Dest": "d", "X-Remove": ""} {
		if got.Header.Get(k) != want {
			t.Errorf("upstream %s = %q, want %q", k, got.Header.Get(k), want)
		}
	}
	if add := got.Header.Values("X-Add"); len(add) != 2 || add[0] != "client" || add[1] != "route" {
		t.Errorf("x-add %q", add)
	}
	if r.header.Get("X-Resp") != "route" || r.header.Get("X-Resp-Dest") != "d" || r.header.Get("X-Upstream") != "" {
		t.Errorf("response headers %v", r.header)
	}
}

func TestAccessLogFormat(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	h.get("reviews:9080", "/status/418?x=1", "User-Agent: curl/8", "X-Request-Id: 84961386-6d84-929d-98bd-c5aee93b5c88")
	line := h.accessLog()[0]
	// [2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "8496…" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default
	re := `^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /status/418\?x=1 HTTP/1\.1" 418 - via_upstream - "-" 0 0 \d+ \d+ "-" "curl/8" "84961386-6d84-929d-98bd-c5aee93b5c88" "reviews:9080" "` +
		strings.ReplaceAll(up.addr(), ".", `\.`) + `" outbound\|9080\|\|reviews\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+ ` +
		strings.ReplaceAll(h.p.MeshAddr(), ".", `\.`) + ` 127\.0\.0\.1:\d+ - default$`
	if !regexpMatch(re, line) {
		t.Errorf("access log line\n%s\ndoes not match\n%s", line, re)
	}
}
