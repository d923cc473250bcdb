package proxy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// A cluster's DestinationRule policy is resolved once, at compile time, the
// way istiod merges it (docs/istio.md, Policy lookup and inheritance;
// istio/istio MergeTrafficPolicy):
//
//	DR trafficPolicy ──► its portLevelSettings for the cluster's port, if any,
//	                     replace all four blocks (unset ones fall back to
//	                     defaults, never to the DR level)
//	  ──► the subset's trafficPolicy replaces each block it sets (per block,
//	      no field-level merge); unset blocks are inherited
//	  ──► the subset's portLevelSettings for the port, if any, replace all
//	      four blocks again.
//
// The result is turned into plain values (poolConfig, outlierConfig,
// lbConfig) with Istio's defaults filled in, so the data plane never looks
// at the YAML types.

// policyBlock is one resolved block and where it was written, for problems.
type policyBlock[T any] struct {
	v     *T
	label string // "DestinationRule <name>"
	path  string // e.g. "spec.subsets[0].trafficPolicy.connectionPool"
}

// clusterPolicy is the merged traffic policy of one cluster.
type clusterPolicy struct {
	lb  policyBlock[scenarios.LoadBalancerSettings]
	cp  policyBlock[scenarios.ConnectionPool]
	od  policyBlock[scenarios.OutlierDetection]
	tls policyBlock[scenarios.ClientTLSSettings]
}

// policySource is a traffic policy and where it sits.
type policySource struct {
	tp     *scenarios.TrafficPolicy
	label  string
	path   string
	labels map[string]string // a subset's endpoint selector
}

// apply overlays the blocks tp sets (subset inheritance, per block).
func (p *clusterPolicy) apply(s policySource) {
	tp := s.tp
	if tp == nil {
		return
	}
	if tp.LoadBalancer != nil {
		p.lb = policyBlock[scenarios.LoadBalancerSettings]{tp.LoadBalancer, s.label, s.path + ".loadBalancer"}
	}
	if tp.ConnectionPool != nil {
		p.cp = policyBlock[scenarios.ConnectionPool]{tp.ConnectionPool, s.label, s.path + ".connectionPool"}
	}
	if tp.OutlierDetection != nil {
		p.od = policyBlock[scenarios.OutlierDetection]{tp.OutlierDetection, s.label, s.path + ".outlierDetection"}
	}
	if tp.TLS != nil {
		p.tls = policyBlock[scenarios.ClientTLSSettings]{tp.TLS, s.label, s.path + ".tls"}
	}
}

// applyPort replaces every block with the port-level policy for port, if
// tp has one: fields it does not give fall back to defaults.
func (p *clusterPolicy) applyPort(s policySource, port uint32) {
	if s.tp == nil {
		return
	}
	for i := range s.tp.PortLevelSettings {
		pl := &s.tp.PortLevelSettings[i]
		if pl.Port == nil || pl.Port.Number != port {
			continue
		}
		path := fmt.Sprintf("%s.portLevelSettings[%d]", s.path, i)
		*p = clusterPolicy{
			lb:  policyBlock[scenarios.LoadBalancerSettings]{pl.LoadBalancer, s.label, path + ".loadBalancer"},
			cp:  policyBlock[scenarios.ConnectionPool]{pl.ConnectionPool, s.label, path + ".connectionPool"},
			od:  policyBlock[scenarios.OutlierDetection]{pl.OutlierDetection, s.label, path + ".outlierDetection"},
			tls: policyBlock[scenarios.ClientTLSSettings]{pl.TLS, s.label, path + ".tls"},
		}
		return
	}
}

// resolvePolicy merges the DR-level policy (top) and a subset's policy (sub,
// tp nil when the cluster is not a subset or the subset has none) for a
// cluster on port.
func resolvePolicy(top, sub policySource, port uint32) clusterPolicy {
	var p clusterPolicy
	p.apply(top)
	p.applyPort(top, port)
	p.apply(sub)
	p.applyPort(sub, port)
	return p
}

// unlimited is what istiod programs for every circuit-breaker threshold a
// DestinationRule leaves unset or sets to 0 (2^32−1).
const unlimited = math.MaxUint32

// poolConfig is a resolved connectionPool (docs/istio.md, Connection pool
// and circuit breaking; Defaults at a glance).
type poolConfig struct {
	maxConnections  int64 // tcp.maxConnections
	maxPending      int64 // http.http1MaxPendingRequests
	maxRequests     int64 // http.http2MaxRequests
	maxRetries      int64 // http.maxRetries
	maxRqPerConn    int64 // http.maxRequestsPerConnection; 0 = unlimited
	connectTimeout  time.Duration
	idleTimeout     time.Duration // 0 = never closed for idleness
	maxConnDuration time.Duration // 0 = none
	// tcpIdle is a TCP connection's idle timeout (tcp.idleTimeout, the
	// tcp_proxy's; 0 = none).
	tcpIdle time.Duration
}

// limited reports whether any request-admission limit is set.
func (c poolConfig) limited() bool {
	return c.maxConnections < unlimited || c.maxPending < unlimited || c.maxRequests < unlimited
}

// limit maps an Istio threshold to Envoy's: only values > 0 override 2^32−1.
func limit(v int32) int64 {
	if v > 0 {
		return int64(v)
	}
	return unlimited
}

// poolConfig resolves the connectionPool block with Istio's defaults.
func (b *builder) poolConfig(blk policyBlock[scenarios.ConnectionPool]) poolConfig {
	c := poolConfig{
		maxConnections: unlimited,
		maxPending:     unlimited,
		maxRequests:    unlimited,
		maxRetries:     unlimited,
		connectTimeout: connectTimeout,
		idleTimeout:    upstreamIdle,
		tcpIdle:        upstreamIdle,
	}
	cp := blk.v
	if cp == nil {
		return c
	}
	var idle *scenarios.Duration
	if t := cp.TCP; t != nil {
		c.maxConnections = limit(t.MaxConnections)
		if t.ConnectTimeout != nil && *t.ConnectTimeout > 0 {
			c.connectTimeout = t.ConnectTimeout.D()
		}
		if t.MaxConnectionDuration != nil && *t.MaxConnectionDuration > 0 {
			c.maxConnDuration = t.MaxConnectionDuration.D()
		}
		idle = t.IdleTimeout
		if idle != nil {
			c.tcpIdle = max(idle.D(), 0) // 0s disables it
		}
	}
	if h := cp.HTTP; h != nil {
		c.maxPending = limit(h.HTTP1MaxPendingRequests)
		c.maxRequests = limit(h.HTTP2MaxRequests)
		c.maxRetries = limit(h.MaxRetries)
		if h.MaxRequestsPerConnection > 0 {
			c.maxRqPerConn = int64(h.MaxRequestsPerConnection)
		}
		if h.IdleTimeout != nil {
			idle = h.IdleTimeout // http.idleTimeout wins over tcp.idleTimeout
		}
	}
	if idle != nil {
		c.idleTimeout = max(idle.D(), 0) // 0s disables the idle timeout
	}
	return c
}

// Envoy's outlier-detection defaults (docs/istio.md, Outlier detection).
const (
	defaultConsecutive       = 5
	defaultInterval          = 10 * time.Second
	defaultBaseEjection      = 30 * time.Second
	defaultMaxEjectionTime   = 300 * time.Second
	defaultMaxEjectionPct    = 10
	envoyPanicThresholdPct   = 50
	firstIstioWithStrictEjec = 19 // Istio 1.19 ships Envoy 1.27: max_ejection_percent is a hard limit
)

// outlierConfig is a resolved outlierDetection block, as istiod programs
// Envoy from it (applyOutlierDetection) for the experiment's Istio release.
type outlierConfig struct {
	consecutive5xx     uint32
	enforce5xx         bool
	consecutiveGateway uint32
	enforceGateway     bool
	split              bool // splitExternalLocalOriginErrors
	consecutiveLocal   uint32
	interval           time.Duration
	baseEjection       time.Duration
	maxEjection        time.Duration
	maxEjectionPercent float64
	panicThreshold     float64 // percent; 0 never panics
	// strictMaxPercent is Envoy ≥ 1.27: an ejection is allowed only if the
	// ejected share after it is ≤ maxEjectionPercent (a single host at 10 %
	// is never ejected). Before, the share before it had to be <
	// maxEjectionPercent, so the first ejection always happened.
	strictMaxPercent bool
	// errorCodes, when set, are the only response codes that count as
	// errors (outlierDetectionHttpErrorCodes).
	errorCodes []int
}

// outlierConfig resolves the outlierDetection block; nil when absent.
func (b *builder) outlierConfig(blk policyBlock[scenarios.OutlierDetection]) *outlierConfig {
	od := blk.v
	if od == nil {
		return nil
	}
	c := &outlierConfig{
		consecutive5xx:     defaultConsecutive,
		enforce5xx:         true,
		consecutiveGateway: defaultConsecutive,
		enforceGateway:     false, // Envoy's enforcing_consecutive_gateway_failure default 0
		consecutiveLocal:   defaultConsecutive,
		interval:           defaultInterval,
		baseEjection:       defaultBaseEjection,
		maxEjectionPercent: defaultMaxEjectionPct,
		panicThreshold:     envoyPanicThresholdPct,
		strictMaxPercent:   b.doc.Istio.AtLeast(firstIstioWithStrictEjec),
	}
	if n := od.ConsecutiveErrors; n != nil && *n > 0 && b.defaults.ConsecutiveErrorsHonoured {
		// Istio ≤ 1.6: gateway errors only, 5xx enforcement off.
		c.consecutiveGateway, c.enforceGateway, c.enforce5xx = uint32(*n), true, false
	}
	if n := od.Consecutive5xxErrors; n != nil {
		c.consecutive5xx, c.enforce5xx = *n, *n > 0
	}
	if n := od.ConsecutiveGatewayErrors; n != nil {
		c.consecutiveGateway, c.enforceGateway = *n, *n > 0
	}
	if od.SplitExternalLocalOriginErrors {
		c.split = true
		if n := od.ConsecutiveLocalOriginFailures; n != nil && *n > 0 {
			c.consecutiveLocal = *n
		}
	}
	if od.Interval != nil && *od.Interval > 0 {
		c.interval = od.Interval.D()
	}
	if od.BaseEjectionTime != nil && *od.BaseEjectionTime > 0 {
		c.baseEjection = od.BaseEjectionTime.D()
	}
	c.maxEjection = max(defaultMaxEjectionTime, c.baseEjection)
	if od.MaxEjectionPercent > 0 {
		c.maxEjectionPercent = float64(min(od.MaxEjectionPercent, 100))
	}
	if b.defaults.PanicThresholdFromMinHealth {
		c.panicThreshold = float64(max(od.MinHealthPercent, 0))
	}
	for _, code := range od.OutlierDetectionHTTPErrorCodes {
		c.errorCodes = append(c.errorCodes, int(code))
	}
	slices.Sort(c.errorCodes)
	return c
}

// lbConfig is a resolved loadBalancer block.
type lbConfig struct {
	simple string      // ROUND_ROBIN, RANDOM or LEAST_REQUEST
	hash   *hashPolicy // consistentHash; nil otherwise
}

// lbConfig resolves the loadBalancer block; unset picks the release's
// default algorithm.
func (b *builder) lbConfig(blk policyBlock[scenarios.LoadBalancerSettings]) lbConfig {
	name := ""
	if lb := blk.v; lb != nil {
		name = lb.Simple
		if ch := lb.ConsistentHash; ch != nil {
			return lbConfig{hash: b.hashPolicy(blk, ch)}
		}
	}
	switch name {
	case "", "UNSPECIFIED":
		name = b.defaults.DefaultLoadBalancer
	case "LEAST_CONN":
		name = "LEAST_REQUEST"
	}
	return lbConfig{simple: name}
}

// fingerprint identifies a cluster's runtime: the same endpoints under the
// same policy keep their connections, breakers and ejections across Apply,
// as Envoy keeps a cluster whose configuration did not change.
func fingerprint(eps []epSpec, pool poolConfig, od *outlierConfig, lb lbConfig) string {
	var s strings.Builder
	for _, ep := range eps {
		s.WriteString(ep.addr)
		s.WriteByte(',')
	}
	fmt.Fprintf(&s, "|%+v|", pool)
	if od != nil {
		fmt.Fprintf(&s, "%+v", *od)
	}
	s.WriteString("|" + lb.simple)
	if h := lb.hash; h != nil {
		fmt.Fprintf(&s, "%+v", *h)
		if h.cookieTTL != nil {
			fmt.Fprintf(&s, "%d", *h.cookieTTL)
		}
	}
	return s.String()
}
