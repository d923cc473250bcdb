package scenarios

// DestinationRule rules (docs/istio.md, DestinationRule; istio/istio
// pkg/config/validation/validation.go ValidateDestinationRule,
// validateTrafficPolicy and friends).

import (
	"fmt"
	"math"
)

// maglevTableSizeLimit is Envoy's exclusive upper bound for a Maglev table.
const maglevTableSizeLimit = 5000011

// validateDestinationRule applies Istio's DestinationRule rules
// (docs/istio.md, DestinationRule).
func validateDestinationRule(r *reporter, dr *DestinationRule, v IstioVersion) {
	s := &dr.Spec
	if s.Host == "" {
		r.errorf("spec.host", "is required")
	} else if err := checkWildcardDomain(s.Host); err != nil {
		r.errorf("spec.host", "%v", err)
	}
	validateTrafficPolicy(r, "spec.trafficPolicy", s.TrafficPolicy, v)
	if ws := s.WorkloadSelector; ws != nil {
		validateSelectorLabels(r, "spec.workloadSelector.matchLabels", ws.MatchLabels)
		r.warnf("spec.workloadSelector", "Faultline has one proxy for every caller: the rule applies to all of them, not only to the workloads it selects")
	}
	names := map[string]int{}
	for i := range s.Subsets {
		sub := &s.Subsets[i]
		p := fmt.Sprintf("spec.subsets[%d]", i)
		switch {
		case sub.Name == "":
			r.errorf(p+".name", "is required")
		case !isIstioLabel(sub.Name):
			r.errorf(p+".name", "subset name is invalid: %s (must be a DNS-1123 label)", sub.Name)
		}
		if j, dup := names[sub.Name]; dup && sub.Name != "" {
			r.errorf(p+".name", "duplicate subset names: %s is also spec.subsets[%d]", sub.Name, j)
		} else {
			names[sub.Name] = i
		}
		validateLabels(r, p+".labels", sub.Labels)
		validateTrafficPolicy(r, p+".trafficPolicy", sub.TrafficPolicy, v)
	}
	validateExportTo(r, "spec.exportTo", s.ExportTo, dr.Metadata.Namespace, false)
}

// policyBlocks are the parts a TrafficPolicy and a port-level policy share.
type policyBlocks struct {
	lb  *LoadBalancerSettings
	cp  *ConnectionPool
	od  *OutlierDetection
	tls *ClientTLSSettings
}

func (b policyBlocks) empty() bool {
	return b.lb == nil && b.cp == nil && b.od == nil && b.tls == nil
}

// validateTrafficPolicy checks a traffic policy at p (top level or subset).
func validateTrafficPolicy(r *reporter, p string, tp *TrafficPolicy, v IstioVersion) {
	if tp == nil {
		return
	}
	blocks := policyBlocks{tp.LoadBalancer, tp.ConnectionPool, tp.OutlierDetection, tp.TLS}
	if blocks.empty() && len(tp.PortLevelSettings) == 0 && tp.Tunnel == nil && tp.ProxyProtocol == nil && tp.RetryBudget == nil {
		r.errorf(p, "traffic policy must have at least one field")
		return
	}
	validatePolicyBlocks(r, p, blocks, v)
	ports := map[uint32]int{}
	for k := range tp.PortLevelSettings {
		pl := &tp.PortLevelSettings[k]
		pp := fmt.Sprintf("%s.portLevelSettings[%d]", p, k)
		if pl.Port == nil {
			r.errorf(pp+".port", "is required: a port traffic policy must name its port")
		} else {
			validatePort(r, pp+".port.number", pl.Port.Number)
			if j, dup := ports[pl.Port.Number]; dup {
				r.errorf(pp+".port.number", "port %d already has a policy in %s.portLevelSettings[%d]", pl.Port.Number, p, j)
			} else {
				ports[pl.Port.Number] = k
			}
		}
		pb := policyBlocks{pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pl.TLS}
		if pb.empty() {
			r.errorf(pp, "port traffic policy must have at least one of loadBalancer, connectionPool, outlierDetection or tls")
			continue
		}
		validatePolicyBlocks(r, pp, pb, v)
	}
}

// validatePolicyBlocks checks the blocks of a policy at p.
func validatePolicyBlocks(r *reporter, p string, b policyBlocks, v IstioVersion) {
	warnIgnoredPolicy(r, p, b)
	if b.lb != nil {
		validateLoadBalancer(r, p+".loadBalancer", b.lb)
	}
	if b.cp != nil {
		validateConnectionPool(r, p+".connectionPool", b.cp)
	}
	if b.od != nil {
		validateOutlierDetection(r, p+".outlierDetection", b.od, v)
	}
	if b.tls != nil {
		validateClientTLS(r, p+".tls", b.tls)
	}
}

// validateLoadBalancer checks loadBalancer at p.
func validateLoadBalancer(r *reporter, p string, lb *LoadBalancerSettings) {
	if oneOf(r, p+".simple", lb.Simple, "UNSPECIFIED", "LEAST_REQUEST", "LEAST_CONN", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH") {
		switch lb.Simple {
		case "LEAST_CONN":
			r.warnf(p+".simple", "LEAST_CONN is a deprecated alias of LEAST_REQUEST: use LEAST_REQUEST")
		case "PASSTHROUGH":
			r.warnf(p+".simple", "PASSTHROUGH forwards to the address the client dialled, which Faultline never dials unless the experiment names it: it balances over the host's bound endpoints as LEAST_REQUEST does")
		}
	}
	ch := lb.ConsistentHash
	if ch == nil {
		return
	}
	cp := p + ".consistentHash"
	if lb.Simple != "" {
		r.errorf(cp, "cannot be combined with simple: set one load-balancing policy")
	}
	keys := 0
	for _, set := range []bool{ch.HTTPHeaderName != "", ch.HTTPCookie != nil, ch.UseSourceIP, ch.HTTPQueryParameterName != ""} {
		if set {
			keys++
		}
	}
	if keys != 1 {
		r.errorf(cp, "set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")
	}
	if c := ch.HTTPCookie; c != nil {
		if c.Name == "" {
			r.errorf(cp+".httpCookie.name", "name required for HttpCookie")
		}
		if c.TTL != nil && *c.TTL < 0 {
			r.errorf(cp+".httpCookie.ttl", "must not be negative (0 means a session cookie)")
		}
	}
	if ch.RingHash != nil && ch.Maglev != nil {
		r.errorf(cp+".maglev", "cannot be combined with ringHash: set one hash algorithm")
	}
	if ch.MinimumRingSize != 0 {
		r.warnf(cp+".minimumRingSize", "consistent hash minimumRingSize is deprecated, use ringHash.minimumRingSize instead")
		if ch.RingHash != nil || ch.Maglev != nil {
			r.errorf(cp+".minimumRingSize", "only one of minimumRingSize or maglev/ringHash can be specified")
		}
	}
	if m := ch.Maglev; m != nil {
		switch {
		case m.TableSize == 0:
			r.errorf(cp+".maglev.tableSize", "tableSize must be set for maglev")
		case m.TableSize >= maglevTableSizeLimit:
			r.errorf(cp+".maglev.tableSize", "tableSize must be less than %d for maglev", maglevTableSizeLimit)
		case !isPrime(m.TableSize):
			r.errorf(cp+".maglev.tableSize", "tableSize must be a prime number for maglev, not %d", m.TableSize)
		}
	}
}

// isPrime is Envoy's primality test for Maglev table sizes.
func isPrime(x uint64) bool {
	if x != 0 && x < 4 {
		return true
	}
	if x%2 == 0 {
		return false
	}
	limit := uint64(math.Sqrt(float64(x)))
	for f := uint64(3); f <= limit; f += 2 {
		if x%f == 0 {
			return false
		}
	}
	return true
}

// validateConnectionPool checks connectionPool at p: at least one of tcp
// and http, no negative limit, durations of whole milliseconds.
func validateConnectionPool(r *reporter, p string, cp *ConnectionPool) {
	if cp.TCP == nil && cp.HTTP == nil {
		r.errorf(p, "connection pool must have at least one of tcp or http")
		return
	}
	if t := cp.TCP; t != nil {
		tp := p + ".tcp"
		nonNegative(r, tp+".maxConnections", t.MaxConnections)
		validateDurationField(r, tp+".connectTimeout", t.ConnectTimeout)
		validateDurationField(r, tp+".maxConnectionDuration", t.MaxConnectionDuration)
		validateDurationField(r, tp+".idleTimeout", t.IdleTimeout)
	}
	if h := cp.HTTP; h != nil {
		hp := p + ".http"
		nonNegative(r, hp+".http1MaxPendingRequests", h.HTTP1MaxPendingRequests)
		nonNegative(r, hp+".http2MaxRequests", h.HTTP2MaxRequests)
		nonNegative(r, hp+".maxRequestsPerConnection", h.MaxRequestsPerConnection)
		nonNegative(r, hp+".maxRetries", h.MaxRetries)
		nonNegative(r, hp+".maxConcurrentStreams", h.MaxConcurrentStreams)
		validateDurationField(r, hp+".idleTimeout", h.IdleTimeout)
		oneOf(r, hp+".h2UpgradePolicy", h.H2UpgradePolicy, "DEFAULT", "DO_NOT_UPGRADE", "UPGRADE")
		if h.H2UpgradePolicy == "UPGRADE" && h.UseClientProtocol {
			r.errorf(hp+".useClientProtocol", "use client protocol must not be true when h2UpgradePolicy is UPGRADE")
		}
	}
}

// validateOutlierDetection checks outlierDetection at p for release v.
func validateOutlierDetection(r *reporter, p string, od *OutlierDetection, v IstioVersion) {
	if n := od.ConsecutiveErrors; n != nil {
		cp := p + ".consecutiveErrors"
		switch {
		case v.Defaults().ConsecutiveErrorsHonoured:
			if *n < 0 {
				r.errorf(cp, "outlier detection consecutive errors cannot be negative")
			}
			r.warnf(cp, "Istio %s maps it to consecutive gateway errors (502, 503, 504), with consecutive 5xx detection off; it is deprecated and ignored since 1.7: use consecutiveGatewayErrors or consecutive5xxErrors", v)
		case od.Consecutive5xxErrors != nil || od.ConsecutiveGatewayErrors != nil:
			r.warnf(cp, "is deprecated and ignored by Istio since 1.7; consecutive5xxErrors/consecutiveGatewayErrors apply")
		default:
			r.warnf(cp, "is deprecated and ignored by Istio since 1.7; Envoy's default of 5 consecutive 5xx applies (use consecutive5xxErrors)")
		}
	}
	if n := od.ConsecutiveLocalOriginFailures; n != nil && *n > 0 && !od.SplitExternalLocalOriginErrors {
		r.errorf(p+".consecutiveLocalOriginFailures", "outlier detection consecutive local origin failures is specified, but splitExternalLocalOriginErrors is false")
	}
	validateDurationField(r, p+".interval", od.Interval)
	validateDurationField(r, p+".baseEjectionTime", od.BaseEjectionTime)
	for _, f := range []struct {
		name string
		val  int32
	}{{"maxEjectionPercent", od.MaxEjectionPercent}, {"minHealthPercent", od.MinHealthPercent}} {
		if f.val < 0 || f.val > 100 {
			r.errorf(p+"."+f.name, "percentage %d is not in range 0..100", f.val)
		}
	}
	for i, code := range od.OutlierDetectionHTTPErrorCodes {
		if code < 100 || code > 599 {
			r.errorf(fmt.Sprintf("%s.outlierDetectionHttpErrorCodes[%d]", p, i), "HTTP status %d is not in range 100-599", code)
		}
	}
}

// validateClientTLS checks a destination's tls at p with Istio's rules
// (pkg/config/validation/agent ValidateTLS). SIMPLE and MUTUAL originate
// TLS to the endpoints (proxy/upstream_tls.go); ISTIO_MUTUAL, the mesh's
// own mTLS, is real mTLS with the run's CA to a host bound to a gateway
// listener of Faultline's, and plain text to other endpoints
// (proxy/tls_mesh.go). That is no warning: in Istio the sidecar beside
// such an endpoint ends the mTLS and hands it plain text, which is what
// it gets here from Faultline's proxy, standing in for both sidecars.
func validateClientTLS(r *reporter, p string, tls *ClientTLSSettings) {
	mp := p + ".mode"
	switch tls.Mode {
	case "", "DISABLE", "ISTIO_MUTUAL":
		if tls.Mode != "ISTIO_MUTUAL" && tls.SNI != "" {
			r.warnf(p+".sni", "is ignored: it only applies to SIMPLE, MUTUAL or ISTIO_MUTUAL TLS")
		}
		if tls.InsecureSkipVerify != nil {
			r.warnf(p+".insecureSkipVerify", "is ignored: it only applies to SIMPLE or MUTUAL TLS")
		}
		if tls.CACrl != "" {
			r.warnf(p+".caCrl", "is ignored: it only applies to SIMPLE or MUTUAL TLS")
		}
	case "SIMPLE", "MUTUAL":
		if tls.CredentialName != "" {
			if tls.ClientCertificate != "" || tls.CACertificates != "" || tls.PrivateKey != "" || tls.CACrl != "" {
				r.errorf(p+".credentialName", "cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
			}
			return
		}
		if tls.Mode == "MUTUAL" {
			if tls.ClientCertificate == "" {
				r.errorf(p+".clientCertificate", "client certificate required for mutual tls")
			}
			if tls.PrivateKey == "" {
				r.errorf(p+".privateKey", "private key required for mutual tls")
			}
		}
	default:
		oneOf(r, mp, tls.Mode, "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
	}
}
