package experiment_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/server/demo"
)

// Probes: single requests driven through a scenario's own listeners (its
// proxy and demo targets started directly), for what a load report cannot
// show: status of one path, headers, bodies, the time one call takes.

// TestIngressGatewayPaths is docs/scenarios.md (Ingress gateway exposing
// some paths).
func TestIngressGatewayPaths(t *testing.T) {
	t.Parallel()
	h := start(t, parseSource(t, scenarioSource(t, "ingress-gateway-paths.yaml")))
	gw, mesh := h.gateway(t, "httpbin-gateway", 80), h.px.MeshAddr()
	const host = "httpbin.example.com"

	a := get(t, gw, host, "/status/200", nil)
	if a.status != 200 || a.header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Errorf("GET /status/200 = %d %v, want 200 with x-envoy-upstream-service-time", a.status, a.header)
	}
	if a = get(t, gw, host, "/delay/1", nil); a.status != 200 || a.took < time.Second {
		t.Errorf("GET /delay/1 = %d after %v, want 200 after at least 1 s", a.status, a.took)
	}
	if a = get(t, gw, host, "/headers", nil); a.status != 404 || a.body != "" {
		t.Errorf("GET /headers = %d %q, want 404 with an empty body (no route)", a.status, a.body)
	}
	if a = get(t, gw, "other.example.com", "/status/200", nil); a.status != 404 {
		t.Errorf("GET /status/200 with another Host = %d, want 404", a.status)
	}
	// The mesh does not apply a VirtualService bound only to the gateway:
	// httpbin.example.com is no service there, and httpbin itself keeps
	// its default route, /headers included.
	if a = get(t, mesh, host, "/status/200", nil); a.status == 200 {
		t.Errorf("the mesh routed Host %s: %d, want it refused", host, a.status)
	}
	wantSeen(t, h.targets, map[string][]int64{"httpbin": {2}}) // /status/200 and /delay/1 only
	if a = get(t, mesh, "httpbin:8000", "/headers", nil); a.status != 200 {
		t.Errorf("mesh GET httpbin:8000/headers = %d, want 200 (the gateway's VirtualService does not apply)", a.status)
	}
	st := h.px.Stats()
	if l, _ := st.Listener("httpbin-gateway:80"); l.NoRoute != 2 || st.ByFlag["NR"] != 2 {
		t.Errorf("gateway no_route %d, NR flags %d; want 2 (/headers and the other Host)", l.NoRoute, st.ByFlag["NR"])
	}
}

// TestEgressGatewayTwoHops is docs/scenarios.md (Egress through a gateway),
// for exactly one request.
func TestEgressGatewayTwoHops(t *testing.T) {
	t.Parallel()
	h := start(t, parseSource(t, scenarioSource(t, "egress-gateway.yaml")))
	mesh, gw := h.px.MeshAddr(), h.gateway(t, "istio-egressgateway", 80)

	a := get(t, mesh, "httpbin.org", "/ip", nil)
	var ip struct{ Origin string }
	if a.status != 200 || json.Unmarshal([]byte(a.body), &ip) != nil || ip.Origin != "127.0.0.1" {
		t.Fatalf("GET http://httpbin.org/ip = %d %q, want 200 with the demo's JSON", a.status, a.body)
	}
	st := h.px.Stats()
	if l, _ := st.Listener("istio-egressgateway:80"); l.Requests != 1 {
		t.Errorf("the egress gateway listener saw %d requests, want 1", l.Requests)
	}
	log := h.closeLog()
	if n := len(logLines(log, "outbound|80||httpbin.org", gw)); n != 1 {
		t.Errorf("egress gateway log lines to outbound|80||httpbin.org: %d, want 1\n%s", n, log)
	}
	if n := len(logLines(log, "outbound|80|httpbin|istio-egressgateway.istio-system.svc.cluster.local", mesh)); n != 1 {
		t.Errorf("mesh log lines to the egress gateway: %d, want 1\n%s", n, log)
	}
	if n := strings.Count(strings.TrimSpace(log), "\n") + 1; n != 2 {
		t.Errorf("access log has %d lines, want 2 (one per hop)\n%s", n, log)
	}
	if s := h.target(t, "httpbin.org", 0).Seen(); len(s) != 1 || s[0].Host != "httpbin.org" {
		t.Errorf("httpbin.org saw %+v, want one request with Host httpbin.org", s)
	}
}

// TestReviewsTimeoutPage is docs/scenarios.md (Timeout while ratings is
// slow), one page and one direct call.
func TestReviewsTimeoutPage(t *testing.T) {
	t.Parallel()
	h := start(t, parseSource(t, scenarioSource(t, "reviews-timeout.yaml")))
	mesh := h.px.MeshAddr()
	answers := parallelGets(t,
		func() answer { return get(t, mesh, "productpage:9080", "/productpage", nil) },
		func() answer { return get(t, mesh, "reviews:9080", "/reviews/0", nil) },
	)
	page, reviews := answers[0], answers[1]
	if page.status != 200 || !strings.Contains(page.body, demo.ReviewsUnavailable) {
		t.Errorf("page = %d, want 200 with %q:\n%s", page.status, demo.ReviewsUnavailable, page.body)
	}
	if page.took < 2*time.Second || page.took >= 3*time.Second {
		t.Errorf("page took %v, want about 2 s (two 1 s timeouts, never the 2 s delay plus ratings)", page.took)
	}
	if reviews.status != 504 || reviews.body != "upstream request timeout" || reviews.took < time.Second {
		t.Errorf("reviews = %d %q after %v, want 504 upstream request timeout after 1 s", reviews.status, reviews.body, reviews.took)
	}
	st := h.px.Stats()
	if rs, _ := st.Route("reviews", 0); rs.Timeouts != 3 {
		t.Errorf("reviews route timeouts = %d, want 3 (two for the page, one direct)", rs.Timeouts)
	}
	if rs, _ := st.Route("ratings", 0); rs.DelaysInjected != 3 {
		t.Errorf("ratings route delays = %d, want 3", rs.DelaysInjected)
	}
	wantSeen(t, h.targets, map[string][]int64{"reviews": {0, 3, 0}, "ratings": {0}})
}

// TestRatingsDelayForJasonOnly is docs/scenarios.md (Fault injection for one
// user): jason waits, others do not.
func TestRatingsDelayForJasonOnly(t *testing.T) {
	t.Parallel()
	h := start(t, parseSource(t, scenarioSource(t, "ratings-fault-jason.yaml")))
	mesh := h.px.MeshAddr()
	jason := map[string]string{"end-user": "jason"}
	answers := parallelGets(t,
		func() answer { return get(t, mesh, "productpage:9080", "/productpage", jason) },
		func() answer { return get(t, mesh, "productpage:9080", "/productpage", nil) },
		func() answer { return get(t, mesh, "ratings:9080", "/ratings/0", jason) },
		func() answer { return get(t, mesh, "ratings:9080", "/ratings/0", nil) },
	)
	jasonPage, page, jasonRatings, ratings := answers[0], answers[1], answers[2], answers[3]
	if jasonPage.status != 200 || !strings.Contains(jasonPage.body, demo.ReviewsUnavailable) ||
		jasonPage.took < 6*time.Second || jasonPage.took >= 7*time.Second {
		t.Errorf("jason's page = %d after %v, want 200 after 6 s (3 s + one retry) with the reviews error:\n%s", jasonPage.status, jasonPage.took, jasonPage.body)
	}
	if page.status != 200 || !strings.Contains(page.body, `color="black"`) || page.took >= time.Second {
		t.Errorf("anonymous page = %d after %v, want 200 at once with black stars:\n%s", page.status, page.took, page.body)
	}
	if jasonRatings.status != 200 || jasonRatings.took < 7*time.Second {
		t.Errorf("jason's ratings call = %d after %v, want 200 after at least 7 s", jasonRatings.status, jasonRatings.took)
	}
	if ratings.status != 200 || ratings.took >= time.Second {
		t.Errorf("anonymous ratings call = %d after %v, want 200 at once", ratings.status, ratings.took)
	}
	if st := h.px.Stats(); st.ByFlag["DI"] != 3 {
		t.Errorf("DI flags = %d, want 3 (two reviews tries of jason's page, his direct call)", st.ByFlag["DI"])
	}
}

// TestRatingsAbortForJasonOnly is docs/scenarios.md (Fault injection for one
// user), abort variant.
func TestRatingsAbortForJasonOnly(t *testing.T) {
	t.Parallel()
	h := start(t, parseSource(t, scenarioSource(t, "ratings-fault-jason-abort.yaml")))
	mesh := h.px.MeshAddr()
	jason := map[string]string{"end-user": "jason"}

	a := get(t, mesh, "ratings:9080", "/ratings/0", jason)
	if a.status != 500 || a.body != "fault filter abort" || a.header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("jason's ratings call = %d %q %v, want 500 fault filter abort from the proxy", a.status, a.body, a.header)
	}
	if a = get(t, mesh, "ratings:9080", "/ratings/0", nil); a.status != 200 {
		t.Errorf("anonymous ratings call = %d, want 200", a.status)
	}
	if a = get(t, mesh, "productpage:9080", "/productpage", jason); a.status != 200 ||
		!strings.Contains(a.body, demo.RatingsUnavailable) || strings.Contains(a.body, demo.ReviewsUnavailable) {
		t.Errorf("jason's page = %d, want 200 with the ratings error and the reviews:\n%s", a.status, a.body)
	}
	if a = get(t, mesh, "productpage:9080", "/productpage", nil); a.status != 200 || !strings.Contains(a.body, `color="black"`) {
		t.Errorf("anonymous page = %d, want black stars:\n%s", a.status, a.body)
	}
	if st := h.px.Stats(); st.ByFlag["FI"] != 2 {
		t.Errorf("FI flags = %d, want 2 (jason's direct call and his page's)", st.ByFlag["FI"])
	}
	for _, s := range h.target(t, "ratings", 0).Seen() {
		if s.Header.Get("End-User") == "jason" {
			t.Error("ratings saw one of jason's calls: aborts must come before any upstream attempt")
		}
	}
	wantSeen(t, h.targets, map[string][]int64{"ratings": {2}}) // the anonymous ones
}
