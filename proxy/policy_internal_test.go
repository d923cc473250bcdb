package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// compileDoc compiles an experiment: reviews on ports 9080 and 9081 with
// endpoints labelled v1 and v2, a VirtualService per subset, and dr.
func compileDoc(t *testing.T, istio, dr string) *Table {
	t.Helper()
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: t}
spec:
  istioVersion: "` + istio + `"
  services:
  - host: reviews
    port: 9080
    endpoints:
    - {address: "127.0.0.1:1001", labels: {version: v1}}
    - {address: "127.0.0.1:1002", labels: {version: v2}}
  - host: reviews
    port: 9081
    endpoints:
    - {address: "127.0.0.1:1003", labels: {version: v1}}
  load: {url: "http://reviews:9080/"}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x: {exact: "1"}}}]
    route: [{destination: {host: reviews, subset: v1, port: {number: 9080}}}]
  - match: [{headers: {x: {exact: "2"}}}]
    route: [{destination: {host: reviews, subset: v2, port: {number: 9080}}}]
  - match: [{headers: {x: {exact: "3"}}}]
    route: [{destination: {host: reviews, subset: v1, port: {number: 9081}}}]
  - match: [{headers: {x: {exact: "4"}}}]
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - route: [{destination: {host: reviews, port: {number: 9081}}}]
---
` + dr
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	tab, err := Compile(doc, Options{}, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return tab
}

func clusterOf(t *testing.T, tab *Table, port int, subset string) *cluster {
	t.Helper()
	c := tab.clusters[clusterName(uint32(port), subset, "reviews.default.svc.cluster.local")]
	if c == nil {
		t.Fatalf("no cluster %d/%s in %v", port, subset, tab.ClusterNames())
	}
	return c
}

// Policy inheritance (docs/istio.md, Policy lookup and inheritance): a
// subset's block replaces the DR-level block wholesale, unset blocks are
// inherited; a port-level policy replaces the whole policy and what it
// leaves unset falls back to the defaults, not to the DR level.
func TestPolicyResolution(t *testing.T) {
	tab := compileDoc(t, "", `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 7, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 8}
    outlierDetection: {consecutive5xxErrors: 3}
    portLevelSettings:
    - port: {number: 9081}
      connectionPool: {http: {http2MaxRequests: 9}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      connectionPool: {http: {maxRetries: 4}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      outlierDetection: {consecutiveGatewayErrors: 2}
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: RANDOM}
`)
	type want struct {
		maxConn, maxPending, maxRequests, maxRetries int64
		connectTimeout                               time.Duration
		od5xx                                        uint32 // 0: no outlier detection
		odGateway                                    bool
		lb                                           string
		endpoints                                    int
	}
	for _, tc := range []struct {
		name   string
		port   int
		subset string
		want   want
	}{
		{"DR level on 9080", 9080, "", want{7, 8, unlimited, unlimited, 2 * time.Second, 3, false, "*proxy.roundRobin", 2}},
		{"port level replaces the whole policy on 9081", 9081, "", want{unlimited, unlimited, 9, unlimited, connectTimeout, 0, false, "proxy.leastRequest", 1}},
		{"subset connectionPool replaces the DR's, the rest inherited", 9080, "v1", want{unlimited, unlimited, unlimited, 4, connectTimeout, 3, false, "*proxy.roundRobin", 1}},
		{"subset on 9081: DR port level first, then the subset's block", 9081, "v1", want{unlimited, unlimited, unlimited, 4, connectTimeout, 0, false, "proxy.leastRequest", 1}},
		{"subset port level replaces everything", 9080, "v2", want{unlimited, unlimited, unlimited, unlimited, connectTimeout, 0, false, "proxy.random", 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterOf(t, tab, tc.port, tc.subset)
			p := c.rt.pool
			got := want{p.maxConnections, p.maxPending, p.maxRequests, p.maxRetries, p.connectTimeout, 0, false, fmt.Sprintf("%T", c.lb), len(c.endpoints)}
			if od := c.rt.outlier; od != nil {
				got.od5xx, got.odGateway = od.cfg.consecutive5xx, od.cfg.enforceGateway
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// Every subset is its own cluster: its own breaker and detector.
	if a, b := clusterOf(t, tab, 9080, ""), clusterOf(t, tab, 9080, "v1"); a.rt == b.rt || a.rt.limits == nil || b.rt.limits == a.rt.limits {
		t.Error("the subset shares the host cluster's runtime")
	}
}

// Istio's mapping of outlierDetection fields, per release.
func TestOutlierConfig(t *testing.T) {
	for _, tc := range []struct {
		name, istio, od string
		want            outlierConfig
	}{
		{"defaults", "", "{}", outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, consecutiveLocal: 5,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10, strictMaxPercent: true}},
		{"0 turns 5xx off", "", "{consecutive5xxErrors: 0, consecutiveGatewayErrors: 2}", outlierConfig{consecutiveGateway: 2, enforceGateway: true, consecutiveLocal: 5,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10, strictMaxPercent: true}},
		{"a long base ejection raises the cap", "", "{baseEjectionTime: 10m, interval: 1s, maxEjectionPercent: 100, minHealthPercent: 20}", outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, consecutiveLocal: 5,
			interval: time.Second, baseEjection: 10 * time.Minute, maxEjection: 10 * time.Minute, maxEjectionPercent: 100, panicThreshold: 20, strictMaxPercent: true}},
		{"consecutiveErrors ignored", "", "{consecutiveErrors: 2}", outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, consecutiveLocal: 5,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10, strictMaxPercent: true}},
		{"consecutiveErrors in 1.6", "1.6", "{consecutiveErrors: 2}", outlierConfig{consecutive5xx: 5, consecutiveGateway: 2, enforceGateway: true, consecutiveLocal: 5,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10}},
		{"1.2: Envoy's panic threshold", "1.2", "{}", outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, consecutiveLocal: 5,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10, panicThreshold: 50}},
		{"split", "", "{splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3}", outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, split: true, consecutiveLocal: 3,
			interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10, strictMaxPercent: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := compileDoc(t, tc.istio, "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    outlierDetection: "+tc.od+"\n")
			od := clusterOf(t, tab, 9080, "").rt.outlier
			if od == nil {
				t.Fatal("no detector")
			}
			if got := fmt.Sprintf("%+v", od.cfg); got != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got  %s\nwant %+v", got, tc.want)
			}
		})
	}
}

// The ring and the Maglev table spread keys evenly enough and move few
// keys when an endpoint leaves.
func TestHashRingSpreadAndStability(t *testing.T) {
	eps := []*endpoint{{addr: "10.0.0.1:80"}, {addr: "10.0.0.2:80"}, {addr: "10.0.0.3:80"}, {addr: "10.0.0.4:80"}}
	for _, h := range []*hashPolicy{{size: defaultMinRingSize}, {maglev: true, size: defaultMaglevSize}} {
		t.Run(fmt.Sprintf("maglev=%v", h.maglev), func(t *testing.T) {
			full, less := h.buildRing(eps), h.buildRing(eps[:3])
			counts := map[*endpoint]int{}
			moved := 0
			const keys = 20000
			for k := 0; k < keys; k++ {
				key := hash64("user-" + strconv.Itoa(k))
				a := full.get(key)
				counts[a]++
				if a != eps[3] && less.get(key) != a {
					moved++
				}
			}
			for _, ep := range eps {
				if share := float64(counts[ep]) / keys; share < 0.15 || share > 0.35 {
					t.Errorf("%s owns %.0f%% of the keys", ep.addr, 100*share)
				}
			}
			if float64(moved)/keys > 0.1 {
				t.Errorf("%d of %d keys moved between endpoints that stayed", moved, keys)
			}
		})
	}
}

// The breaker hands a freed slot to the oldest pending attempt, drops
// attempts whose context ends while pending, and never lets more than
// maxConnections through at once, with no lost wake-up under contention.
// The limits run on channels alone, so a bubble sees each waiter queued
// (synctest.Wait) instead of polling for it.
func TestLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &clusterStats{name: "c"}
		l := newLimits(poolConfig{maxConnections: 2, maxPending: 64, maxRequests: unlimited, maxRetries: 1}, st)
		ctx := context.Background()
		if l.acquire(ctx) != nil || l.acquire(ctx) != nil {
			t.Fatal("the first two attempts must get slots")
		}
		// FIFO: three waiters get the slots in arrival order.
		order := make(chan int, 3)
		for i := 0; i < 3; i++ {
			go func() {
				if l.acquire(ctx) == nil {
					order <- i
				}
			}()
			synctest.Wait() // the waiter is queued before the next one starts
			if got := l.pending.Load(); got != int64(i+1) {
				t.Fatalf("pending = %d with %d waiters queued", got, i+1)
			}
		}
		// A pending attempt whose context ends leaves the queue.
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- l.acquire(cctx) }()
		synctest.Wait()
		if got := l.pending.Load(); got != 4 {
			t.Fatalf("pending = %d with 4 waiters queued", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled pending attempt: %v", err)
		}
		if l.pending.Load() != 3 {
			t.Errorf("pending = %d after the cancel, want 3", l.pending.Load())
		}
		for i := 0; i < 3; i++ {
			l.release()
			if got := <-order; got != i {
				t.Errorf("slot %d went to waiter %d", i, got)
			}
		}
		if l.busy.Load() != 2 {
			t.Errorf("busy = %d after three hand-overs, want 2", l.busy.Load())
		}
		l.release()
		l.release()
		if l.busy.Load() != 0 || l.pending.Load() != 0 {
			t.Errorf("busy %d, pending %d after all releases", l.busy.Load(), l.pending.Load())
		}

		// Contention: 32 goroutines, 2 slots, a queue big enough for all.
		var in, maxIn atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					if err := l.acquire(ctx); err != nil {
						t.Error(err)
						return
					}
					n := in.Add(1)
					for m := maxIn.Load(); n > m && !maxIn.CompareAndSwap(m, n); m = maxIn.Load() {
					}
					in.Add(-1)
					l.release()
				}
			}()
		}
		wg.Wait()
		if maxIn.Load() > 2 {
			t.Errorf("%d attempts at once, limit 2", maxIn.Load())
		}
		if l.busy.Load() != 0 || l.pending.Load() != 0 {
			t.Errorf("busy %d, pending %d after the storm", l.busy.Load(), l.pending.Load())
		}
	})
}

// The retry admission the retry loop calls: maxRetries outstanding at once.
func TestAdmitRetry(t *testing.T) {
	st := &clusterStats{name: "c"}
	rt := &clusterRuntime{limits: newLimits(poolConfig{maxConnections: unlimited, maxPending: unlimited, maxRequests: unlimited, maxRetries: 1}, st)}
	c := &cluster{rt: rt, stats: st}
	if !c.admitRetry() {
		t.Fatal("the first retry is refused")
	}
	if c.admitRetry() {
		t.Fatal("a second outstanding retry is admitted")
	}
	if st.rqRetryOverflow.Load() != 1 {
		t.Errorf("upstream_rq_retry_overflow = %d", st.rqRetryOverflow.Load())
	}
	c.retryDone()
	if !c.admitRetry() {
		t.Error("a retry is refused after the first one ended")
	}
	unlimitedCluster := &cluster{rt: &clusterRuntime{}, stats: st}
	for i := 0; i < 3; i++ {
		if !unlimitedCluster.admitRetry() {
			t.Fatal("retries refused without a limit")
		}
		unlimitedCluster.retryDone()
	}
}

// The per-attempt cost of a cluster with a connection pool and outlier
// detection whose limits never trigger: pick (with the sweep check),
// admission, outcome, release.
func BenchmarkClusterPolicyHotPath(b *testing.B) {
	for _, tc := range []struct {
		name string
		pool poolConfig
		od   *outlierConfig
	}{
		{"none", poolConfig{maxConnections: unlimited, maxPending: unlimited, maxRequests: unlimited, maxRetries: unlimited}, nil},
		{"pool+outlier", poolConfig{maxConnections: 1000, maxPending: 1000, maxRequests: 1000, maxRetries: 100},
			&outlierConfig{consecutive5xx: 5, enforce5xx: true, consecutiveGateway: 5, interval: 10 * time.Second,
				baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := &clusterStats{name: "c"}
			eps := []epSpec{{addr: "127.0.0.1:1"}, {addr: "127.0.0.1:2"}}
			rt := newClusterRuntime("c", "", eps, tc.pool, tc.od, lbConfig{simple: "LEAST_REQUEST"}, st, Options{}.clock())
			c := &cluster{rt: rt, stats: st, lb: leastRequest{}, breaker: rt.breaker}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				g := rng{state: 1}
				for pb.Next() {
					ep := c.pickEndpoint(&g)
					if err := c.breaker.acquire(ctx); err != nil {
						b.Error(err)
						return
					}
					c.outlierResponse(ep, 200)
					c.breaker.release()
				}
			})
		})
	}
}
