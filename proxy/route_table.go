package proxy

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Table is a compiled, immutable route table: listeners with their virtual
// hosts and routes, and the clusters routes send to. A Proxy swaps tables
// atomically; requests in flight keep the table they started with.
type Table struct {
	listeners []*listenerTable // by the registry's stable listener index
	names     []string         // listener names in a stable order
	clusters  map[string]*cluster
	seed      uint64
	reg       *registry
	// faulted names the services (as bound) that a route with a fault
	// sends to.
	faulted map[string]bool
	// connect resolves a CONNECT target ("host:port", every name the mesh
	// accepts for the service) to a service port (tunnel.go).
	connect map[string]*connectTarget
	// meshTLS are the mesh's SNI tables by port, for tunnels to hosts
	// connect does not know (0: the tls routes that name no port).
	meshTLS map[uint32]*l4Table
	// sources maps the non-loopback endpoint IPs of bound services to
	// their service graph node; nil without a graph (graph.go).
	sources map[netip.Addr]*graphNode
	// report is what the compilation left out, and why (unusable.go).
	report compileReport
}

// Faulted reports whether a route of the table that sends to service
// (the host as bound in spec.services or a ServiceEntry, "reviews")
// carries a fault: a delay or an abort with a non-zero percentage.
func (t *Table) Faulted(service string) bool { return t.faulted[service] }

// ListenerNames lists the listeners the table serves: "mesh" and
// "<gateway>:<port>" for every Gateway server port.
func (t *Table) ListenerNames() []string { return slices.Clone(t.names) }

// ClusterNames lists the table's clusters by Envoy name, sorted.
func (t *Table) ClusterNames() []string {
	out := make([]string, 0, len(t.clusters))
	for n := range t.clusters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (t *Table) listener(id int) *listenerTable {
	if id < 0 || id >= len(t.listeners) {
		return nil
	}
	return t.listeners[id]
}

// listenerTable is the route configuration of one listener.
type listenerTable struct {
	name    string
	gateway string // "" on the mesh listener
	port    uint32 // gateway server port; 0 on the mesh
	mesh    bool
	salt    uint64 // per-listener randomness salt
	server  []string

	exact  map[string]*vhost
	suffix []wildDomain // "*.foo.com" stored as ".foo.com", longest first
	prefix []wildDomain // "foo.*" stored as "foo.", longest first
	star   *vhost
	// blockAll answers hosts no vhost claims: on the mesh Faultline acts as
	// REGISTRY_ONLY (502, route block_all); nil on gateways (404 NR).
	blockAll bool
	// l4 routes the connections of a TCP or TLS gateway listener
	// (tcp.go); nil on HTTP listeners.
	l4 *l4Table
	// tls terminates the TLS of a gateway listener in SIMPLE or MUTUAL
	// (tls_gateway.go); nil on the others.
	tls *gatewayTLS
}

type wildDomain struct {
	affix string
	vh    *vhost
}

// selectVhost finds the virtual host of host (lower-case, port stripped)
// in Envoy's order: exact, longest suffix wildcard, longest prefix wildcard,
// then "*". Wildcards never match the empty string.
func (lt *listenerTable) selectVhost(host string) *vhost {
	if vh, ok := lt.exact[host]; ok {
		return vh
	}
	for _, w := range lt.suffix {
		if len(host) > len(w.affix) && strings.HasSuffix(host, w.affix) {
			return w.vh
		}
	}
	for _, w := range lt.prefix {
		if len(host) > len(w.affix) && strings.HasPrefix(host, w.affix) {
			return w.vh
		}
	}
	return lt.star
}

// vhost is an Envoy virtual host: domains and ordered routes.
type vhost struct {
	name   string
	routes []*routeEntry
	// servicePort is the port of a single-port service this vhost stands
	// for; the mesh uses it when Host names no port.
	servicePort uint32
	// requireTLS answers every request with a 301 to https (gateway server
	// tls.httpsRedirect).
	requireTLS bool
	// node is the service graph node of the service the vhost stands for;
	// nil for other vhosts, or without a graph.
	node *graphNode
}

// routeEntry is one Envoy route: one match block of an HTTPRoute.
type routeEntry struct {
	match matcher
	rule  *rule
	// prefix is the uri prefix of the match, for prefix rewrites; "/" when
	// the match has no uri (Envoy's route is then prefix "/").
	prefix   string
	wholeURI bool // exact/regex uri: rewrites replace the whole path
	name     string
}

// actionKind says what a rule does with a matched request.
type actionKind uint8

const (
	actionForward actionKind = iota
	actionRedirect
	actionDirect
)

// rule is a compiled HTTPRoute, shared by its route entries.
type rule struct {
	kind  actionKind
	stats *routeStats // nil for the default route

	fault *fault
	// cors is the route's corsPolicy (cors.go); nil without one.
	cors    *corsPolicy
	timeout time.Duration
	// timeoutVal is x-envoy-expected-rq-timeout-ms, nil without a timeout.
	timeoutVal []string
	// retry is the retry policy (istiod's default when the rule has no
	// retries block); nil when retries are disabled (attempts 0).
	retry *retryPolicy
	// mirrors are the rule's shadow policies, in order (mirror or mirrors).
	mirrors []*mirrorPolicy
	// attemptFault strikes each upstream attempt and shadowFault each
	// shadow (spec.faults, attempt_fault.go); nil without one.
	attemptFault *attemptFault
	shadowFault  *fault

	weighted

	rewriteURI   string
	rewriteRegex *regexp.Regexp
	rewriteRepl  string
	hasRewrite   bool
	authority    string // rewrite.authority or a host set/add

	reqOps  headerOps
	respOps headerOps

	redirect *redirect
	direct   *directResponse

	// node is the service graph node of the service every destination
	// sends to; nil when they differ, or without a graph.
	node *graphNode
}

// destination is one weighted destination of a rule.
type destination struct {
	weight uint64
	// cluster is fixed when the port is known at compile time.
	cluster *cluster
	// byPort resolves the cluster from the request's port (mesh, service
	// with several ports, destination without port).
	byPort []portCluster
	// missingSubset: the subset is defined by no DestinationRule (or,
	// under gateway semantics, the service or its port is not bound), so
	// the cluster does not exist (503 NC, or notFoundCode).
	missingSubset bool
	name          string // cluster name, for NC logs
	service       string // the destination service's name (service.name)
	node          *graphNode
	authority     string
	reqOps        headerOps
	respOps       headerOps

	// notFoundCode answers a missing cluster when set (gateway_semantics.go).
	notFoundCode int
}

type portCluster struct {
	port uint32
	c    *cluster
}

func (d *destination) resolve(port uint32) *cluster {
	if d.cluster != nil || d.missingSubset {
		return d.cluster
	}
	for i := range d.byPort {
		if d.byPort[i].port == port {
			return d.byPort[i].c
		}
	}
	return nil
}

// weighted are the weighted destinations of a route, HTTP or L4.
type weighted struct {
	dests []*destination
	total uint64
}

// only is the weighted destinations of a route to d alone.
func only(d *destination) weighted { return weighted{dests: []*destination{d}, total: 1} }

// pick chooses a weighted destination: uniform in [0, total).
func (w *weighted) pick(g *rng) *destination {
	if len(w.dests) == 1 {
		return w.dests[0]
	}
	n := g.below(w.total)
	for _, d := range w.dests {
		if n < d.weight {
			return d
		}
		n -= d.weight
	}
	return w.dests[len(w.dests)-1]
}

// redirect is a compiled HTTPRedirect.
type redirect struct {
	code       int
	uri        string
	prefix     string
	hasPrefix  bool
	authority  string
	scheme     string
	port       uint32
	derivePort string
}

// directResponse is a compiled HTTPDirectResponse.
type directResponse struct {
	status int
	body   []byte
}
