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
	routerStart      time.Time // the router took the request (upstream_rq_time)
	serviceTime      int64     // ms, -1 when the response did not come from upstream
	bytesSent        int64
	upstreamLocal    string
	sni              string // %REQUESTED_SERVER_NAME%: a tunnel's peeked SNI
	wroteHeader      bool
	abort            bool // reset the downstream stream after logging

	// Retry and mirror state (retry.go, body.go, mirror.go).
	attempt       int  // attempts started, 1-based
	retriesLeft   int  // retries the policy still allows
	retryArmed    bool // the last outcome was retried (Envoy's armed callback)
	retried       bool // at least one retry happened
	tried         [4]*endpoint
	nTried        int
	reqBody       []byte        // the buffered request body, when replay
	replay        bool          // reqBody holds the whole body: retries and shadows may resend it
	noReplay      bool          // the body was too large to buffer: no retries, no shadows
	streamBody    io.ReadCloser // buffered head + rest of an over-limit body
	mirrorDraw    uint64        // the request's mirror draw, below fractionDenominator
	mirrorPending bool          // mirrors are due with the first attempt
	// k is the exchange's clock (timeout.go): it outlives the request,
	// kept with the pooled exchange; clockSet says it was reset for this
	// request.
	k        *clock
	clockSet bool
	// upstreamResponse is reused for the attempts' responses, and
	// upstreamHeader for the header of a first attempt without a body
	// (upstreamRequest); both are kept with the pooled exchange like k.
	upstreamResponse *upstreamResponse
	upstreamHeader   http.Header

	// Consistent-hash cookie generated for this request (hash.go): its
	// value, and the Set-Cookie sent with the upstream response.
	cookieValue string
	setCookie   string
	// retryHeld: a retry of this request holds one of the cluster's
	// maxRetries (breaker.go).
	retryHeld bool

	// CORS (cors.go): the allowed origin the response must carry, and
	// the route's policy; nil unless the route has a corsPolicy that
	// allows the request's Origin.
	corsOrigin []string
	corsPolicy *corsPolicy

	// body counts request bytes when the access log is on. It is not part
	// of the pooled exchange: the transport's body writer may still read
	// or close a request body after the response came back.
	body *countingBody
	// bytesReceived counts request bytes where body does not: a tunnel's
	// bytes from the client.
	bytesReceived int64

	// vh is the virtual host the request matched, if any.
	vh *vhost
	// Service graph state (graph.go), with Options.ServiceGraph: the
	// caller, and the registration of the request's x-request-id while it
	// is in flight (graphID under graphDst; graphNext is the next older
	// exchange in flight with the same id).
	graphSrc  *graphNode
	graphDst  *graphNode
	graphID   string
	graphNext *exchange
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// recycle clears x for its next request, keeping what it reuses (its
// clock, its upstream response and header map), and pools it.
func (x *exchange) recycle() {
	*x = exchange{k: x.k, upstreamResponse: x.upstreamResponse, upstreamHeader: x.upstreamHeader}
	exchangePool.Put(x)
}

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
	p *Proxy
	// id is the index of the table listener it routes with: its own, or
	// the mesh's for a service listener.
	id    int
	salt  uint64
	stats *listenerStats
	// authority is the Host every request of a service listener gets
	// ("ratings:9080"); empty on the other listeners.
	authority string
	// tunnels: CONNECT opens a tunnel (mesh and service listeners).
	tunnels bool
}

// ServeHTTP runs the pipeline (see Proxy) for one request, or opens a
// tunnel for a CONNECT on the mesh or a service listener (tunnel.go).
func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect && h.tunnels {
		h.tunnel(w, r)
		return
	}
	if h.authority != "" {
		// A service listener stands for its service: route as if the
		// client had addressed it.
		r.Host = h.authority
	}
	p := h.p
	x := h.newExchange(w, r)
	if p.log != nil && r.Body != nil && r.Body != http.NoBody {
		x.body = &countingBody{rc: r.Body}
		r.Body = x.body
	}

	if g := p.graph; g != nil {
		x.graphSrc = g.source(p.table.Load(), r)
	}

	p.serve(x, h.id)

	h.stats.rqTime.recordSince(x.start)
	if c := x.code / 100; c >= 1 && c <= 5 {
		h.stats.byClass[c].Add(1)
	}
	p.reg.countFlags(x.flags)
	if g := p.graph; g != nil {
		g.finish(x)
	}
	if p.log != nil {
		p.log.write(x)
	}
	// Last: once no request is active, every count is in and every line
	// logged (Close waits for that).
	h.stats.active.Add(-1)
	abort := x.abort
	x.recycle()
	if abort {
		// Headers already went out: reset the stream as Envoy does.
		panic(http.ErrAbortHandler)
	}
}

// serve is the pipeline:
//
//	listener ─► vhost (Host) ─► route (first match) ─┬─► redirect / directResponse (local reply)
//	                                                 └─► fault ─► router: destination ─► cluster
//	                                                      ─► mirror draw, body ─► route timeout
//	                                                      ─► retry loop (pick endpoint ─► shadows ─► transport)
func (p *Proxy) serve(x *exchange, listenerID int) {
	t := p.table.Load()
	lt := t.listener(listenerID)
	if lt == nil {
		x.noRoute()
		return
	}
	x.lt = lt
	x.parseTarget()
	if x.r.Method == http.MethodConnect {
		// Gateways: no route matches a CONNECT (Envoy's routes need a
		// connect_matcher), so Envoy answers 404.
		x.rawPath = "-" // a CONNECT has no :path
		x.noRoute()
		return
	}
	vh := lt.selectVhost(x.host)
	if vh == nil {
		if lt.blockAll {
			// REGISTRY_ONLY's catch-all: Faultline never forwards to an
			// unknown destination.
			x.routeName = "block_all"
			x.ls.blockAll.Add(1)
			x.finishLocal(http.StatusBadGateway, nil, "direct_response")
			return
		}
		x.noRoute()
		return
	}
	x.vh = vh
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
	// CORS stage (cors.go): before the fault filter, as in istiod's
	// filter chain; a preflight it answers never reaches the upstream.
	if r.cors != nil && x.cors(r.cors) {
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

// route is the router: weighted destination, cluster, the mirror draw,
// the request body (buffered when a retry or a shadow may resend it), then
// the route timeout around the attempt loop (forward, in retry.go).
func (p *Proxy) route(x *exchange, r *rule) {
	d := r.pick(&x.rng)
	x.dest = d
	c := d.resolve(x.port)
	if c == nil {
		x.clusterName = d.name
		x.flags |= flagNC
		x.ls.noCluster.Add(1)
		x.finishLocal(d.clusterNotFoundCode(), nil, "cluster_not_found")
		return
	}
	x.cluster = c
	x.clusterName = c.name
	if g := p.graph; g != nil {
		g.routed(x, d.node)
	}
	if len(r.mirrors) > 0 {
		// One draw per request for every mirror: Envoy evaluates each
		// shadow policy against the stream's one stable random value.
		x.mirrorDraw = x.rng.next() % fractionDenominator
		x.mirrorPending = true
	}
	if !x.bufferBody(r, c) {
		return
	}
	// Envoy starts the route timeout once the request is complete: here,
	// after a buffered body was read.
	routerStart := time.Now()
	x.routerStart = routerStart
	if r.timeout > 0 {
		k := x.timers()
		k.startRoute(r.timeout)
		defer k.endRoute()
	}
	p.forward(x, r, d, c, routerStart)
}

// timers returns the exchange's clock, reset for this request on first
// use.
func (x *exchange) timers() *clock {
	if !x.clockSet {
		if x.k == nil {
			x.k = new(clock)
		}
		x.k.reset(x.r.Context())
		x.clockSet = true
	}
	return x.k
}

// untilTimeout is the time left to the earliest route or per-try timeout
// armed, 0 when none is.
func (x *exchange) untilTimeout() time.Duration {
	if !x.clockSet {
		return 0
	}
	return x.k.untilDeadline()
}

// routeTimedOut reports whether the route timeout expired.
func (x *exchange) routeTimedOut() bool { return x.clockSet && x.k.timedOut() }

// try is one attempt (Envoy's UpstreamRequest): pick an endpoint (on a
// retry preferring one not tried yet), [circuit-breaker admission], start
// the shadows with the first attempt that got this far, and send the
// request over the cluster's transport. actx is the attempt's context
// (the route's, or a per-try timeout's child of it).
//
// It returns the upstream response headers, or an error classify
// understands: errNoHealthyUpstream, an overflower (never retried), a
// *DialError, or whatever the transport returned after actx ended or the
// connection broke. Every attempt that picked an endpoint ends with
// exactly one attemptDone: at once on error, else once its response has
// been relayed or discarded.
func (p *Proxy) try(actx context.Context, x *exchange, r *rule, c *cluster, base *http.Request, routerStart time.Time) (*http.Response, error) {
	ep := x.pickEndpoint(c, r.retry)
	if ep == nil {
		return nil, errNoHealthyUpstream
	}
	x.ep = ep
	// Circuit-breaker admission (breaker.go): an *OverflowError is never
	// retried nor reported to outlier detection.
	if err := c.breaker.acquire(actx); err != nil {
		return nil, err
	}
	if x.mirrorPending {
		p.startShadows(x, r, base)
	}
	out := x.attemptRequest(actx, base, r, ep, routerStart)
	c.stats.rqTotal.Add(1)
	c.stats.rqActive.Add(1)
	ep.active.Add(1)
	var local *string
	if p.log != nil {
		local = &x.upstreamLocal
	}
	if x.upstreamResponse == nil {
		x.upstreamResponse = new(upstreamResponse)
	}
	res, err := c.transport.roundTrip(out, ep, local, x.untilTimeout(), x.upstreamResponse)
	if err != nil {
		c.outlierFailure(x, ep, actx)
		x.attemptDone(c)
		return nil, err
	}
	c.outlierResponse(ep, res.StatusCode)
	return res, nil
}

// attemptDone ends the attempt try sent to x.ep.
func (x *exchange) attemptDone(c *cluster) {
	x.ep.active.Add(-1)
	c.stats.rqActive.Add(-1)
	c.breaker.release()
}

// newExchange counts a request of the listener, active until it ends, and
// takes a pooled exchange for it, its random draws seeded by the request's
// sequence number.
func (h *listenerHandler) newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	seq := uint64(h.stats.requests.Add(1))
	h.stats.active.Add(1)
	x := exchangePool.Get().(*exchange)
	x.w, x.r, x.ls = w, r, h.stats
	x.start = time.Now()
	x.rng = newRequestRNG(h.p.seed, h.salt, seq)
	x.serviceTime = -1
	return x
}
