package proxy

import (
	"hash/maphash"
	"math"
	"math/bits"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The service graph (Options.ServiceGraph): who calls whom through the
// proxy, how often, how badly and how slowly. Every request ends on one
// edge, source → destination:
//
//   - destination: the service the router sent the request to (its host as
//     bound, "reviews"); for a request answered before a destination was
//     drawn (a fault, a direct response), the service the route sends to;
//     for a request no route took, the requested host without its port.
//   - source, in order: (a) the client's IP is the IP of the endpoints of
//     exactly one bound service, and not a loopback address (containers
//     on a network of their own); (b) the request's x-request-id, as the
//     client sent it, is that of a request in flight that the proxy routed
//     to a service S (the most recently started one when several are):
//     S, which propagated the id of the request it is serving; (c)
//     "unknown".
//
// Every routed request's x-request-id (the one sent upstream, generated
// or not) is registered with its destination while it is in flight, in a
// map of striped locks bounded at maxTrackedIDs ids. Counters are
// atomics; each edge keeps cumulative counts and graphBuckets time
// buckets of graphBucketWidth with a log-spaced latency histogram each,
// for the rates and percentiles of the last minute.

// Service graph limits.
const (
	graphBuckets     = 10
	graphBucketWidth = 6 * time.Second
	graphWindow      = graphBuckets * graphBucketWidth
	// latencyBuckets: below 64 µs, then two buckets per power of two up
	// to about 9 minutes.
	latencyBuckets = 48
	// maxTrackedIDs bounds the x-request-ids registered at once; beyond,
	// new ids are not tracked (their callees' source is "unknown").
	maxTrackedIDs = 1 << 16
	// maxGraphNodes bounds the destinations: requested hosts beyond it
	// count under otherNode.
	maxGraphNodes  = 1024
	inflightShards = 64

	unknownNode = "unknown"
	otherNode   = "other"
)

// Graph is the service graph: one edge per (source, destination) pair
// seen since the proxy started.
type Graph struct {
	// WindowSeconds is the span the window fields of the edges cover: the
	// last 60 s (54 s plus the current 6-s bucket), or less while the
	// proxy is younger than that.
	WindowSeconds float64 `json:"windowSeconds"`
	// Edges are sorted by source, then destination.
	Edges []Edge `json:"edges"`
}

// Edge is the traffic from one source service to one destination service.
type Edge struct {
	// Source is the calling service (see Graph), or "unknown".
	Source string `json:"source"`
	// Destination is the called service as bound ("reviews"), or the
	// requested host of a request no route took.
	Destination string `json:"destination"`
	// Requests and Errors are cumulative. An error is a response of 500 or
	// more (local replies included), or a downstream reset: the client
	// went away before a response, or the proxy reset the response
	// stream after its headers.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// The window fields cover Graph.WindowSeconds.
	WindowRequests int64   `json:"windowRequests"`
	WindowErrors   int64   `json:"windowErrors"`
	RPS            float64 `json:"rps"`
	ErrorRatio     float64 `json:"errorRatio"`
	// P50Ms and P99Ms are latency percentiles in milliseconds (request
	// start to the end of the response), interpolated in log-spaced
	// buckets; 0 without requests in the window.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	// Faulted: a route of the current table that sends to Destination
	// carries a fault (Table.Faulted).
	Faulted bool `json:"faulted"`
}

// graph is a Proxy's service graph. Nodes and edges are created once and
// live as long as the Proxy.
type graph struct {
	now   func() time.Duration
	start time.Duration

	mu      sync.Mutex // creating nodes
	nodes   sync.Map   // name → *graphNode
	count   atomic.Int64
	unknown *graphNode
	other   *graphNode

	inflight inflight
}

// graphNode is a service; it holds the edges that end at it.
type graphNode struct {
	name string
	in   sync.Map // source *graphNode → *graphEdge
}

type graphEdge struct {
	requests atomic.Int64
	errors   atomic.Int64
	buckets  [graphBuckets]graphBucket
}

// graphBucket counts the requests of one time slot (now /
// graphBucketWidth); a slot graphBuckets later reuses it.
type graphBucket struct {
	slot     atomic.Int64 // bucketResetting while it is being cleared
	requests atomic.Int64
	errors   atomic.Int64
	latency  [latencyBuckets]atomic.Int64
}

const bucketResetting = -1

func newGraph(now func() time.Duration) *graph {
	g := &graph{now: now, start: now()}
	g.inflight.seed = maphash.MakeSeed()
	g.inflight.limit = maxTrackedIDs
	for i := range g.inflight.shards {
		g.inflight.shards[i].m = map[string]*exchange{}
	}
	g.unknown = g.node(unknownNode)
	g.other = g.node(otherNode)
	return g
}

// node returns the node of a service name, creating it while fewer than
// maxGraphNodes exist (otherNode beyond).
func (g *graph) node(name string) *graphNode {
	if v, ok := g.nodes.Load(name); ok {
		return v.(*graphNode)
	}
	if g.count.Load() >= maxGraphNodes {
		return g.other
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.nodes.Load(name); ok {
		return v.(*graphNode)
	}
	n := &graphNode{name: name}
	g.nodes.Store(name, n)
	g.count.Add(1)
	return n
}

// graphNodes gives every service its node.
func (b *builder) graphNodes() {
	g := b.reg.graph
	if g == nil {
		return
	}
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		svc.node = g.node(svc.name)
	}
}

// graphSources maps the endpoint IPs of bound services to their node,
// leaving out loopback addresses and IPs two services share.
func (b *builder) graphSources() map[netip.Addr]*graphNode {
	if b.reg.graph == nil {
		return nil
	}
	out := map[netip.Addr]*graphNode{}
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		if !svc.bound {
			continue
		}
		for _, eps := range svc.eps {
			for _, ep := range eps {
				ap, err := netip.ParseAddrPort(ep.addr)
				if err != nil || ap.Addr().Unmap().IsLoopback() {
					continue
				}
				ip := ap.Addr().Unmap()
				if n, ok := out[ip]; ok && n != svc.node {
					out[ip] = nil // two services: no answer
					continue
				}
				out[ip] = svc.node
			}
		}
	}
	return out
}

// commonNode is the node every destination shares, or nil.
func commonNode(dests []*destination) *graphNode {
	if len(dests) == 0 {
		return nil
	}
	n := dests[0].node
	for _, d := range dests[1:] {
		if d.node != n {
			return nil
		}
	}
	return n
}

// source identifies the caller of r (see Graph).
func (g *graph) source(t *Table, r *http.Request) *graphNode {
	if len(t.sources) > 0 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			if n := t.sources[ap.Addr().Unmap()]; n != nil {
				return n
			}
		}
	}
	if vv := r.Header[hdrRequestID]; len(vv) > 0 && vv[0] != "" {
		if n := g.inflight.lookup(vv[0], nil); n != nil {
			return n
		}
	}
	return g.unknown
}

// routed registers x, routed to dst, as in flight. A source found by
// request id that is dst itself is looked for again without dst: a client
// that retries after its first try timed out sends the same id while the
// abandoned try may still be in flight to dst, and that try is not the
// caller (a service calling itself with its caller's id is rare).
func (g *graph) routed(x *exchange, dst *graphNode) {
	if x.graphSrc == dst && dst != nil {
		if vv := x.r.Header[hdrRequestID]; len(vv) > 0 && vv[0] != "" {
			if n := g.inflight.lookup(vv[0], dst); n != nil {
				x.graphSrc = n
			}
		}
	}
	g.inflight.register(x, dst)
}

// destination is the node x counts toward (see Graph).
func (g *graph) destination(x *exchange) *graphNode {
	switch {
	case x.dest != nil && x.dest.node != nil:
		return x.dest.node
	case x.entry != nil && x.entry.rule.node != nil:
		return x.entry.rule.node
	case x.vh != nil && x.vh.node != nil:
		return x.vh.node
	case x.host != "":
		return g.node(x.host)
	}
	return g.unknown
}

// finish ends x in the graph: it leaves the in-flight map and counts on
// its edge.
func (g *graph) finish(x *exchange) {
	if x.graphID != "" {
		g.inflight.unregister(x)
	}
	src := x.graphSrc
	if src == nil {
		src = g.unknown
	}
	e := g.destination(x).edgeFrom(src)
	failed := x.code >= 500 || x.code == 0 || x.abort
	e.requests.Add(1)
	if failed {
		e.errors.Add(1)
	}
	slot := int64(g.now() / graphBucketWidth)
	e.buckets[slot%graphBuckets].add(slot, failed, latencyBucket(time.Since(x.start)))
}

func (n *graphNode) edgeFrom(src *graphNode) *graphEdge {
	if v, ok := n.in.Load(src); ok {
		return v.(*graphEdge)
	}
	v, _ := n.in.LoadOrStore(src, new(graphEdge))
	return v.(*graphEdge)
}

// add counts one request in the bucket, first clearing it if it still
// holds an older slot. A request of a slot older than the bucket's is
// counted only cumulatively.
func (b *graphBucket) add(slot int64, failed bool, lat int) {
	for {
		s := b.slot.Load()
		switch {
		case s == slot:
			b.requests.Add(1)
			if failed {
				b.errors.Add(1)
			}
			b.latency[lat].Add(1)
			return
		case s == bucketResetting:
			runtime.Gosched()
		case s > slot:
			return
		case b.slot.CompareAndSwap(s, bucketResetting):
			b.requests.Store(0)
			b.errors.Store(0)
			for i := range b.latency {
				b.latency[i].Store(0)
			}
			b.slot.Store(slot)
		}
	}
}

// latencyBucket is the histogram bucket of d: 0 below 64 µs, then two
// per power of two of microseconds.
func latencyBucket(d time.Duration) int {
	us := uint64(max(d, 0) / time.Microsecond)
	if us < 64 {
		return 0
	}
	l := bits.Len64(us) // ≥ 7
	half := int(us>>(l-2)) & 1
	return min(2*(l-7)+half+1, latencyBuckets-1)
}

// latencyBounds are the bounds of a histogram bucket, in microseconds.
func latencyBounds(i int) (lo, hi float64) {
	if i == 0 {
		return 0, 64
	}
	l := (i-1)/2 + 7
	half := (i - 1) % 2
	lo = math.Ldexp(1, l-1) + float64(half)*math.Ldexp(1, l-2)
	return lo, lo + math.Ldexp(1, l-2)
}

// percentile interpolates the q-quantile (0 < q ≤ 1) of a histogram, in
// milliseconds.
func percentile(h *[latencyBuckets]int64, n int64, q float64) float64 {
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var cum float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			lo, hi := latencyBounds(i)
			return (lo + (hi-lo)*(rank-cum)/float64(c)) / 1000
		}
		cum += float64(c)
	}
	_, hi := latencyBounds(latencyBuckets - 1)
	return hi / 1000
}

// Graph returns the service graph; empty when Options.ServiceGraph is off.
func (p *Proxy) Graph() Graph {
	if p.graph == nil {
		return Graph{}
	}
	return p.graph.snapshot(p.table.Load())
}

func (g *graph) snapshot(t *Table) Graph {
	now := g.now()
	cur := int64(now / graphBucketWidth)
	span := min((graphBuckets-1)*graphBucketWidth+now%graphBucketWidth, now-g.start)
	out := Graph{WindowSeconds: span.Seconds()}
	g.nodes.Range(func(_, v any) bool {
		dst := v.(*graphNode)
		dst.in.Range(func(k, v any) bool {
			e := v.(*graphEdge)
			edge := Edge{Source: k.(*graphNode).name, Destination: dst.name,
				Requests: e.requests.Load(), Errors: e.errors.Load()}
			e.window(cur, &edge)
			if out.WindowSeconds > 0 {
				edge.RPS = float64(edge.WindowRequests) / out.WindowSeconds
			}
			if t != nil {
				edge.Faulted = t.Faulted(dst.name)
			}
			out.Edges = append(out.Edges, edge)
			return true
		})
		return true
	})
	slices.SortFunc(out.Edges, func(a, b Edge) int {
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.Destination, b.Destination)
	})
	return out
}

// window fills the window fields of edge from the buckets of the slots
// cur-graphBuckets+1 to cur.
func (e *graphEdge) window(cur int64, edge *Edge) {
	var hist [latencyBuckets]int64
	for i := range e.buckets {
		b := &e.buckets[i]
		s := b.slot.Load()
		if s <= cur-graphBuckets || s > cur {
			continue
		}
		edge.WindowRequests += b.requests.Load()
		edge.WindowErrors += b.errors.Load()
		for j := range b.latency {
			hist[j] += b.latency[j].Load()
		}
	}
	if edge.WindowRequests > 0 {
		edge.ErrorRatio = float64(edge.WindowErrors) / float64(edge.WindowRequests)
	}
	var n int64
	for _, c := range hist {
		n += c
	}
	edge.P50Ms = percentile(&hist, n, 0.50)
	edge.P99Ms = percentile(&hist, n, 0.99)
}

// inflight maps the x-request-id of every routed request in flight to
// its exchange, newest first, under striped locks.
type inflight struct {
	seed   maphash.Seed
	limit  int64        // maxTrackedIDs
	n      atomic.Int64 // ids tracked
	shards [inflightShards]inflightShard
}

type inflightShard struct {
	mu sync.Mutex
	// m holds, per id, the newest exchange in flight with it; older ones
	// follow through graphNext.
	m map[string]*exchange
	_ [48]byte // one cache line per shard
}

func (f *inflight) shard(id string) *inflightShard {
	return &f.shards[maphash.String(f.seed, id)%inflightShards]
}

// register records x, routed to dst, under its x-request-id until
// unregister. Past maxTrackedIDs ids a new id is not tracked.
func (f *inflight) register(x *exchange, dst *graphNode) {
	id := x.ensureRequestID()
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	head, ok := s.m[id]
	if !ok {
		if f.n.Load() >= f.limit {
			return
		}
		f.n.Add(1)
	}
	x.graphDst, x.graphID, x.graphNext = dst, id, head
	s.m[id] = x
}

func (f *inflight) unregister(x *exchange) {
	s := f.shard(x.graphID)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch head := s.m[x.graphID]; {
	case head == x && x.graphNext == nil:
		delete(s.m, x.graphID)
		f.n.Add(-1)
	case head == x:
		s.m[x.graphID] = x.graphNext
	default:
		for e := head; e != nil; e = e.graphNext {
			if e.graphNext == x {
				e.graphNext = x.graphNext
				break
			}
		}
	}
	x.graphNext = nil
}

// lookup returns the destination of the newest request in flight with
// id, skipping those to except (nil skips none) and those whose client
// has gone; nil when there is none.
func (f *inflight) lookup(id string, except *graphNode) *graphNode {
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.m[id]; e != nil; e = e.graphNext {
		if e.graphDst != except && (e.r == nil || e.r.Context().Err() == nil) {
			return e.graphDst
		}
	}
	return nil
}
