package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// Istio's defaults for upstream connections (docs/istio.md, Defaults at a
// glance).
const (
	connectTimeout  = 10 * time.Second // mesh connectTimeout
	upstreamIdle    = time.Hour        // HTTP idle timeout (upstream)
	maxIdlePerHost  = 1024
	copyBufferBytes = 32 << 10
	ioBufferBytes   = 16 << 10 // per upstream connection, each way
)

// cluster is an Envoy cluster as one table sees it:
// outbound|<port>|<subset>|<fqdn>, its load balancer, and the runtime
// (endpoints, connection pool, circuit breakers, outlier detector) that it
// shares with later tables while its configuration is unchanged.
type cluster struct {
	name      string
	endpoints []*endpoint
	lb        picker
	transport *clusterTransport
	breaker   breaker
	stats     *clusterStats
	rt        *clusterRuntime
}

// endpoint is one upstream host of a cluster.
type endpoint struct {
	addr   string
	labels map[string]string
	active atomic.Int64 // requests in flight, for LEAST_REQUEST
	host   hostMonitor  // outlier detection state (outlier.go)
	pool   *hostPool    // its address's connections in the cluster's transport
}

// hostSet is what the load balancer picks from, replaced as a whole
// (atomically) when outlier detection ejects or returns an endpoint.
type hostSet struct {
	all     []*endpoint
	lb      []*endpoint // the healthy endpoints, or all of them in panic mode
	healthy int
	panic   bool      // healthy share under the panic threshold: balance over all
	ring    *hashRing // consistent hash over lb; nil for other balancers
}

// picker chooses an endpoint (Envoy's load balancer) among hs.lb, which is
// never empty. x is the request (nil for a shadow request, which, like
// Envoy's async client, carries no hash key); g its random stream.
type picker interface {
	pick(hs *hostSet, x *exchange, g *rng) *endpoint
}

// roundRobin is ROUND_ROBIN: a cursor over the endpoints.
type roundRobin struct{ next atomic.Uint64 }

func (r *roundRobin) pick(hs *hostSet, _ *exchange, _ *rng) *endpoint {
	return hs.lb[(r.next.Add(1)-1)%uint64(len(hs.lb))]
}

type random struct{}

func (random) pick(hs *hostSet, _ *exchange, g *rng) *endpoint {
	return hs.lb[g.below(uint64(len(hs.lb)))]
}

// leastRequest is Envoy's LEAST_REQUEST with equal weights: the power of two
// choices over active request counts.
type leastRequest struct{}

func (leastRequest) pick(hs *hostSet, _ *exchange, g *rng) *endpoint {
	n := uint64(len(hs.lb))
	if n == 1 {
		return hs.lb[0]
	}
	a := hs.lb[g.below(n)]
	b := hs.lb[g.below(n)]
	if b.active.Load() < a.active.Load() {
		return b
	}
	return a
}

// pick is the "pick upstream" stage of an attempt; nil means no healthy
// upstream (503 UH). A due outlier-detection sweep runs first.
func (c *cluster) pick(x *exchange) *endpoint {
	return c.choose(x, &x.rng)
}

// pickEndpoint picks without a request (shadow requests): a consistent
// hash balancer draws a random point.
func (c *cluster) pickEndpoint(g *rng) *endpoint {
	return c.choose(nil, g)
}

func (c *cluster) choose(x *exchange, g *rng) *endpoint {
	rt := c.rt
	if od := rt.outlier; od != nil {
		od.maybeSweep()
	}
	hs := rt.hosts.Load()
	if len(hs.lb) == 0 {
		return nil
	}
	if hs.panic {
		c.stats.lbHealthyPanic.Add(1)
	}
	return c.lb.pick(hs, x, g)
}

// consistentHashing reports whether the cluster balances by consistent
// hash, which turns off the retry previous_hosts predicate (istiod drops it
// for such routes).
func (c *cluster) consistentHashing() bool { return c.rt.hash != nil }

// clusterRuntime is the state of a cluster that outlives a table: its
// endpoints, host set, connection pool, circuit breakers and outlier
// detector. A later table with the same cluster name and the same
// fingerprint (endpoints and policy) reuses it, as Envoy keeps a cluster
// whose configuration did not change; any change builds a new one, as a
// CDS update does.
type clusterRuntime struct {
	name      string
	fp        string
	endpoints []*endpoint
	hosts     atomic.Pointer[hostSet]
	hash      *hashPolicy
	pool      poolConfig
	breaker   breaker
	limits    *limits // nil when the pool sets no limit
	outlier   *outlierDetector
	transport *clusterTransport
	stats     *clusterStats
}

func newClusterRuntime(name, fp string, eps []epSpec, pool poolConfig, od *outlierConfig, lb lbConfig, st *clusterStats, now func() time.Duration) *clusterRuntime {
	rt := &clusterRuntime{name: name, fp: fp, hash: lb.hash, pool: pool, stats: st}
	for _, ep := range eps {
		rt.endpoints = append(rt.endpoints, &endpoint{addr: ep.addr, labels: ep.labels})
	}
	rt.breaker = openBreaker{}
	if pool.limited() || pool.maxRetries < unlimited {
		rt.limits = newLimits(pool, st)
		rt.breaker = rt.limits
	}
	rt.transport = newClusterTransport(pool, st, rt.endpoints)
	if od != nil {
		rt.outlier = newOutlierDetector(rt, *od, now)
	}
	rt.publish()
	return rt
}

// publish replaces the host set from the endpoints' ejection state. It runs
// at creation and under the outlier detector's lock.
func (rt *clusterRuntime) publish() {
	hs := &hostSet{all: rt.endpoints}
	for _, ep := range rt.endpoints {
		if !ep.host.ejected {
			hs.lb = append(hs.lb, ep)
		}
	}
	hs.healthy = len(hs.lb)
	if od := rt.outlier; od != nil && len(hs.all) > 0 {
		// Envoy's panic mode: below the threshold the balancer ignores
		// health (Istio sets it to minHealthPercent, 0 by default: never).
		if pct := 100 * float64(hs.healthy) / float64(len(hs.all)); pct < od.cfg.panicThreshold {
			hs.panic, hs.lb = true, hs.all
		}
	}
	if len(hs.lb) == len(hs.all) {
		hs.lb = hs.all
	}
	if rt.hash != nil {
		if old := rt.hosts.Load(); old != nil && old.ring != nil && sameEndpoints(old.ring.eps, hs.lb) {
			hs.ring = old.ring
		} else {
			hs.ring = rt.hash.buildRing(hs.lb)
		}
	}
	rt.hosts.Store(hs)
}

func sameEndpoints(a, b []*endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clusterTransport is a cluster's connection pool: HTTP/1.1 keep-alive
// connections per endpoint address (upstream_pool.go), written and read
// by the requests themselves (upstream_http1.go), sized by the
// connectionPool policy: at most maxConnections connections per address
// (the breaker keeps requests on connections within maxConnections for
// the whole cluster), as many kept idle, closed after idleTimeout;
// connectTimeout bounds every dial; maxRequestsPerConnection 1 disables
// keep-alive. No compression, no proxy from the environment, HTTP/1.1
// upstream as Istio's default h2UpgradePolicy.
type clusterTransport struct {
	dialer            net.Dialer
	pools             map[string]*hostPool // by address; fixed at creation
	disableKeepAlives bool                 // maxRequestsPerConnection 1
	maxPerHost        int                  // connections per address; 0 = no limit
	maxIdlePerHost    int
	idleTimeout       time.Duration // 0 = idle connections stay open
	// track is set when connections must be followed per request
	// (maxRequestsPerConnection > 1, maxConnectionDuration).
	track       bool
	maxRequests int64
	maxDuration time.Duration
	stats       *clusterStats
	// closeIdle is set by CloseIdleConnections: connections that turn
	// idle are closed until a request asks for one again.
	closeIdle atomic.Bool
	// tls originates TLS on every connection (upstream_tls.go); nil
	// speaks plain text.
	tls *upstreamTLS
}

// newClusterTransport builds the pool for a runtime's endpoints and
// points each endpoint at its address's pool (endpoints sharing an
// address share it, connection limit included).
func newClusterTransport(pool poolConfig, st *clusterStats, eps []*endpoint) *clusterTransport {
	t := &clusterTransport{
		dialer:            net.Dialer{Timeout: pool.connectTimeout, KeepAlive: 30 * time.Second},
		pools:             map[string]*hostPool{},
		disableKeepAlives: pool.maxRqPerConn == 1,
		maxIdlePerHost:    maxIdlePerHost,
		idleTimeout:       pool.idleTimeout,
		track:             pool.maxRqPerConn > 1 || pool.maxConnDuration > 0,
		maxRequests:       pool.maxRqPerConn,
		maxDuration:       pool.maxConnDuration,
		stats:             st,
	}
	if pool.maxConnections < unlimited {
		t.maxPerHost = int(pool.maxConnections)
		t.maxIdlePerHost = min(t.maxIdlePerHost, t.maxPerHost)
	}
	for _, ep := range eps {
		ep.pool = t.poolFor(ep.addr)
	}
	return t
}

// poolFor returns the pool of addr, creating it while the runtime is
// being built.
func (t *clusterTransport) poolFor(addr string) *hostPool {
	p, ok := t.pools[addr]
	if !ok {
		p = &hostPool{t: t, addr: addr}
		t.pools[addr] = p
	}
	return p
}

// CloseIdleConnections closes the idle connections, and those that turn
// idle until a request asks for one again; it cancels the dials no
// request waits for.
func (t *clusterTransport) CloseIdleConnections() {
	t.closeIdle.Store(true)
	for _, p := range t.pools {
		p.closeIdle()
	}
}

// connectTimedOut reports whether a dial failed because the connect timeout
// (tcp.connectTimeout) expired.
func (e *DialError) connectTimedOut() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// Interface guards.
var (
	_ picker = (*roundRobin)(nil)
	_ picker = random{}
	_ picker = leastRequest{}
)
