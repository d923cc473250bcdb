package proxy

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ConfigDump is what /config_dump serves: the table the proxy serves now,
// as it compiled it. Its JSON shape is stable (docs/istio.md, Admin
// views): fields are added, never renamed; lists are in a fixed order
// (listeners as Listeners lists them, virtual hosts and clusters by name,
// routes in match order); durations are strings ("1.5s"), percentages
// numbers 0-100; unset optional parts are omitted.
type ConfigDump struct {
	Listeners []ListenerDump `json:"listeners"`
	Clusters  []ClusterDump  `json:"clusters"`
}

// ListenerDump is one listener: its address, and its virtual hosts (HTTP)
// or connection routes (TCP, TLS).
type ListenerDump struct {
	Listener
	VirtualHosts []VirtualHostDump `json:"virtualHosts,omitempty"`
	// L4 routes the connections of a TCP or TLS listener.
	L4 *L4Dump `json:"l4,omitempty"`
	// BlockAll: a host no virtual host claims gets 502 block_all (the
	// mesh, as REGISTRY_ONLY); else 404 NR.
	BlockAll bool `json:"blockAll,omitempty"`
}

// VirtualHostDump is an Envoy virtual host: the domains it claims and
// its routes in the order they are tried.
type VirtualHostDump struct {
	Name    string      `json:"name"`
	Domains []string    `json:"domains"`
	Routes  []RouteDump `json:"routes"`
	// RequireTLS answers every request with a 301 to https.
	RequireTLS bool `json:"requireTls,omitempty"`
}

// RouteDump is one Envoy route: a match block of an HTTPRoute and what
// the rule does.
type RouteDump struct {
	// Name is %ROUTE_NAME%; VirtualService and Rule the HTTPRoute it came
	// from (empty and -1 for Istio's default route).
	Name           string    `json:"name,omitempty"`
	VirtualService string    `json:"virtualService,omitempty"`
	Rule           int       `json:"rule"`
	Match          MatchDump `json:"match"`
	// Action is "route", "redirect" or "directResponse".
	Action         string              `json:"action"`
	Route          *RouteActionDump    `json:"route,omitempty"`
	Redirect       *RedirectDump       `json:"redirect,omitempty"`
	DirectResponse *DirectResponseDump `json:"directResponse,omitempty"`
	Fault          *FaultDump          `json:"fault,omitempty"`
	RequestHeaders []HeaderOpDump      `json:"requestHeaders,omitempty"`
	// ResponseHeaders are the rule's response header operations.
	ResponseHeaders []HeaderOpDump `json:"responseHeaders,omitempty"`
}

// MatchDump is a compiled match block; absent fields match anything.
type MatchDump struct {
	// PathPrefix is the prefix rewrites replace ("/" without a uri match).
	PathPrefix string            `json:"pathPrefix"`
	URI        *StringMatchDump  `json:"uri,omitempty"`
	Scheme     *StringMatchDump  `json:"scheme,omitempty"`
	Method     *StringMatchDump  `json:"method,omitempty"`
	Authority  *StringMatchDump  `json:"authority,omitempty"`
	Headers    []HeaderMatchDump `json:"headers,omitempty"`
	Query      []HeaderMatchDump `json:"queryParams,omitempty"`
	Port       uint32            `json:"port,omitempty"`
}

// StringMatchDump is one string matcher: kind "exact", "prefix", "regex"
// or "present".
type StringMatchDump struct {
	Kind       string `json:"kind"`
	Value      string `json:"value,omitempty"`
	IgnoreCase bool   `json:"ignoreCase,omitempty"`
}

// HeaderMatchDump matches a header (or query parameter) by name;
// Invert is withoutHeaders.
type HeaderMatchDump struct {
	Name string `json:"name"`
	StringMatchDump
	Invert bool `json:"invert,omitempty"`
}

// RouteActionDump is what a forwarding rule does.
type RouteActionDump struct {
	Clusters []WeightedClusterDump `json:"clusters"`
	Timeout  string                `json:"timeout,omitempty"`
	Retry    *RetryDump            `json:"retryPolicy,omitempty"`
	Mirrors  []MirrorDump          `json:"mirrors,omitempty"`
	// PrefixRewrite, RegexRewrite and Substitution are the path rewrite;
	// HostRewrite the authority one.
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	RegexRewrite  string `json:"regexRewrite,omitempty"`
	Substitution  string `json:"substitution,omitempty"`
	HostRewrite   string `json:"hostRewrite,omitempty"`
}

// WeightedClusterDump is a weighted destination: its cluster, or the
// cluster per request port when the port is known only then.
type WeightedClusterDump struct {
	Name   string            `json:"name"`
	Weight uint64            `json:"weight"`
	ByPort map[string]string `json:"byPort,omitempty"`
	// Missing: the destination's cluster does not exist (no DestinationRule
	// defines the subset, the host lacks the port, or a Gateway API
	// backend is invalid); requests routed to it get NotFoundStatus (503,
	// or 500 under gateway semantics) with the NC flag.
	Missing         bool           `json:"missing,omitempty"`
	NotFoundStatus  int            `json:"notFoundStatus,omitempty"`
	RequestHeaders  []HeaderOpDump `json:"requestHeaders,omitempty"`
	ResponseHeaders []HeaderOpDump `json:"responseHeaders,omitempty"`
}

// RetryDump is Envoy's route retry_policy as istiod writes it.
type RetryDump struct {
	NumRetries           int      `json:"numRetries"`
	RetryOn              []string `json:"retryOn"`
	RetriableStatusCodes []int    `json:"retriableStatusCodes,omitempty"`
	PerTryTimeout        string   `json:"perTryTimeout,omitempty"`
	BackoffBase          string   `json:"backoffBaseInterval"`
	BackoffMax           string   `json:"backoffMaxInterval"`
	PreviousHosts        bool     `json:"previousHosts"`
}

// MirrorDump is a shadow policy.
type MirrorDump struct {
	Cluster    WeightedClusterDump `json:"cluster"`
	Percent    float64             `json:"percent"`
	HostSuffix bool                `json:"shadowHostSuffix,omitempty"`
}

// FaultDump is a rule's fault injection.
type FaultDump struct {
	Delay        string   `json:"delay,omitempty"`
	DelayPercent float64  `json:"delayPercent,omitempty"`
	AbortStatus  int      `json:"abortStatus,omitempty"`
	GRPCStatus   string   `json:"grpcStatus,omitempty"`
	AbortPercent *float64 `json:"abortPercent,omitempty"`
}

// RedirectDump is a compiled HTTPRedirect; empty fields keep the request's.
type RedirectDump struct {
	Code          int    `json:"code"`
	Path          string `json:"path,omitempty"`
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	Authority     string `json:"authority,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Port          uint32 `json:"port,omitempty"`
	DerivePort    string `json:"derivePort,omitempty"`
}

// DirectResponseDump is a compiled HTTPDirectResponse.
type DirectResponseDump struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
}

// HeaderOpDump is a header operation: "set", "add" or "remove".
type HeaderOpDump struct {
	Op     string   `json:"op"`
	Name   string   `json:"name"`
	Values []string `json:"values,omitempty"`
}

// L4Dump is the connection routing of a TCP or TLS listener.
type L4Dump struct {
	// TLS: routes by the ClientHello's SNI (tls routes).
	TLS      bool          `json:"tls"`
	Routes   []L4RouteDump `json:"routes"`
	Fallback *L4RouteDump  `json:"fallback,omitempty"`
	// BlackHole: an unmatched connection goes to BlackHoleCluster.
	BlackHole bool `json:"blackHole,omitempty"`
}

// L4RouteDump is a tcp or tls route: OR'ed matches, weighted clusters.
type L4RouteDump struct {
	Matches  []L4MatchDump         `json:"matches,omitempty"`
	Clusters []WeightedClusterDump `json:"clusters"`
}

// L4MatchDump is one tcp or tls match block, AND'ed.
type L4MatchDump struct {
	Port     uint32   `json:"port,omitempty"`
	Subnets  []string `json:"destinationSubnets,omitempty"`
	SNIHosts []string `json:"sniHosts,omitempty"`
}

// ClusterDump is one cluster: outbound|<port>|<subset>|<fqdn>, its
// endpoints and the policy its DestinationRules resolved to.
type ClusterDump struct {
	Name      string         `json:"name"`
	Endpoints []EndpointDump `json:"endpoints"`
	// LBPolicy is ROUND_ROBIN, RANDOM, LEAST_REQUEST, RING_HASH or MAGLEV.
	LBPolicy         string                `json:"lbPolicy"`
	CircuitBreakers  CircuitBreakersDump   `json:"circuitBreakers"`
	ConnectTimeout   string                `json:"connectTimeout"`
	IdleTimeout      string                `json:"idleTimeout,omitempty"`
	MaxConnDuration  string                `json:"maxConnectionDuration,omitempty"`
	MaxRqPerConn     int64                 `json:"maxRequestsPerConnection,omitempty"`
	OutlierDetection *OutlierDetectionDump `json:"outlierDetection,omitempty"`
}

// EndpointDump is one endpoint of a cluster.
type EndpointDump struct {
	Address string            `json:"address"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// CircuitBreakersDump are the default-priority thresholds (4294967295:
// no limit, Envoy's default as Istio leaves it).
type CircuitBreakersDump struct {
	MaxConnections     int64 `json:"maxConnections"`
	MaxPendingRequests int64 `json:"maxPendingRequests"`
	MaxRequests        int64 `json:"maxRequests"`
	MaxRetries         int64 `json:"maxRetries"`
}

// OutlierDetectionDump is the cluster's outlier detection, resolved.
type OutlierDetectionDump struct {
	Consecutive5xx         uint32  `json:"consecutive5xx"`
	Enforcing5xx           bool    `json:"enforcingConsecutive5xx"`
	ConsecutiveGateway     uint32  `json:"consecutiveGatewayFailure"`
	EnforcingGateway       bool    `json:"enforcingConsecutiveGatewayFailure"`
	SplitLocalOrigin       bool    `json:"splitExternalLocalOriginErrors"`
	ConsecutiveLocalOrigin uint32  `json:"consecutiveLocalOriginFailure"`
	Interval               string  `json:"interval"`
	BaseEjectionTime       string  `json:"baseEjectionTime"`
	MaxEjectionTime        string  `json:"maxEjectionTime"`
	MaxEjectionPercent     float64 `json:"maxEjectionPercent"`
	PanicThreshold         float64 `json:"healthyPanicThreshold"`
	ErrorCodes             []int   `json:"httpErrorCodes,omitempty"`
}

// ConfigDump describes the table p serves now.
func (p *Proxy) ConfigDump() ConfigDump {
	t := p.Table()
	out := ConfigDump{Listeners: []ListenerDump{}, Clusters: []ClusterDump{}}
	if t == nil {
		return out
	}
	byName := map[string]*listenerTable{}
	for _, lt := range t.listeners {
		if lt != nil {
			byName[lt.name] = lt
		}
	}
	for _, l := range p.Listeners() {
		ld := ListenerDump{Listener: l}
		if l.Kind == KindService {
			byName[l.Name] = byName[meshListener] // routed by the mesh's table
		}
		if lt := byName[l.Name]; lt != nil {
			ld.VirtualHosts = dumpVhosts(lt)
			ld.BlockAll = lt.blockAll
			if lt.l4 != nil {
				ld.L4 = dumpL4(lt.l4)
			}
		}
		out.Listeners = append(out.Listeners, ld)
	}
	for _, name := range t.ClusterNames() {
		out.Clusters = append(out.Clusters, dumpCluster(t.clusters[name]))
	}
	return out
}

func (p *Proxy) writeConfigDump(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p.ConfigDump())
}

// dumpVhosts lists a listener's virtual hosts by name, each with every
// domain that selects it.
func dumpVhosts(lt *listenerTable) []VirtualHostDump {
	domains := map[*vhost][]string{}
	for d, vh := range lt.exact {
		domains[vh] = append(domains[vh], d)
	}
	for _, w := range lt.suffix {
		domains[w.vh] = append(domains[w.vh], "*"+w.affix)
	}
	for _, w := range lt.prefix {
		domains[w.vh] = append(domains[w.vh], w.affix+"*")
	}
	if lt.star != nil {
		domains[lt.star] = append(domains[lt.star], "*")
	}
	out := make([]VirtualHostDump, 0, len(domains))
	for vh, ds := range domains {
		slices.Sort(ds)
		v := VirtualHostDump{Name: vh.name, Domains: ds, Routes: make([]RouteDump, 0, len(vh.routes)), RequireTLS: vh.requireTLS}
		for _, re := range vh.routes {
			v.Routes = append(v.Routes, dumpRoute(re))
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b VirtualHostDump) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func dumpRoute(re *routeEntry) RouteDump {
	r := re.rule
	d := RouteDump{Name: re.name, Rule: -1, Match: dumpMatch(re), RequestHeaders: dumpOps(r.reqOps), ResponseHeaders: dumpOps(r.respOps)}
	if r.stats != nil {
		d.VirtualService, d.Rule = r.stats.key.vs, r.stats.key.rule
	}
	if f := r.fault; f != nil {
		d.Fault = dumpFault(f)
	}
	switch r.kind {
	case actionRedirect:
		d.Action = "redirect"
		rd := r.redirect
		d.Redirect = &RedirectDump{Code: rd.code, Path: rd.uri, Authority: rd.authority, Scheme: rd.scheme, Port: rd.port, DerivePort: rd.derivePort}
		if rd.hasPrefix {
			d.Redirect.PrefixRewrite = rd.prefix
		}
	case actionDirect:
		d.Action = "directResponse"
		d.DirectResponse = &DirectResponseDump{Status: r.direct.status, Body: string(r.direct.body)}
	default:
		d.Action = "route"
		d.Route = dumpAction(r)
	}
	return d
}

func dumpMatch(re *routeEntry) MatchDump {
	m := &re.match
	d := MatchDump{PathPrefix: re.prefix, URI: dumpStr(m.uri), Scheme: dumpStr(m.scheme), Method: dumpStr(m.method), Authority: dumpStr(m.authority), Port: m.port}
	for _, h := range m.headers {
		d.Headers = append(d.Headers, HeaderMatchDump{Name: h.key, StringMatchDump: *dumpStr(&h.m), Invert: h.invert})
	}
	for _, q := range m.query {
		d.Query = append(d.Query, HeaderMatchDump{Name: q.key, StringMatchDump: *dumpStr(&q.m)})
	}
	return d
}

var strKinds = [...]string{strPresent: "present", strExact: "exact", strPrefix: "prefix", strRegex: "regex"}

func dumpStr(m *strMatch) *StringMatchDump {
	if m == nil {
		return nil
	}
	d := &StringMatchDump{Kind: strKinds[m.kind], Value: m.value, IgnoreCase: m.foldCase}
	if m.kind == strRegex && m.re != nil && d.Value == "" {
		d.Value = m.re.String()
	}
	return d
}

func dumpAction(r *rule) *RouteActionDump {
	a := &RouteActionDump{Clusters: dumpWeighted(&r.weighted), Retry: dumpRetry(r.retry), HostRewrite: r.authority}
	if r.timeout > 0 {
		a.Timeout = r.timeout.String()
	}
	for _, m := range r.mirrors {
		a.Mirrors = append(a.Mirrors, MirrorDump{Cluster: dumpDest(m.dest, 0), Percent: percent(m.percent), HostSuffix: m.hostSuffix})
	}
	if r.hasRewrite {
		if r.rewriteRegex != nil {
			a.RegexRewrite, a.Substitution = r.rewriteRegex.String(), r.rewriteRepl
		} else {
			a.PrefixRewrite = r.rewriteURI
		}
	}
	return a
}

func dumpWeighted(w *weighted) []WeightedClusterDump {
	out := make([]WeightedClusterDump, 0, len(w.dests))
	for _, d := range w.dests {
		out = append(out, dumpDest(d, d.weight))
	}
	return out
}

func dumpDest(d *destination, weight uint64) WeightedClusterDump {
	c := WeightedClusterDump{Name: d.name, Weight: weight, Missing: d.missingSubset, RequestHeaders: dumpOps(d.reqOps), ResponseHeaders: dumpOps(d.respOps)}
	if d.missingSubset {
		c.NotFoundStatus = d.clusterNotFoundCode()
	}
	if d.cluster != nil {
		c.Name = d.cluster.name
	}
	for _, pc := range d.byPort {
		if c.ByPort == nil {
			c.ByPort = map[string]string{}
		}
		c.ByPort[strconv.FormatUint(uint64(pc.port), 10)] = pc.c.name
	}
	return c
}

func dumpRetry(p *retryPolicy) *RetryDump {
	if p == nil {
		return nil
	}
	d := &RetryDump{NumRetries: p.retries, RetriableStatusCodes: p.codes, PreviousHosts: p.previousHosts,
		BackoffBase: (time.Duration(p.backoffBaseMs) * time.Millisecond).String(), BackoffMax: (time.Duration(p.backoffMaxMs) * time.Millisecond).String()}
	for _, tok := range slices.Sorted(maps.Keys(retryOnTokens)) {
		if p.on&retryOnTokens[tok] != 0 {
			d.RetryOn = append(d.RetryOn, tok)
		}
	}
	if p.perTry > 0 {
		d.PerTryTimeout = p.perTry.String()
	}
	return d
}

func dumpFault(f *fault) *FaultDump {
	d := &FaultDump{}
	if f.delay > 0 {
		d.Delay, d.DelayPercent = f.delay.String(), percent(f.delayPercent)
	}
	if f.hasAbort {
		pct := percent(f.abortPercent)
		d.AbortStatus, d.AbortPercent = f.abortStatus, &pct
		if len(f.grpcStatus) > 0 {
			d.GRPCStatus = f.grpcStatus[0]
		}
	}
	return d
}

// percent turns a numerator over a million into a percentage.
func percent(n uint64) float64 { return float64(n) * 100 / fractionDenominator }

var opNames = [...]string{opSet: "set", opAdd: "add", opRemove: "remove"}

func dumpOps(ops headerOps) []HeaderOpDump {
	var out []HeaderOpDump
	for _, op := range ops {
		out = append(out, HeaderOpDump{Op: opNames[op.kind], Name: op.key, Values: op.vals})
	}
	return out
}

func dumpL4(t *l4Table) *L4Dump {
	d := &L4Dump{TLS: t.tls, Routes: []L4RouteDump{}, BlackHole: t.blackHole}
	for _, r := range t.routes {
		d.Routes = append(d.Routes, dumpL4Route(r))
	}
	if t.fallback != nil {
		fb := dumpL4Route(t.fallback)
		d.Fallback = &fb
	}
	return d
}

func dumpL4Route(r *l4Route) L4RouteDump {
	d := L4RouteDump{Clusters: dumpWeighted(&r.weighted)}
	for _, m := range r.matches {
		md := L4MatchDump{Port: m.port, SNIHosts: m.sni}
		for _, p := range m.subnets {
			md.Subnets = append(md.Subnets, p.String())
		}
		d.Matches = append(d.Matches, md)
	}
	return d
}

func dumpCluster(c *cluster) ClusterDump {
	rt := c.rt
	pool := rt.pool
	d := ClusterDump{Name: c.name, Endpoints: []EndpointDump{}, LBPolicy: lbPolicy(c),
		CircuitBreakers: CircuitBreakersDump{MaxConnections: pool.maxConnections, MaxPendingRequests: pool.maxPending, MaxRequests: pool.maxRequests, MaxRetries: pool.maxRetries},
		ConnectTimeout:  pool.connectTimeout.String(), MaxRqPerConn: pool.maxRqPerConn}
	if pool.idleTimeout > 0 {
		d.IdleTimeout = pool.idleTimeout.String()
	}
	if pool.maxConnDuration > 0 {
		d.MaxConnDuration = pool.maxConnDuration.String()
	}
	for _, ep := range rt.endpoints {
		d.Endpoints = append(d.Endpoints, EndpointDump{Address: ep.addr, Labels: ep.labels})
	}
	if od := rt.outlier; od != nil {
		cfg := od.cfg
		d.OutlierDetection = &OutlierDetectionDump{Consecutive5xx: cfg.consecutive5xx, Enforcing5xx: cfg.enforce5xx,
			ConsecutiveGateway: cfg.consecutiveGateway, EnforcingGateway: cfg.enforceGateway, SplitLocalOrigin: cfg.split,
			ConsecutiveLocalOrigin: cfg.consecutiveLocal, Interval: cfg.interval.String(), BaseEjectionTime: cfg.baseEjection.String(),
			MaxEjectionTime: cfg.maxEjection.String(), MaxEjectionPercent: cfg.maxEjectionPercent, PanicThreshold: cfg.panicThreshold, ErrorCodes: cfg.errorCodes}
	}
	return d
}

// lbPolicy names the cluster's balancer as Envoy's lb_policy does.
func lbPolicy(c *cluster) string {
	switch lb := c.lb.(type) {
	case *roundRobin:
		return "ROUND_ROBIN"
	case random:
		return "RANDOM"
	case leastRequest:
		return "LEAST_REQUEST"
	case consistentHash:
		if lb.h != nil && lb.h.maglev {
			return "MAGLEV"
		}
		return "RING_HASH"
	}
	return ""
}
