package proxy_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Without a VirtualService a known service gets Istio's default route;
// the mesh matches FQDN and short names, ignores the port and case, and
// also serves clients that use it as HTTP_PROXY.
func TestMeshHostRouting(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	for _, host := range []string{
		"reviews", "reviews:9080", "reviews:1234", "reviews.default", "reviews.default.svc",
		"reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local:9080", "REVIEWS.Default",
	} {
		t.Run(host, func(t *testing.T) {
			r := h.get(host, "/x?q=1")
			expect(t, r, 200, "reviews")
			if got := up.last(t).RequestURI; got != "/x?q=1" {
				t.Errorf("upstream saw %q", got)
			}
			if got := up.last(t).Host; got != host {
				t.Errorf("upstream Host %q, want %q (preserved)", got, host)
			}
		})
	}
	t.Run("absolute URI", func(t *testing.T) {
		r := h.viaProxy("http://reviews:9080/abs/path?x=y")
		expect(t, r, 200, "reviews")
		last := up.last(t)
		if last.RequestURI != "/abs/path?x=y" || last.Host != "reviews:9080" {
			t.Errorf("upstream saw %q Host %q", last.RequestURI, last.Host)
		}
	})
	t.Run("unknown host is block_all 502", func(t *testing.T) {
		r := h.get("example.com", "/")
		expect(t, r, 502, "")
		if r.header.Get("Server") != "envoy" {
			t.Errorf("server %q", r.header.Get("Server"))
		}
		if r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
			t.Error("local reply carries x-envoy-upstream-service-time")
		}
	})
	s := h.p.Stats()
	if c, ok := s.Cluster("outbound|9080||reviews.default.svc.cluster.local"); !ok || c.UpstreamRqTotal != 9 || c.Codes["upstream_rq_200"] != 9 {
		t.Errorf("cluster stats %+v", c)
	}
	if l, _ := s.Listener("mesh"); l.BlockAll != 1 || l.Requests != 10 {
		t.Errorf("listener stats %+v", l)
	}
	lines := h.accessLog()
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, " block_all") || !strings.Contains(last, "\" 502 - direct_response - ") {
		t.Errorf("block_all log line %q", last)
	}
}

const reviewsVS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
%s`

func reviewsSubsets() string {
	return `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
  - {name: empty, labels: {version: v9}}`
}

func threeVersions(t *testing.T) (v1, v2, v3 *upstream, services string) {
	v1, v2, v3 = newUpstream(t, "v1"), newUpstream(t, "v2"), newUpstream(t, "v3")
	return v1, v2, v3, svc("reviews", 9080, v1.addr()+"@version=v1", v2.addr()+"@version=v2", v3.addr()+"@version=v3")
}

// First matching rule wins; a catch-all ends the route list; a host the
// VirtualService does not match gets 404 NR with an empty body.
func TestFirstMatchWinsAndCatchAll(t *testing.T) {
	_, _, _, services := threeVersions(t)
	vs := fmt.Sprintf(reviewsVS, `  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /only}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v3}}]
`)
	h := start(t, experiment(services, vs, reviewsSubsets()))
	expect(t, h.get("reviews", "/", "end-user: jason"), 200, "v2")
	expect(t, h.get("reviews", "/", "end-user: bob"), 200, "v1")
	expect(t, h.get("reviews", "/only/x"), 200, "v3")
	expect(t, h.get("reviews", "/"), 200, "v1") // never v3: rule 3 is after the catch-all

	// A VirtualService without a catch-all: unmatched requests get 404 NR.
	h2 := start(t, experiment(services, fmt.Sprintf(reviewsVS, `  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: reviews, subset: v1}}]
`), reviewsSubsets()))
	r := h2.get("reviews", "/other")
	expect(t, r, 404, "")
	if h2.flag("NR") != 1 {
		t.Errorf("NR = %d", h2.flag("NR"))
	}
	if r.header.Get("Server") != "envoy" {
		t.Errorf("server %q", r.header.Get("Server"))
	}
}

// Every matcher kind, each rule answering its own direct response.
func TestMatchers(t *testing.T) {
	up := newUpstream(t, "reviews")
	rules := []string{
		`{match: [{uri: {exact: /exact}}]}`,
		`{match: [{uri: {exact: /fold}, ignoreUriCase: true}]}`,
		`{match: [{uri: {prefix: /pre}}]}`,
		`{match: [{uri: {regex: "/re/[0-9]+"}}]}`,
		`{match: [{method: {exact: DELETE}}]}`,
		`{match: [{authority: {exact: "reviews:7777"}}]}`,
		`{match: [{headers: {x-exact: {exact: a}}}]}`,
		`{match: [{headers: {x-prefix: {prefix: ab}}}]}`,
		`{match: [{headers: {x-regex: {regex: "v[0-9]"}}}]}`,
		`{match: [{headers: {x-present: {}}}]}`,
		`{match: [{headers: {x-star: {regex: "*"}}}]}`,
		`{match: [{headers: {x-multi: {exact: "a,b"}}}]}`,
		`{match: [{uri: {prefix: /wo-exact}, withoutHeaders: {end-user: {exact: jason}}}]}`,
		`{match: [{uri: {prefix: /wo-presence}, withoutHeaders: {end-user: {regex: "*"}}}]}`,
		`{match: [{uri: {prefix: /wo-any}, withoutHeaders: {end-user: {regex: ".*"}}}]}`,
		`{match: [{queryParams: {flag: {exact: ""}}}]}`,
		`{match: [{queryParams: {id: {regex: "\\d+"}}}]}`,
		`{match: [{queryParams: {present: {}}}]}`,
		`{match: [{uri: {prefix: /port}, port: 8080}]}`,
		`{match: [{scheme: {exact: https}}]}`,
		`{match: [{uri: {prefix: /and}, method: {exact: POST}, headers: {x-and: {exact: "1"}}}]}`,
	}
	var b strings.Builder
	for i, r := range rules {
		fmt.Fprintf(&b, "  - %s\n", strings.TrimSuffix(r, "}")+fmt.Sprintf(", directResponse: {status: 200, body: {string: r%d}}}", i))
	}
	b.WriteString("  - directResponse: {status: 200, body: {string: fallback}}\n")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, b.String())))

	cases := []struct {
		name, method, host, path string
		headers                  []string
		want                     string
	}{
		{"exact ignores the query", "GET", "reviews", "/exact?x=1", nil, "r0"},
		{"exact is exact", "GET", "reviews", "/exact/more", nil, "fallback"},
		{"exact is case-sensitive", "GET", "reviews", "/EXACT", nil, "fallback"},
		{"ignoreUriCase", "GET", "reviews", "/FOLD", nil, "r1"},
		{"prefix is not segment-aware", "GET", "reviews", "/prefix", nil, "r2"},
		{"regex full match", "GET", "reviews", "/re/123", nil, "r3"},
		{"regex must match whole path", "GET", "reviews", "/re/123x", nil, "fallback"},
		{"regex ignores the query", "GET", "reviews", "/re/7?a=b", nil, "r3"},
		{"method", "DELETE", "reviews", "/", nil, "r4"},
		{"authority as sent, port included", "GET", "reviews:7777", "/", nil, "r5"},
		{"authority port differs", "GET", "reviews:7778", "/", nil, "fallback"},
		{"header exact", "GET", "reviews", "/", []string{"x-exact: a"}, "r6"},
		{"header exact mismatch", "GET", "reviews", "/", []string{"x-exact: ab"}, "fallback"},
		{"header prefix", "GET", "reviews", "/", []string{"x-prefix: abc"}, "r7"},
		{"header regex full", "GET", "reviews", "/", []string{"x-regex: v1"}, "r8"},
		{"header regex not partial", "GET", "reviews", "/", []string{"x-regex: v10"}, "fallback"},
		{"header presence {}", "GET", "reviews", "/", []string{"x-present: "}, "r9"},
		{"header presence regex *", "GET", "reviews", "/", []string{"x-star: anything"}, "r10"},
		{"repeated header joined with ,", "GET", "reviews", "/", []string{"x-multi: a", "x-multi: b"}, "r11"},

		{"withoutHeaders exact: absent", "GET", "reviews", "/wo-exact", nil, "r12"},
		{"withoutHeaders exact: empty", "GET", "reviews", "/wo-exact", []string{"end-user: "}, "r12"},
		{"withoutHeaders exact: jason", "GET", "reviews", "/wo-exact", []string{"end-user: jason"}, "fallback"},
		{"withoutHeaders exact: bob", "GET", "reviews", "/wo-exact", []string{"end-user: bob"}, "r12"},
		{"withoutHeaders presence: absent", "GET", "reviews", "/wo-presence", nil, "r13"},
		{"withoutHeaders presence: empty", "GET", "reviews", "/wo-presence", []string{"end-user: "}, "fallback"},
		{"withoutHeaders presence: jason", "GET", "reviews", "/wo-presence", []string{"end-user: jason"}, "fallback"},
		{"withoutHeaders presence: bob", "GET", "reviews", "/wo-presence", []string{"end-user: bob"}, "fallback"},
		{"withoutHeaders .*: absent", "GET", "reviews", "/wo-any", nil, "fallback"},
		{"withoutHeaders .*: empty", "GET", "reviews", "/wo-any", []string{"end-user: "}, "fallback"},
		{"withoutHeaders .*: jason", "GET", "reviews", "/wo-any", []string{"end-user: jason"}, "fallback"},
		{"withoutHeaders .*: bob", "GET", "reviews", "/wo-any", []string{"end-user: bob"}, "fallback"},

		{"query exact empty: ?flag", "GET", "reviews", "/?flag", nil, "r15"},
		{"query exact empty: ?flag=", "GET", "reviews", "/?flag=", nil, "r15"},
		{"query exact empty: ?flag=1", "GET", "reviews", "/?flag=1", nil, "fallback"},
		{"query regex full", "GET", "reviews", "/?id=123", nil, "r16"},
		{"query regex not partial", "GET", "reviews", "/?id=a123", nil, "fallback"},
		{"query presence", "GET", "reviews", "/?present=whatever", nil, "r17"},
		{"port from Host", "GET", "reviews:8080", "/port", nil, "r18"},
		{"port: the service port when Host has none", "GET", "reviews", "/port", nil, "fallback"},
		{"scheme is http", "GET", "reviews", "/scheme", nil, "fallback"},
		{"fields are AND'ed", "POST", "reviews", "/and", []string{"x-and: 1"}, "r20"},
		{"fields are AND'ed, one missing", "POST", "reviews", "/and", nil, "fallback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(h.p.MeshAddr(), tc.method, tc.host, tc.path, tc.headers...)
			expect(t, r, 200, tc.want)
			if r.header.Get("Content-Type") != "text/plain" {
				t.Errorf("content-type %q", r.header.Get("Content-Type"))
			}
		})
	}
	if up.hits.Load() != 0 {
		t.Errorf("upstream saw %d requests", up.hits.Load())
	}
}

// Weighted destinations split traffic within binomial bounds, and the
// same seed gives the same split.
func TestWeightedSplit(t *testing.T) {
	v1, v2, _, services := threeVersions(t)
	vs := fmt.Sprintf(reviewsVS, `  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
    - {destination: {host: reviews, subset: v3}, weight: 0}
`)
	h := start(t, experiment(services, vs, reviewsSubsets()))
	const n = 2000
	for i := 0; i < n; i++ {
		if r := h.get("reviews", "/"); r.code != 200 {
			t.Fatalf("request %d: %d %q", i, r.code, r.body)
		}
	}
	within(t, "v1 share", int(v1.hits.Load()), n, 0.8)
	if got := v1.hits.Load() + v2.hits.Load(); got != n {
		t.Errorf("v1+v2 = %d, want %d (weight 0 dropped)", got, n)
	}
	s := h.p.Stats()
	c1, _ := s.Cluster("outbound|9080|v1|reviews.default.svc.cluster.local")
	c2, _ := s.Cluster("outbound|9080|v2|reviews.default.svc.cluster.local")
	if c1.UpstreamRqTotal != v1.hits.Load() || c2.UpstreamRqTotal != v2.hits.Load() {
		t.Errorf("cluster totals %d/%d, upstream hits %d/%d", c1.UpstreamRqTotal, c2.UpstreamRqTotal, v1.hits.Load(), v2.hits.Load())
	}
	if s.UpstreamRequests != n {
		t.Errorf("upstreamRequests = %d", s.UpstreamRequests)
	}
}

// A single destination takes 100 % whatever its weight.
func TestSingleDestinationWeightZero(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, `  - route: [{destination: {host: reviews}, weight: 0}]
`)))
	for i := 0; i < 10; i++ {
		expect(t, h.get("reviews", "/"), 200, "reviews")
	}
}

// Subsets select endpoints by label; a subset no DestinationRule defines
// is 503 NC with an empty body; a subset without endpoints is 503 UH.
func TestSubsetsNCAndUH(t *testing.T) {
	_, _, _, services := threeVersions(t)
	vs := fmt.Sprintf(reviewsVS, `  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /missing}}]
    route: [{destination: {host: reviews, subset: nope}}]
  - match: [{uri: {prefix: /empty}}]
    route: [{destination: {host: reviews, subset: empty}}]
`)
	h := start(t, experiment(services, vs, reviewsSubsets()))
	for i := 0; i < 10; i++ {
		expect(t, h.get("reviews", "/v2"), 200, "v2")
	}
	r := h.get("reviews", "/missing")
	expect(t, r, 503, "")
	r = h.get("reviews", "/empty")
	expect(t, r, 503, "no healthy upstream")
	if r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("UH headers %v", r.header)
	}
	s := h.p.Stats()
	if s.ByFlag["NC"] != 1 || s.ByFlag["UH"] != 1 {
		t.Errorf("flags %v", s.ByFlag)
	}
	if c, _ := s.Cluster("outbound|9080|empty|reviews.default.svc.cluster.local"); c.UpstreamCxNoneHealthy != 1 {
		t.Errorf("none healthy %+v", c)
	}
	lines := h.accessLog()
	var nc, uh bool
	for _, l := range lines {
		nc = nc || strings.Contains(l, " 503 NC cluster_not_found ")
		uh = uh || strings.Contains(l, " 503 UH no_healthy_upstream ")
	}
	if !nc || !uh {
		t.Errorf("access log lacks NC or UH lines:\n%s", strings.Join(lines, "\n"))
	}
}

// ROUND_ROBIN cycles; RANDOM and LEAST_REQUEST spread the load.
func TestLoadBalancers(t *testing.T) {
	for _, lb := range []string{"ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "LEAST_CONN"} {
		t.Run(lb, func(t *testing.T) {
			a, b := newUpstream(t, "a"), newUpstream(t, "b")
			dr := fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: %s}}`, lb)
			h := start(t, experiment(svc("reviews", 9080, a.addr(), b.addr()), dr))
			var seq []string
			for i := 0; i < 400; i++ {
				seq = append(seq, h.get("reviews", "/").body)
			}
			if lb == "ROUND_ROBIN" {
				for i := 1; i < len(seq); i++ {
					if seq[i] == seq[i-1] {
						t.Fatalf("round robin repeated %s at %d", seq[i], i)
					}
				}
				return
			}
			within(t, "endpoint a", int(a.hits.Load()), 400, 0.5)
		})
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Headers the proxy adds upstream and downstream, hop-by-hop removal.
func TestStandardHeaders(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	r := h.get("reviews", "/", "Connection: X-Drop", "X-Drop: 1", "X-Keep: 2", "X-Forwarded-For: 10.0.0.1")
	expect(t, r, 200, "reviews")
	got := up.last(t).Header
	if id := got.Get("X-Request-Id"); !uuidV4.MatchString(id) {
		t.Errorf("x-request-id %q is not a UUIDv4", id)
	}
	for k, want := range map[string]string{
		"X-Envoy-Attempt-Count":          "1",
		"X-Forwarded-Proto":              "http",
		"X-Forwarded-For":                "10.0.0.1, 127.0.0.1",
		"X-Keep":                         "2",
		"X-Drop":                         "",
		"X-Envoy-Expected-Rq-Timeout-Ms": "",
	} {
		if got.Get(k) != want {
			t.Errorf("upstream %s = %q, want %q", k, got.Get(k), want)
		}
	}
	if r.header.Get("Server") != "envoy" {
		t.Errorf("server %q: must overwrite upstream's", r.header.Get("Server"))
	}
	if v := r.header.Get("X-Envoy-Upstream-Service-Time"); v == "" {
		t.Error("no x-envoy-upstream-service-time on an upstream response")
	}
	if r.header.Get("X-Upstream") != "reviews" {
		t.Error("upstream response header not relayed")
	}
	h.get("reviews", "/", "X-Request-Id: given-id")
	if got := up.last(t).Header.Get("X-Request-Id"); got != "given-id" {
		t.Errorf("x-request-id %q, want the client's", got)
	}
	// A POST body streams through.
	req, _ := http.NewRequest("POST", "http://"+h.p.MeshAddr()+"/post", strings.NewReader(strings.Repeat("b", 100000)))
	req.Host = "reviews"
	res, err := h.client.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("post: %v %v", err, res)
	}
	res.Body.Close()
	if up.last(t).ContentLength != 100000 {
		t.Errorf("upstream content-length %d", up.last(t).ContentLength)
	}
}
