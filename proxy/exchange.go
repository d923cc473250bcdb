package proxy

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// exchange is the state of one request through the pipeline. Exchanges are
// pooled: the hot path allocates none of this.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	lt    *listenerTable
	ls    *listenerStats
	start time.Time
	rng   rng

	scheme   string
	host     string // lower-case, port stripped
	port     uint32 // the request's port (see parseTarget)
	rawPath  string // :path, query included
	path     string // :path without the query
	rawQuery string

	entry   *routeEntry
	dest    *destination
	cluster *cluster
	ep      *endpoint

	flags            flag
	code             int
	details          string
	transportFailure string
	routeName        string
	clusterName      string
	requestID        string
	serviceTime      int64 // ms, -1 when the response did not come from upstream
	bytesSent        int64
	upstreamLocal    string
	wroteHeader      bool
	abort            bool // reset the downstream stream after logging

	// body counts request bytes when the access log is on. It is not part
	// of the pooled exchange: the transport may still read or close a
	// request body after RoundTrip returns.
	body *countingBody
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// countingBody counts request body bytes for %BYTES_RECEIVED%; used only
// when the access log is on.
type countingBody struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// listenerHandler serves one listener from whatever table is current.
type listenerHandler struct {
	p     *Proxy
	id    int
	salt  uint64
	stats *listenerStats
}

// ServeHTTP runs the pipeline (see Proxy) for one request.
func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	seq := uint64(h.stats.requests.Add(1))
	h.stats.active.Add(1)
	x := exchangePool.Get().(*exchange)
	x.w, x.r, x.ls = w, r, h.stats
	x.start = time.Now()
	x.rng = newRequestRNG(p.seed, h.salt, seq)
	x.serviceTime = -1
	if p.log != nil && r.Body != nil && r.Body != http.NoBody {
		x.body = &countingBody{rc: r.Body}
		r.Body = x.body
	}

	p.serve(x, h.id)

	h.stats.active.Add(-1)
	if c := x.code / 100; c >= 1 && c <= 5 {
		h.stats.byClass[c].Add(1)
	}
	p.reg.countFlags(x.flags)
	if p.log != nil {
		p.log.write(x)
	}
	abort := x.abort
	*x = exchange{}
	exchangePool.Put(x)
	if abort {
		// Headers already went out: reset the stream as Envoy does.
		panic(http.ErrAbortHandler)
	}
}

// serve is the pipeline:
//
//	listener ─► vhost (Host) ─► route (first match) ─┬─► redirect / directResponse (local reply)
//	                                                 └─► fault ─► router: destination ─► cluster
//	                                                      ─► route timeout ─► retry ─► pick endpoint ─► transport
func (p *Proxy) serve(x *exchange, listenerID int) {
	t := p.table.Load()
	lt := t.listener(listenerID)
	if lt == nil {
		x.noRoute()
		return
	}
	x.lt = lt
	x.parseTarget()
	vh := lt.selectVhost(x.host)
	if vh == nil {
		if lt.blockAll {
			// REGISTRY_ONLY's catch-all: Faultline never forwards to an
			// unknown destination.
			x.routeName = "block_all"
			lt.stats.blockAll.Add(1)
			x.finishLocal(http.StatusBadGateway, nil, "direct_response")
			return
		}
		x.noRoute()
		return
	}
	if x.port == 0 {
		x.port = vh.servicePort
		if x.port == 0 {
			x.port = 80
		}
	}
	if vh.requireTLS {
		x.httpsRedirect()
		return
	}
	for _, e := range vh.routes {
		if e.match.matches(x) {
			x.entry = e
			break
		}
	}
	e := x.entry
	if e == nil {
		x.noRoute()
		return
	}
	x.routeName = e.name
	r := e.rule
	if r.stats != nil {
		r.stats.matched.Add(1)
	}
	switch r.kind {
	case actionRedirect:
		x.redirect(r)
		return
	case actionDirect:
		x.directReply(r)
		return
	}
	// Fault stage: before the router, so faults are never retried and
	// delays never count against the route timeout.
	if r.fault != nil {
		switch r.fault.apply(x) {
		case faultAborted:
			return
		case faultCancelled:
			x.clientGone()
			return
		}
	}
	p.route(x, r)
}

// parseTarget reads host, port and path from the request. On the mesh the
// port is the one in Host (or the absolute URI); gateways use their own.
func (x *exchange) parseTarget() {
	r := x.r
	x.scheme = "http"
	if r.URL.Scheme != "" {
		x.scheme = r.URL.Scheme
	}
	host := r.Host
	var port uint32
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		port = parsePort(host[i+1:])
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	x.host = host
	if x.lt.mesh {
		x.port = port
	} else {
		x.port = x.lt.port
	}
	raw := r.RequestURI
	if raw == "" || raw[0] != '/' && raw != "*" {
		raw = r.URL.RequestURI() // absolute form: the client uses us as HTTP_PROXY
	}
	x.rawPath = raw
	x.path, x.rawQuery, _ = strings.Cut(raw, "?")
}

func parsePort(s string) uint32 {
	if s == "" || len(s) > 5 {
		return 0
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint32(c-'0')
	}
	if n > 65535 {
		return 0
	}
	return n
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// ensureRequestID returns x-request-id, generating a UUIDv4 when the client
// sent none. IDs come from the runtime's lock-free per-thread generator:
// they need to be unique, not replayable.
func (x *exchange) ensureRequestID() string {
	if x.requestID != "" {
		return x.requestID
	}
	if vv := x.r.Header[hdrRequestID]; len(vv) > 0 && vv[0] != "" {
		x.requestID = vv[0]
	} else {
		x.requestID = formatUUID(rand.Uint64(), rand.Uint64())
	}
	return x.requestID
}

// route is the router: weighted destination, cluster, then the route
// timeout around the attempt stages.
func (p *Proxy) route(x *exchange, r *rule) {
	d := r.pick(&x.rng)
	x.dest = d
	c := d.resolve(x.port)
	if c == nil {
		x.clusterName = d.name
		x.flags |= flagNC
		x.lt.stats.noCluster.Add(1)
		x.finishLocal(http.StatusServiceUnavailable, nil, "cluster_not_found")
		return
	}
	x.cluster = c
	x.clusterName = c.name
	routerStart := time.Now()
	ctx, cancel := withRouteTimeout(x.r.Context(), r.timeout)
	defer cancel()
	// Retry stage: a single attempt until retries are implemented. A retry
	// loop goes here, re-entering attempt with a fresh endpoint pick.
	p.attempt(ctx, x, r, d, c, routerStart)
}

// attempt picks an endpoint (the breaker's admission will sit here) and
// sends the request over the cluster's transport.
func (p *Proxy) attempt(ctx context.Context, x *exchange, r *rule, d *destination, c *cluster, routerStart time.Time) {
	ep := c.pickEndpoint(&x.rng)
	if ep == nil {
		c.stats.cxNoneHealthy.Add(1)
		x.flags |= flagUH
		x.localReply(http.StatusServiceUnavailable, bodyNoHealthyUpstream, "no_healthy_upstream")
		return
	}
	x.ep = ep
	out := x.upstreamRequest(ctx, r, d, ep, p.log != nil)
	c.stats.rqTotal.Add(1)
	c.stats.rqActive.Add(1)
	ep.active.Add(1)
	res, err := c.transport.RoundTrip(out)
	if err != nil {
		ep.active.Add(-1)
		c.stats.rqActive.Add(-1)
		x.upstreamFailure(ctx, r, c, err)
		return
	}
	x.serviceTime = time.Since(routerStart).Milliseconds()
	x.copyResponse(ctx, res, r, d, c)
	ep.active.Add(-1)
	c.stats.rqActive.Add(-1)
}
