package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// fuzzTable exercises every matcher kind; each rule answers locally so no
// upstream is needed.
const fuzzTable = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews, "*.example.com"]
  http:
  - match:
    - uri: {regex: "/api/v[0-9]+/.*"}
      headers: {x-user: {regex: "a.*z"}}
    directResponse: {status: 201, body: {string: regex}}
  - match:
    - uri: {exact: /Exact}
      ignoreUriCase: true
      method: {exact: POST}
    directResponse: {status: 202}
  - match:
    - queryParams: {q: {exact: ""}, r: {regex: "[0-9]+"}}
    - withoutHeaders: {end-user: {exact: jason}}
      authority: {prefix: reviews}
      uri: {prefix: /without}
    redirect: {uri: /moved, redirectCode: 308}
  - match:
    - headers: {end-user: {}, x-p: {prefix: ab}}
      scheme: {exact: http}
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: reviews}}]
  - directResponse: {status: 200}
`

// FuzzRouting sends arbitrary requests through a table with every kind of
// matcher: the proxy must answer every one with a valid status and never
// panic.
//
//	go test -run '^$' -fuzz FuzzRouting -fuzztime 60s ./proxy/
func FuzzRouting(f *testing.F) {
	h := start(f, experiment(svc("reviews", 9080, "127.0.0.1:1"), fuzzTable))
	handler := h.p.Handler("mesh")
	f.Add("GET", "reviews:9080", "/api/v1/x", "q&r=12", "abz", "jason", "abc")
	f.Add("POST", "REVIEWS", "/exact", "", "", "", "")
	f.Add("GET", "a.example.com", "/without?x", "q=", "", "bob", "")
	f.Add("PUT", "", "//..%2f", "%zz", "\x00", "\xff", "")
	f.Fuzz(func(t *testing.T, method, host, path, query, user, endUser, p string) {
		if !validMethod(method) {
			method = "GET"
		}
		req := &http.Request{
			Method: method, Host: host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			URL:        &url.URL{Path: path, RawQuery: query},
			Header:     http.Header{"X-User": {user}, "End-User": {endUser}, "X-P": {p}},
			RemoteAddr: "127.0.0.1:5555",
			Body:       http.NoBody,
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%s %q %q?%q: status %d", method, host, path, query, rec.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
