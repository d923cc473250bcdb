package experiment_test

import (
	"strings"
	"testing"
)

// Outcome checks of the scenarios that need retries, connection pools,
// outlier detection and mirroring (docs/scenarios.md: Retries with a
// per-try timeout, Circuit breaker under load, Mirroring to v2).

// clusterCounter reads one of a cluster's counters by Envoy's stat name.
func clusterCounter(r *run, cluster, stat string) int64 {
	c, _ := r.report.Proxy.Cluster(cluster)
	return c.Counters()[stat]
}

const ratingsV1 = "outbound|9080|v1|ratings.default.svc.cluster.local"

func checkRetriesDelayRun(t *testing.T, r *run) {
	rep := r.report
	if rep.Codes["200"] != 2 || rep.Proxy.Retries != 0 || rep.Proxy.FaultsDelayed != 2 {
		t.Errorf("codes %v, retries %d, delays %d; want 2 x 200, no retry, 2 delays", rep.Codes, rep.Proxy.Retries, rep.Proxy.FaultsDelayed)
	}
	// The delay comes before the router: the per-try timeout never sees it.
	if n := clusterCounter(r, ratingsV1, "upstream_rq_per_try_timeout"); n != 0 {
		t.Errorf("upstream_rq_per_try_timeout = %d, want 0", n)
	}
	if got := r.target(t, "ratings", 0).Requests(); got != 2 {
		t.Errorf("ratings saw %d requests, want one per call (2)", got)
	}
	if rep.LatencyMs.Min < 5000 || rep.LatencyMs.Max >= 6000 {
		t.Errorf("latency %.1f..%.1f ms, want about 5 s", rep.LatencyMs.Min, rep.LatencyMs.Max)
	}
}

func checkRetriesSlowRun(t *testing.T, r *run) {
	rep := r.report
	if rep.Codes["504"] != 2 || rep.Proxy.Retries != 0 || rep.Proxy.ByFlag["UT"] != 2 {
		t.Errorf("codes %v, retries %d, flags %v; want 2 x 504 UT, no retry", rep.Codes, rep.Proxy.Retries, rep.Proxy.ByFlag)
	}
	if n := clusterCounter(r, ratingsV1, "upstream_rq_per_try_timeout"); n != 2 {
		t.Errorf("upstream_rq_per_try_timeout = %d, want 2", n)
	}
	if got := r.target(t, "ratings", 0).Requests(); got != 2 {
		t.Errorf("the slow upstream saw %d attempts, want 1 per call (2)", got)
	}
	if rep.LatencyMs.Min < 1000 || rep.LatencyMs.Max >= 2000 {
		t.Errorf("latency %.1f..%.1f ms, want about 1 s", rep.LatencyMs.Min, rep.LatencyMs.Max)
	}
}

func checkRetries5xxRun(t *testing.T, r *run) {
	rep := r.report
	if rep.Codes["504"] != 2 || rep.Proxy.Retries != 4 {
		t.Errorf("codes %v, retries %d; want 2 x 504 and 2 retries per call", rep.Codes, rep.Proxy.Retries)
	}
	if n := clusterCounter(r, ratingsV1, "upstream_rq_retry"); n != 4 {
		t.Errorf("upstream_rq_retry = %d, want 4", n)
	}
	seen := r.target(t, "ratings", 0).Seen()
	attempts := map[string]int{}
	for _, s := range seen {
		attempts[s.Header.Get("X-Envoy-Attempt-Count")]++
	}
	if len(seen) != 6 || attempts["1"] != 2 || attempts["2"] != 2 || attempts["3"] != 2 {
		t.Errorf("the upstream saw %d attempts with x-envoy-attempt-count %v, want 1, 2, 3 for each of 2 calls", len(seen), attempts)
	}
	if rep.LatencyMs.Min < 3000 || rep.LatencyMs.Max >= 4500 {
		t.Errorf("latency %.1f..%.1f ms, want about 3 s plus back-off", rep.LatencyMs.Min, rep.LatencyMs.Max)
	}
}

func checkCircuitBreakerRun(t *testing.T, r *run) {
	rep := r.report
	ok, overflow := rep.Codes["200"], rep.Codes["503"]
	if ok+overflow != 30 || ok == 0 || overflow == 0 {
		t.Errorf("codes %v, want 30 calls, both 200 and 503", rep.Codes)
	}
	if rep.Proxy.Overflows != overflow || rep.Proxy.ByFlag["UO"] != overflow {
		t.Errorf("overflows %d, UO %d, want both = the 503s (%d)", rep.Proxy.Overflows, rep.Proxy.ByFlag["UO"], overflow)
	}
	if n := clusterCounter(r, "outbound|8000||httpbin.default.svc.cluster.local", "upstream_rq_pending_overflow"); n != overflow {
		t.Errorf("upstream_rq_pending_overflow = %d, want %d", n, overflow)
	}
	if rep.Proxy.Ejections != 0 {
		t.Errorf("ejections = %d: overflow 503s never count towards outlier detection", rep.Proxy.Ejections)
	}
	if got := r.target(t, "httpbin", 0).Requests(); got != ok {
		t.Errorf("httpbin saw %d requests, want the %d that got 200: the 503s are the proxy's", got, ok)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, "consecutiveErrors") && strings.Contains(w, "ignored by Istio since 1.7")
	}
	if !found {
		t.Errorf("no consecutiveErrors warning among %q", rep.Warnings)
	}
}

// checkMirrorRun checks a mirroring run: every response from v1, copies to
// v2 carrying host, between lo and hi of them.
func checkMirrorRun(host string, lo, hi int64) func(t *testing.T, r *run) {
	return func(t *testing.T, r *run) {
		rep := r.report
		if rep.Codes["200"] != rep.Requests || rep.Proxy.UpstreamRequests != rep.Requests {
			t.Errorf("codes %v, upstream requests %d; want every call answered 200 by one upstream request", rep.Codes, rep.Proxy.UpstreamRequests)
		}
		v1, v2 := r.target(t, "httpbin", 0), r.target(t, "httpbin", 1)
		if got := v1.Requests(); got != rep.Requests {
			t.Errorf("v1 saw %d requests, want all %d", got, rep.Requests)
		}
		mirrored := rep.Proxy.Mirrored
		if mirrored < lo || mirrored > hi {
			t.Errorf("mirrored %d, want %d..%d", mirrored, lo, hi)
		}
		// Copies are fire-and-forget, and the proxy cancels those still in
		// flight when the run closes it: the last one of each connection
		// may be lost.
		lost := int64(r.report.Connections)
		if got := v2.Requests(); got > mirrored || got < mirrored-lost {
			t.Errorf("v2 saw %d copies, the proxy mirrored %d (at most %d may be cut at the end of the run)", got, mirrored, lost)
		}
		for _, s := range v2.Seen() {
			if s.Host != host {
				t.Errorf("v2 saw Host %q, want %q", s.Host, host)
				break
			}
		}
	}
}
