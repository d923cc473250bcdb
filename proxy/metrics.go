package proxy

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Counters are atomics owned by a registry that outlives route tables, so a
// Proxy's numbers keep accumulating across Apply. Tables hold pointers to
// them; the hot path only ever does atomic adds.

// flag is one Envoy response flag; a request's flags are a bit set.
type flag uint32

// Response flags, in the order Envoy prints them (its ResponseFlag enum).
const (
	flagLH    flag = 1 << iota // local health check failed
	flagUH                     // no healthy upstream
	flagUT                     // upstream request timeout
	flagLR                     // local reset
	flagUR                     // upstream remote reset
	flagUF                     // upstream connection failure
	flagUC                     // upstream connection termination
	flagUO                     // upstream overflow
	flagNR                     // no route
	flagDI                     // delay injected
	flagFI                     // fault (abort) injected
	flagRL                     // rate limited
	flagUAEX                   // unauthorized external service
	flagRLSE                   // rate limit service error
	flagDC                     // downstream connection termination
	flagURX                    // upstream retry limit exceeded
	flagSI                     // stream idle timeout
	flagIH                     // invalid envoy request headers
	flagDPE                    // downstream protocol error
	flagUMSDR                  // upstream max stream duration reached
	flagRFCF                   // response from cache filter
	flagNFCF                   // no filter config found
	flagDT                     // duration timeout
	flagUPE                    // upstream protocol error
	flagNC                     // no cluster found
	flagOM                     // overload manager
	flagDF                     // DNS resolution failed
	numFlags  = iota
)

var flagNames = [numFlags]string{
	"LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE",
	"DC", "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF",
}

// appendFlags writes a flag set as %RESPONSE_FLAGS% does: "DI,FI", or "-".
func appendFlags(b []byte, f flag) []byte {
	if f == 0 {
		return append(b, '-')
	}
	first := true
	for i := 0; i < numFlags; i++ {
		if f&(1<<i) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, flagNames[i]...)
	}
	return b
}

// listenerStats are Envoy's http.<prefix>.* counters of one listener.
type listenerStats struct {
	name         string
	requests     atomic.Int64 // downstream_rq_total; also the request sequence
	active       atomic.Int64 // downstream_rq_active
	byClass      [6]atomic.Int64
	noRoute      atomic.Int64
	noCluster    atomic.Int64
	blockAll     atomic.Int64
	redirects    atomic.Int64
	direct       atomic.Int64
	delays       atomic.Int64
	aborts       atomic.Int64
	clientCancel atomic.Int64
	// tcp.* counters of the connections proxied as TCP (tcp.go).
	tcpCxTotal     atomic.Int64 // downstream_cx_total; also the connection sequence
	tcpNoRoute     atomic.Int64 // downstream_cx_no_route
	tcpRxBytes     atomic.Int64 // downstream_cx_rx_bytes_total
	tcpTxBytes     atomic.Int64 // downstream_cx_tx_bytes_total
	tcpIdleTimeout atomic.Int64 // idle_timeout
	tcpMaxDuration atomic.Int64 // max_downstream_connection_duration
	// rqTime is downstream_rq_time: each HTTP request's time from its
	// arrival to the end of its response, delays injected included.
	rqTime histogram
}

// routeKey names a rule: VirtualService, rule index, route name.
type routeKey struct {
	vs   string
	rule int
	name string
}

// routeStats count what happened to requests matched by one HTTPRoute
// (all its match blocks, on every listener it is emitted for).
type routeStats struct {
	key      routeKey
	matched  atomic.Int64
	delays   atomic.Int64
	aborts   atomic.Int64
	timeouts atomic.Int64
	direct   atomic.Int64
	redirect atomic.Int64
	retries  atomic.Int64 // retries of requests this rule forwarded
	mirrored atomic.Int64 // shadow requests sent
	// mirrorsDropped are shadows not sent because the in-flight limit
	// (Options.MaxMirrorsInFlight) was reached.
	mirrorsDropped atomic.Int64
	// The counters of spec.faults (attempt_fault.go): attempts that met
	// the attempt fault, the delays and aborts it injected, and the
	// attempts its delay held until they ended (timeout, client gone);
	// shadows that met the shadow fault, and its delays and aborts.
	attemptsDrawn    atomic.Int64
	attemptDelays    atomic.Int64
	attemptAborts    atomic.Int64
	attemptDelaysCut atomic.Int64
	shadowsDrawn     atomic.Int64
	shadowDelays     atomic.Int64
	shadowAborts     atomic.Int64
}

// clusterStats are Envoy's cluster.<name>.* counters.
type clusterStats struct {
	name           string
	rqTotal        atomic.Int64 // upstream_rq_total
	rqActive       atomic.Int64 // upstream_rq_active (gauge)
	rqTimeout      atomic.Int64 // upstream_rq_timeout
	rqCancelled    atomic.Int64 // upstream_rq_cancelled
	cxConnectFail  atomic.Int64 // upstream_cx_connect_fail
	cxNoneHealthy  atomic.Int64 // upstream_cx_none_healthy
	rqRxReset      atomic.Int64 // upstream_rq_rx_reset
	codes          [600]atomic.Int64
	membershipSize atomic.Int64 // membership_total of the current table

	rqRetry                atomic.Int64 // upstream_rq_retry
	rqRetrySuccess         atomic.Int64 // upstream_rq_retry_success
	rqRetryLimitExceeded   atomic.Int64 // upstream_rq_retry_limit_exceeded
	rqPerTryTimeout        atomic.Int64 // upstream_rq_per_try_timeout
	retryOrShadowAbandoned atomic.Int64 // retry_or_shadow_abandoned
	// retryCodes are retry.upstream_rq_<code>: responses that were retried.
	retryCodes [600]atomic.Int64
	// shadowRq counts the shadow requests among rqTotal (not an Envoy
	// stat: it keeps mirrors out of Totals.UpstreamRequests).
	shadowRq atomic.Int64
	// rqTime is upstream_rq_time: from the router's start (the request
	// received, after the fault stage) to the end of the upstream
	// response relayed to the client, retries included; charged only for
	// responses that came from upstream.
	rqTime histogram

	policyCounters // connection pool, breakers, balancer, outlier detection (cluster_stats.go)
}

func (c *clusterStats) code(status int) {
	if status >= 100 && status < 600 {
		c.codes[status].Add(1)
	}
}

// retryCode counts an upstream response that was retried.
func (c *clusterStats) retryCode(status int) {
	if status >= 100 && status < 600 {
		c.retryCodes[status].Add(1)
	}
}

// registry owns every counter and every upstream transport of a Proxy.
// Its maps are touched only while compiling and snapshotting, never per
// request.
type registry struct {
	mu         sync.Mutex
	listeners  map[string]*listenerStats
	listenerID map[string]int
	routes     map[routeKey]*routeStats
	clusters   map[string]*clusterStats
	// runtimes are the clusters' runtimes (endpoints, pools, breakers,
	// outlier detectors) of the current table; retired ones were replaced
	// by an Apply and only close their connections (cluster_stats.go).
	runtimes map[string]*clusterRuntime
	retired  []*clusterRuntime
	flags    [numFlags]atomic.Int64
	tunnels  tunnelCounters
	// graph is the Proxy's service graph, whose nodes tables point at;
	// nil when it is off.
	graph *graph
	// born is when the Proxy was made: server.uptime counts from it.
	born time.Time
	// downstreamConns are the HTTP listeners' connections open now, until
	// closed or taken over by a tunnel (server.total_connections).
	downstreamConns atomic.Int64
}

// connState follows an HTTP listener's connections (http.Server.ConnState).
func (r *registry) connState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		r.downstreamConns.Add(1)
	case http.StateClosed, http.StateHijacked:
		r.downstreamConns.Add(-1)
	}
}

// tunnelCounters count the CONNECT tunnels of every listener (tunnel.go).
type tunnelCounters struct {
	opened    atomic.Int64
	refused   atomic.Int64
	active    atomic.Int64 // gauge
	bytesUp   atomic.Int64 // client to target
	bytesDown atomic.Int64 // target to client
}

func newRegistry() *registry {
	return &registry{
		listeners:  map[string]*listenerStats{},
		listenerID: map[string]int{},
		routes:     map[routeKey]*routeStats{},
		clusters:   map[string]*clusterStats{},
		runtimes:   map[string]*clusterRuntime{},
		born:       time.Now(),
	}
}

// listener returns the counters and the stable index of a listener name.
func (r *registry) listener(name string) (*listenerStats, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.listeners[name]
	if !ok {
		s = &listenerStats{name: name}
		r.listeners[name] = s
		r.listenerID[name] = len(r.listenerID)
	}
	return s, r.listenerID[name]
}

func (r *registry) route(k routeKey) *routeStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.routes[k]
	if !ok {
		s = &routeStats{key: k}
		r.routes[k] = s
	}
	return s
}

func (r *registry) cluster(name string) *clusterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.clusters[name]
	if !ok {
		s = &clusterStats{name: name}
		r.clusters[name] = s
	}
	return s
}

func (r *registry) countFlags(f flag) {
	for f != 0 {
		i := trailingZeros(uint32(f))
		r.flags[i].Add(1)
		f &^= 1 << i
	}
}

func trailingZeros(x uint32) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

func (r *registry) closeIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.runtimes {
		rt.transport.CloseIdleConnections()
	}
	for _, rt := range r.retired {
		rt.transport.CloseIdleConnections()
	}
}

// Stats is a plain-value snapshot of a Proxy's counters. Its embedded
// Totals carry the fields of the run report's "proxy" block
// (docs/architecture.md, The report), so the snapshot marshals into that
// block directly and adds the detail.
type Stats struct {
	Totals
	Listeners []ListenerStats `json:"listeners"`
	Routes    []RouteStats    `json:"routes"`
	Clusters  []ClusterStats  `json:"clusters"`
}

// Totals is the report's "proxy" block.
type Totals struct {
	// UpstreamRequests counts requests sent to upstream endpoints for
	// clients: every attempt, retries included. Mirrored copies are not
	// counted here (see Mirrored), only in their cluster's
	// upstream_rq_total; nor are attempts a fault on attempts
	// (spec.faults) ended before they were sent (see Attempts).
	UpstreamRequests int64 `json:"upstreamRequests"`
	// Attempts counts the attempts the router made for clients:
	// UpstreamRequests plus the attempts a fault on attempts aborted or
	// held until they ended, which never left the proxy.
	Attempts int64 `json:"attempts"`
	// Retries counts retries (upstream_rq_retry over every cluster).
	Retries int64 `json:"retries"`
	// Timeouts counts requests that ended in a timeout (flag UT): the
	// route timeout, wherever it struck (attempt, back-off, body), and the
	// per-try timeout on the final try (504 upstream request timeout).
	Timeouts int64 `json:"timeouts"`
	// Overflows counts requests a circuit breaker refused (503, flag UO):
	// upstream_rq_pending_overflow over every cluster.
	Overflows int64 `json:"overflows"`
	// Ejections counts endpoints ejected by outlier detection:
	// outlier_detection.ejections_enforced_total over every cluster.
	Ejections     int64 `json:"ejections"`
	FaultsDelayed int64 `json:"faultsDelayed"`
	FaultsAborted int64 `json:"faultsAborted"`
	// Mirrored counts shadow requests sent (one per mirror target a
	// request was mirrored to).
	Mirrored int64 `json:"mirrored"`
	// MirrorsDropped counts shadows not sent because
	// Options.MaxMirrorsInFlight shadows were already in flight.
	MirrorsDropped int64 `json:"mirrorsDropped"`
	// Tunnels counts CONNECT tunnels opened (answered 200) on the mesh and
	// service listeners; TunnelsRefused the CONNECTs answered otherwise
	// (403: target not on the allow-list; 503: no healthy endpoint or the
	// dial failed). TunnelsActive is a gauge: the tunnels open now.
	Tunnels        int64 `json:"tunnels"`
	TunnelsRefused int64 `json:"tunnelsRefused"`
	TunnelsActive  int64 `json:"tunnelsActive"`
	// TunnelBytesUp counts the bytes tunnels carried from clients to their
	// targets; TunnelBytesDown the bytes back.
	TunnelBytesUp   int64 `json:"tunnelBytesUp"`
	TunnelBytesDown int64 `json:"tunnelBytesDown"`
	// ByFlag counts responses per Envoy response flag; a response with
	// several flags ("DI,FI") counts once under each. Flags never seen are
	// absent.
	ByFlag map[string]int64 `json:"byFlag"`
}

// ListenerStats are one listener's http.<listener>.* counters.
type ListenerStats struct {
	Name            string `json:"name"`
	Requests        int64  `json:"downstream_rq_total"`
	Active          int64  `json:"downstream_rq_active"`
	Rq1xx           int64  `json:"downstream_rq_1xx"`
	Rq2xx           int64  `json:"downstream_rq_2xx"`
	Rq3xx           int64  `json:"downstream_rq_3xx"`
	Rq4xx           int64  `json:"downstream_rq_4xx"`
	Rq5xx           int64  `json:"downstream_rq_5xx"`
	NoRoute         int64  `json:"no_route"`
	NoCluster       int64  `json:"no_cluster"`
	BlockAll        int64  `json:"block_all"`
	Redirects       int64  `json:"rq_redirect"`
	DirectResponses int64  `json:"rq_direct_response"`
	DelaysInjected  int64  `json:"fault.delays_injected"`
	AbortsInjected  int64  `json:"fault.aborts_injected"`
	ClientCancelled int64  `json:"downstream_cx_destroy_remote_active_rq"`
	// The tcp_proxy counters of a TCP or TLS listener (the mesh's tunnels
	// routed by tcp or tls routes count as tunnels instead): connections,
	// those no route or cluster took, and the bytes received from and
	// sent to clients.
	TCPConnections   int64 `json:"tcp.downstream_cx_total"`
	TCPNoRoute       int64 `json:"tcp.downstream_cx_no_route"`
	TCPBytesReceived int64 `json:"tcp.downstream_cx_rx_bytes_total"`
	TCPBytesSent     int64 `json:"tcp.downstream_cx_tx_bytes_total"`
	// TCPIdleTimeouts counts connections closed by their idle timeout,
	// TCPMaxDuration those closed at their maximum duration (flag DT).
	TCPIdleTimeouts int64 `json:"tcp.idle_timeout"`
	TCPMaxDuration  int64 `json:"tcp.max_downstream_connection_duration"`
}

// RouteStats count the requests one HTTPRoute matched and what was done
// to them.
type RouteStats struct {
	VirtualService string `json:"virtualService"`
	// Rule is the index of the HTTPRoute in spec.http.
	Rule int `json:"rule"`
	// Name is the route name as %ROUTE_NAME% prints it (may be empty).
	Name            string `json:"name"`
	Matched         int64  `json:"matched"`
	DelaysInjected  int64  `json:"delaysInjected"`
	AbortsInjected  int64  `json:"abortsInjected"`
	Timeouts        int64  `json:"timeouts"`
	DirectResponses int64  `json:"directResponses"`
	Redirects       int64  `json:"redirects"`
	// Retries counts the retries of requests the rule forwarded.
	Retries int64 `json:"retries"`
	// Mirrored counts shadow requests the rule sent; MirrorsDropped those
	// dropped at the in-flight limit.
	Mirrored       int64 `json:"mirrored"`
	MirrorsDropped int64 `json:"mirrorsDropped"`
	// The counters of a fault on attempts (spec.faults, on: attempts):
	// AttemptsDrawn counts the attempts that met it (retries included),
	// AttemptDelaysInjected and AttemptAbortsInjected what it injected,
	// and AttemptDelaysCut the attempts its delay held until they ended
	// (per-try or route timeout, client gone), which never reached the
	// abort draw.
	AttemptsDrawn         int64 `json:"attemptsDrawn,omitempty"`
	AttemptDelaysInjected int64 `json:"attemptDelaysInjected,omitempty"`
	AttemptAbortsInjected int64 `json:"attemptAbortsInjected,omitempty"`
	AttemptDelaysCut      int64 `json:"attemptDelaysCut,omitempty"`
	// The counters of a fault on shadows (on: shadows): ShadowsDrawn
	// counts the shadows that met it, ShadowDelaysInjected those drawn
	// for its delay, ShadowAbortsInjected those it dropped unsent (an
	// aborted shadow is never sent, delayed or not).
	ShadowsDrawn         int64 `json:"shadowsDrawn,omitempty"`
	ShadowDelaysInjected int64 `json:"shadowDelaysInjected,omitempty"`
	ShadowAbortsInjected int64 `json:"shadowAbortsInjected,omitempty"`
}

// ClusterStats are one cluster's counters under Envoy's names.
type ClusterStats struct {
	// Name is Envoy's cluster name, outbound|<port>|<subset>|<fqdn>.
	Name                  string `json:"name"`
	UpstreamRqTotal       int64  `json:"upstream_rq_total"`
	UpstreamRqActive      int64  `json:"upstream_rq_active"`
	UpstreamRqTimeout     int64  `json:"upstream_rq_timeout"`
	UpstreamRqCancelled   int64  `json:"upstream_rq_cancelled"`
	UpstreamRqRxReset     int64  `json:"upstream_rq_rx_reset"`
	UpstreamCxConnectFail int64  `json:"upstream_cx_connect_fail"`
	UpstreamCxNoneHealthy int64  `json:"upstream_cx_none_healthy"`
	MembershipTotal       int64  `json:"membership_total"`
	// Retry counters: retries made, requests that succeeded after a retry
	// (Envoy counts any final outcome its retryOn does not cover), retries
	// refused by the retry budget (num_retries), per-try timeouts (retried
	// or not), and requests whose body was too large to buffer for a retry
	// or a shadow.
	UpstreamRqRetry              int64 `json:"upstream_rq_retry"`
	UpstreamRqRetrySuccess       int64 `json:"upstream_rq_retry_success"`
	UpstreamRqRetryLimitExceeded int64 `json:"upstream_rq_retry_limit_exceeded"`
	UpstreamRqPerTryTimeout      int64 `json:"upstream_rq_per_try_timeout"`
	RetryOrShadowAbandoned       int64 `json:"retry_or_shadow_abandoned"`
	// Codes holds upstream_rq_<code> and upstream_rq_<N>xx, keyed by those
	// names, for final responses; retried responses count under
	// retry.upstream_rq_<code> and retry.upstream_rq_<N>xx. Local timeouts
	// (504) and connect failures (503) count here too, as Envoy charges
	// them.
	Codes map[string]int64 `json:"codes"`
	PolicyStats
}

// Counters flattens the cluster's counters into Envoy's stat names
// (without the "cluster.<name>." prefix), for a metrics exporter.
func (c ClusterStats) Counters() map[string]int64 {
	m := map[string]int64{
		"upstream_rq_total":        c.UpstreamRqTotal,
		"upstream_rq_active":       c.UpstreamRqActive,
		"upstream_rq_timeout":      c.UpstreamRqTimeout,
		"upstream_rq_cancelled":    c.UpstreamRqCancelled,
		"upstream_rq_rx_reset":     c.UpstreamRqRxReset,
		"upstream_cx_connect_fail": c.UpstreamCxConnectFail,
		"upstream_cx_none_healthy": c.UpstreamCxNoneHealthy,
		"membership_total":         c.MembershipTotal,

		"upstream_rq_retry":                c.UpstreamRqRetry,
		"upstream_rq_retry_success":        c.UpstreamRqRetrySuccess,
		"upstream_rq_retry_limit_exceeded": c.UpstreamRqRetryLimitExceeded,
		"upstream_rq_per_try_timeout":      c.UpstreamRqPerTryTimeout,
		"retry_or_shadow_abandoned":        c.RetryOrShadowAbandoned,
	}
	c.PolicyStats.counters(m)
	for k, v := range c.Codes {
		m[k] = v
	}
	return m
}

// Cluster returns the named cluster's stats, or false.
func (s Stats) Cluster(name string) (ClusterStats, bool) {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return ClusterStats{}, false
}

// Listener returns the named listener's stats, or false.
func (s Stats) Listener(name string) (ListenerStats, bool) {
	for _, l := range s.Listeners {
		if l.Name == name {
			return l, true
		}
	}
	return ListenerStats{}, false
}

// Route returns the stats of rule index rule of a VirtualService, or false.
func (s Stats) Route(virtualService string, rule int) (RouteStats, bool) {
	for _, r := range s.Routes {
		if r.VirtualService == virtualService && r.Rule == rule {
			return r, true
		}
	}
	return RouteStats{}, false
}

func (r *registry) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Totals: Totals{ByFlag: map[string]int64{}}}
	for _, l := range r.listeners {
		ls := ListenerStats{
			Name:            l.name,
			Requests:        l.requests.Load(),
			Active:          l.active.Load(),
			Rq1xx:           l.byClass[1].Load(),
			Rq2xx:           l.byClass[2].Load(),
			Rq3xx:           l.byClass[3].Load(),
			Rq4xx:           l.byClass[4].Load(),
			Rq5xx:           l.byClass[5].Load(),
			NoRoute:         l.noRoute.Load(),
			NoCluster:       l.noCluster.Load(),
			BlockAll:        l.blockAll.Load(),
			Redirects:       l.redirects.Load(),
			DirectResponses: l.direct.Load(),
			DelaysInjected:  l.delays.Load(),
			AbortsInjected:  l.aborts.Load(),
			ClientCancelled: l.clientCancel.Load(),

			TCPConnections:   l.tcpCxTotal.Load(),
			TCPNoRoute:       l.tcpNoRoute.Load(),
			TCPBytesReceived: l.tcpRxBytes.Load(),
			TCPBytesSent:     l.tcpTxBytes.Load(),
			TCPIdleTimeouts:  l.tcpIdleTimeout.Load(),
			TCPMaxDuration:   l.tcpMaxDuration.Load(),
		}
		s.FaultsDelayed += ls.DelaysInjected
		s.FaultsAborted += ls.AbortsInjected
		s.Listeners = append(s.Listeners, ls)
	}
	for _, rt := range r.routes {
		s.Routes = append(s.Routes, RouteStats{
			VirtualService:  rt.key.vs,
			Rule:            rt.key.rule,
			Name:            rt.key.name,
			Matched:         rt.matched.Load(),
			DelaysInjected:  rt.delays.Load(),
			AbortsInjected:  rt.aborts.Load(),
			Timeouts:        rt.timeouts.Load(),
			DirectResponses: rt.direct.Load(),
			Redirects:       rt.redirect.Load(),
			Retries:         rt.retries.Load(),
			Mirrored:        rt.mirrored.Load(),
			MirrorsDropped:  rt.mirrorsDropped.Load(),

			AttemptsDrawn:         rt.attemptsDrawn.Load(),
			AttemptDelaysInjected: rt.attemptDelays.Load(),
			AttemptAbortsInjected: rt.attemptAborts.Load(),
			AttemptDelaysCut:      rt.attemptDelaysCut.Load(),
			ShadowsDrawn:          rt.shadowsDrawn.Load(),
			ShadowDelaysInjected:  rt.shadowDelays.Load(),
			ShadowAbortsInjected:  rt.shadowAborts.Load(),
		})
		s.Attempts += rt.attemptAborts.Load() + rt.attemptDelaysCut.Load()
		s.Mirrored += rt.mirrored.Load()
		s.MirrorsDropped += rt.mirrorsDropped.Load()
	}
	for _, c := range r.clusters {
		cs := ClusterStats{
			Name:                  c.name,
			UpstreamRqTotal:       c.rqTotal.Load(),
			UpstreamRqActive:      c.rqActive.Load(),
			UpstreamRqTimeout:     c.rqTimeout.Load(),
			UpstreamRqCancelled:   c.rqCancelled.Load(),
			UpstreamRqRxReset:     c.rqRxReset.Load(),
			UpstreamCxConnectFail: c.cxConnectFail.Load(),
			UpstreamCxNoneHealthy: c.cxNoneHealthy.Load(),
			MembershipTotal:       c.membershipSize.Load(),
			Codes:                 map[string]int64{},

			UpstreamRqRetry:              c.rqRetry.Load(),
			UpstreamRqRetrySuccess:       c.rqRetrySuccess.Load(),
			UpstreamRqRetryLimitExceeded: c.rqRetryLimitExceeded.Load(),
			UpstreamRqPerTryTimeout:      c.rqPerTryTimeout.Load(),
			RetryOrShadowAbandoned:       c.retryOrShadowAbandoned.Load(),
		}
		addCodes(cs.Codes, "upstream_rq_", &c.codes)
		addCodes(cs.Codes, "retry.upstream_rq_", &c.retryCodes)
		s.UpstreamRequests += cs.UpstreamRqTotal - c.shadowRq.Load()
		s.Attempts += cs.UpstreamRqTotal - c.shadowRq.Load()
		s.Retries += cs.UpstreamRqRetry
		cs.PolicyStats = policyStats(c, r.runtimes[c.name])
		s.Overflows += cs.UpstreamRqPendingOverflow
		s.Ejections += cs.EjectionsEnforcedTotal
		s.Clusters = append(s.Clusters, cs)
	}
	for i := range r.flags {
		if n := r.flags[i].Load(); n > 0 {
			s.ByFlag[flagNames[i]] = n
		}
	}
	s.Timeouts = r.flags[trailingZeros(uint32(flagUT))].Load()
	s.Tunnels = r.tunnels.opened.Load()
	s.TunnelsRefused = r.tunnels.refused.Load()
	s.TunnelsActive = r.tunnels.active.Load()
	s.TunnelBytesUp = r.tunnels.bytesUp.Load()
	s.TunnelBytesDown = r.tunnels.bytesDown.Load()
	slices.SortFunc(s.Listeners, func(a, b ListenerStats) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.Clusters, func(a, b ClusterStats) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.Routes, func(a, b RouteStats) int {
		if c := strings.Compare(a.VirtualService, b.VirtualService); c != 0 {
			return c
		}
		return a.Rule - b.Rule
	})
	return s
}

// addCodes adds prefix<code> and prefix<N>xx for every code seen.
func addCodes(m map[string]int64, prefix string, codes *[600]atomic.Int64) {
	var classes [6]int64
	for code := 100; code < 600; code++ {
		if n := codes[code].Load(); n > 0 {
			m[prefix+strconv.Itoa(code)] = n
			classes[code/100] += n
		}
	}
	for k := 1; k < 6; k++ {
		if classes[k] > 0 {
			m[prefix+strconv.Itoa(k)+"xx"] = classes[k]
		}
	}
}
