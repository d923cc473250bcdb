package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// corsHeaders are the CORS response headers a test compares.
var corsHeaderNames = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers",
}

// corsOf renders a response's CORS headers as "name=value" lines, sorted
// by corsHeaderNames, for whole comparisons.
func corsOf(r response) string {
	var b strings.Builder
	for _, k := range corsHeaderNames {
		if vv, ok := r.header[k]; ok {
			fmt.Fprintf(&b, "%s=%s;", k, strings.Join(vv, "|"))
		}
	}
	return b.String()
}

// A route's corsPolicy is answered as Envoy's CORS filter answers it:
// preflights from allowed origins get a 200 from the proxy (the upstream
// never sees them), actual requests from allowed origins carry
// allow-origin, allow-credentials and expose-headers on the upstream's
// response and on local replies, other origins pass unchanged.
func TestCORSPolicy(t *testing.T) {
	up := newUpstream(t, "ratings")
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /ignore}}]
    corsPolicy:
      allowOrigins: [{exact: https://example.com}]
      allowMethods: [GET]
      unmatchedPreflights: IGNORE
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /star}}]
    corsPolicy:
      allowOrigins: [{regex: ".*"}]
      allowMethods: ["*"]
      allowHeaders: ["*"]
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /abort}}]
    corsPolicy: {allowOrigins: [{exact: https://example.com}], exposeHeaders: [x-trace]}
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /old}}]
    corsPolicy: {allowOrigin: [https://old.example.com]}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /plain}}]
    route: [{destination: {host: ratings}}]
  - corsPolicy:
      allowOrigins: [{exact: https://example.com}, {prefix: "https://app."}, {regex: "https://[a-z]+\\.test"}]
      allowMethods: [POST, GET]
      allowHeaders: [content-type, x-user]
      exposeHeaders: [x-trace, x-span]
      maxAge: 24h
      allowCredentials: true
    headers: {response: {set: {access-control-allow-origin: overwritten}}}
    route: [{destination: {host: ratings}}]
`
	h := start(t, experiment(svc("ratings", 9080, up.addr()), vs))
	opt := func(path, origin string, extra ...string) response {
		t.Helper()
		hs := append([]string{"Origin: " + origin, "Access-Control-Request-Method: POST"}, extra...)
		return h.do(h.p.MeshAddr(), http.MethodOptions, "ratings:9080", path, hs...)
	}
	const full = "Access-Control-Allow-Origin=https://app.example.org;Access-Control-Allow-Credentials=true;"
	cases := []struct {
		name     string
		res      response
		code     int
		body     string
		cors     string
		upstream bool // the request reached the upstream
	}{
		{"preflight from an origin a prefix allows: answered by the proxy with every preflight header",
			opt("/", "https://app.example.org", "Access-Control-Request-Headers: x-user"), 200, "",
			full + "Access-Control-Allow-Methods=POST,GET;Access-Control-Allow-Headers=content-type,x-user;Access-Control-Max-Age=86400;Access-Control-Expose-Headers=x-trace,x-span;", false},
		{"preflight from an origin a regex allows",
			opt("/", "https://abc.test"), 200, "",
			"Access-Control-Allow-Origin=https://abc.test;Access-Control-Allow-Credentials=true;Access-Control-Allow-Methods=POST,GET;Access-Control-Allow-Headers=content-type,x-user;Access-Control-Max-Age=86400;Access-Control-Expose-Headers=x-trace,x-span;", false},
		{"preflight from an origin not allowed: forwarded (unmatchedPreflights FORWARD by default), no CORS headers but the route's",
			opt("/", "https://evil.example"), 200, "ratings", "Access-Control-Allow-Origin=overwritten;", true},
		{"preflight from an origin not allowed with IGNORE: answered without allow-origin",
			opt("/ignore", "https://evil.example"), 200, "", "Access-Control-Allow-Methods=GET;", false},
		{"OPTIONS without Access-Control-Request-Method is no preflight: forwarded, allow-origin added",
			h.do(h.p.MeshAddr(), http.MethodOptions, "ratings:9080", "/", "Origin: https://example.com"), 200, "ratings",
			"Access-Control-Allow-Origin=https://example.com;Access-Control-Allow-Credentials=true;Access-Control-Expose-Headers=x-trace,x-span;", true},
		{"actual request from an allowed origin: the upstream's response gets allow-origin over the route's header op",
			h.get("ratings:9080", "/", "Origin: https://app.example.org"), 200, "ratings",
			full + "Access-Control-Expose-Headers=x-trace,x-span;", true},
		{"actual request from an origin not allowed: no CORS headers, the route's header op stays",
			h.get("ratings:9080", "/", "Origin: https://evil.example"), 200, "ratings", "Access-Control-Allow-Origin=overwritten;", true},
		{"request without Origin: no CORS headers",
			h.get("ratings:9080", "/plain/x"), 200, "ratings", "", true},
		{"\"*\" methods and headers echo the preflight's own",
			opt("/star", "https://any.where", "Access-Control-Request-Headers: x-a,x-b"), 200, "",
			"Access-Control-Allow-Origin=https://any.where;Access-Control-Allow-Methods=POST;Access-Control-Allow-Headers=x-a,x-b;", false},
		{"an injected abort (after the CORS filter) carries allow-origin and expose-headers",
			h.get("ratings:9080", "/abort", "Origin: https://example.com"), 418, "fault filter abort",
			"Access-Control-Allow-Origin=https://example.com;Access-Control-Expose-Headers=x-trace;", false},
		{"a preflight never reaches the fault filter",
			opt("/abort", "https://example.com"), 200, "",
			"Access-Control-Allow-Origin=https://example.com;Access-Control-Expose-Headers=x-trace;", false},
		{"the deprecated allowOrigin list is exact origins",
			h.get("ratings:9080", "/old", "Origin: https://old.example.com"), 200, "ratings", "Access-Control-Allow-Origin=https://old.example.com;", true},
		{"route without corsPolicy: a preflight is a request like any other",
			opt("/plain", "https://example.com"), 200, "ratings", "", true},
	}
	for _, tc := range cases {
		if tc.res.code != tc.code || tc.res.body != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, tc.res.code, tc.res.body, tc.code, tc.body)
		}
		if got := corsOf(tc.res); got != tc.cors {
			t.Errorf("%s:\n got CORS headers %s\nwant %s", tc.name, got, tc.cors)
		}
		if got, want := tc.res.header.Get("X-Upstream") == "ratings", tc.upstream; got != want {
			t.Errorf("%s: reached the upstream %v, want %v", tc.name, got, want)
		}
	}
	forwarded := 0
	for _, tc := range cases {
		if tc.upstream {
			forwarded++
		}
	}
	if got := int(up.hits.Load()); got != forwarded {
		t.Errorf("the upstream saw %d requests, want %d (preflights the proxy answered never reach it)", got, forwarded)
	}
	lines := h.accessLog()
	preflights := 0
	for _, l := range lines {
		if strings.Contains(l, "\"OPTIONS ") && strings.Contains(l, " cors_response ") {
			preflights++
		}
	}
	if preflights != 5 {
		t.Errorf("%d access-log lines with cors_response, want 5:\n%s", preflights, strings.Join(lines, "\n"))
	}
}
