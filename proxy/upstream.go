package proxy

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Istio's defaults for upstream connections (ISTIO.md §8).
const (
	connectTimeout  = 10 * time.Second // mesh connectTimeout
	upstreamIdle    = time.Hour        // HTTP idle timeout (upstream)
	maxIdlePerHost  = 1024
	copyBufferBytes = 32 << 10
)

// cluster is an Envoy cluster: outbound|<port>|<subset>|<fqdn>, its
// endpoints, its load balancer and its connection pool.
type cluster struct {
	name      string
	endpoints []*endpoint
	lb        picker
	transport *clusterTransport
	stats     *clusterStats
	rr        atomic.Uint64 // ROUND_ROBIN cursor
}

// endpoint is one upstream host of a cluster.
type endpoint struct {
	addr   string
	labels map[string]string
	active atomic.Int64 // requests in flight, for LEAST_REQUEST
}

// picker chooses an endpoint (Envoy's load balancer). It is the seam where
// outlier ejection and consistent hashing will slot in.
type picker interface {
	pick(c *cluster, g *rng) *endpoint
}

type roundRobin struct{}

func (roundRobin) pick(c *cluster, _ *rng) *endpoint {
	n := uint64(len(c.endpoints))
	return c.endpoints[(c.rr.Add(1)-1)%n]
}

type random struct{}

func (random) pick(c *cluster, g *rng) *endpoint {
	return c.endpoints[g.below(uint64(len(c.endpoints)))]
}

// leastRequest is Envoy's LEAST_REQUEST with equal weights: the power of two
// choices over active request counts.
type leastRequest struct{}

func (leastRequest) pick(c *cluster, g *rng) *endpoint {
	n := uint64(len(c.endpoints))
	if n == 1 {
		return c.endpoints[0]
	}
	a := c.endpoints[g.below(n)]
	b := c.endpoints[g.below(n)]
	if b.active.Load() < a.active.Load() {
		return b
	}
	return a
}

// pickEndpoint is the "pick upstream" stage; nil means no healthy upstream.
// The circuit breaker's admission will sit beside it.
func (c *cluster) pickEndpoint(g *rng) *endpoint {
	if len(c.endpoints) == 0 {
		return nil
	}
	return c.lb.pick(c, g)
}

// clusterTransport is a cluster's connection pool: an http.Transport tuned
// for a sidecar (keep-alive, no compression, no proxy from the environment,
// HTTP/1.1 upstream as Istio's default h2UpgradePolicy).
type clusterTransport struct {
	*http.Transport
}

func newClusterTransport() *clusterTransport {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &clusterTransport{&http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &DialError{Addr: addr, Err: err}
			}
			return conn, nil
		},
		ForceAttemptHTTP2:   false,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     upstreamIdle,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}}
}

// Interface guards.
var (
	_ picker            = roundRobin{}
	_ picker            = random{}
	_ picker            = leastRequest{}
	_ http.RoundTripper = (*clusterTransport)(nil)
)
