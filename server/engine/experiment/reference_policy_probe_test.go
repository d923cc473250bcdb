package experiment_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faultline/faultline/server/report"
)

// Probes of the scenarios that need retries, connection pools and
// mirroring (docs/scenarios.md: Retries with a per-try timeout, Circuit
// breaker under load, Mirroring to v2).

// istio18 makes a scenario replay Istio 1.8's defaults.
var istio18 = []string{"spec:\n  services:", "spec:\n  istioVersion: \"1.8\"\n  services:"}

// TestRetriesOfUpstream503DependOnTheIstioVersion: with a retries block but
// no retryOn, Istio 1.8's default policy retried an upstream 503
// (retriable-status-codes 503); since 1.24 it does not (docs/istio.md,
// Retries).
func TestRetriesOfUpstream503DependOnTheIstioVersion(t *testing.T) {
	t.Parallel()
	src := scenarioSource(t, "ratings-retries-upstream-slow.yaml")
	for _, tc := range []struct {
		name     string
		edits    []string
		attempts int64
	}{
		{"current Istio does not retry an upstream 503", nil, 1},
		{"Istio 1.8 retries it twice", istio18, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, parseSource(t, src, tc.edits...))
			a := get(t, h.px.MeshAddr(), "ratings:9080", "/status/503", nil)
			if a.status != 503 {
				t.Errorf("status %d, want the upstream's 503", a.status)
			}
			if got := h.target(t, "ratings", 0).Requests(); got != tc.attempts {
				t.Errorf("the upstream saw %d attempts, want %d", got, tc.attempts)
			}
			if got, want := h.px.Stats().Retries, tc.attempts-1; got != want {
				t.Errorf("retries = %d, want %d", got, want)
			}
		})
	}
}

// TestCircuitBreakerOverflowReply is docs/scenarios.md (Circuit breaker
// under load) for single requests: with one connection busy and one request
// pending, the next ones overflow at once with Envoy's 503; with one client
// nothing overflows.
func TestCircuitBreakerOverflowReply(t *testing.T) {
	t.Parallel()
	src := scenarioSource(t, "httpbin-circuit-breaker.yaml")
	h := start(t, parseSource(t, src))
	mesh := h.px.MeshAddr()
	slow := func() answer { return get(t, mesh, "httpbin:8000", "/delay/1", nil) }
	answers := parallelGets(t, slow, slow, slow, slow, slow)
	const body = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
	var ok, overflow int
	for _, a := range answers {
		switch a.status {
		case 200:
			ok++
		case 503:
			overflow++
			if a.header.Get("X-Envoy-Overloaded") != "true" || a.body != body || len(a.body) != 81 || a.took >= time.Second {
				t.Errorf("overflow = %q %v after %v, want at once the 81-byte overflow body and x-envoy-overloaded: true", a.body, a.header, a.took)
			}
		default:
			t.Errorf("status %d, want 200 or 503", a.status)
		}
	}
	if ok < 1 || overflow < 3 {
		t.Errorf("%d x 200, %d x 503; want at least 3 overflows of 5 (1 active + 1 pending)", ok, overflow)
	}
	if st := h.px.Stats(); st.ByFlag["UO"] != int64(overflow) || st.Overflows != int64(overflow) {
		t.Errorf("UO %d, overflows %d; want %d", st.ByFlag["UO"], st.Overflows, overflow)
	}

	t.Run("one connection never overflows", func(t *testing.T) {
		t.Parallel()
		r := execute(t, parseSource(t, src, "connections: 3", "connections: 1"))
		if r.report.Codes["200"] != 30 || r.report.Proxy.Overflows != 0 {
			t.Errorf("codes %v, overflows %d; want 30 x 200", r.report.Codes, r.report.Proxy.Overflows)
		}
		if r.report.Verdict != report.VerdictFail {
			t.Errorf("verdict %s: the scenario's hypothesis expects 503s, so one connection must falsify it", r.report.Verdict)
		}
	})
}

// TestMirrorNeverReachesTheClient is docs/scenarios.md (Mirroring to v2):
// v2's slowness or failure never reaches the client nor delays it.
func TestMirrorNeverReachesTheClient(t *testing.T) {
	t.Parallel()
	src := scenarioSource(t, "httpbin-mirror.yaml")
	slowV2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		http.Error(w, "slow and failing", http.StatusInternalServerError)
	}))
	t.Cleanup(slowV2.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadV2 := ln.Addr().String()
	ln.Close() // nothing listens there: the copy's connection is refused
	const v2 = "- {demo: httpbin, labels: {version: v2}}"
	for _, tc := range []struct{ name, addr string }{
		{"v2 slow and failing", slowV2.Listener.Addr().String()},
		{"v2 down", deadV2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, parseSource(t, src, v2, "- {address: "+tc.addr+", labels: {version: v2}}"))
			for range 5 {
				a := get(t, h.px.MeshAddr(), "httpbin:8000", "/headers", nil)
				if a.status != 200 || a.header.Get("X-Demo-Version") != "v1" || a.took >= 500*time.Millisecond {
					t.Errorf("response %d from %q after %v, want 200 from v1 at once", a.status, a.header.Get("X-Demo-Version"), a.took)
				}
			}
			if st := h.px.Stats(); st.Mirrored != 5 {
				t.Errorf("mirrored = %d, want 5", st.Mirrored)
			}
		})
	}
}
