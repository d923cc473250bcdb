package scenarios

// TCP and TLS routes of a VirtualService (docs/istio.md, TCP and TLS
// routes; istio/istio pkg/config/validation/virtualservice.go
// validateTCPRoute, validateTLSRoute, validateTLSMatch, validateSniHost).

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// validateTCPRoute checks one tcp route at p.
func validateTCPRoute(r *reporter, p string, t *TCPRoute, v IstioVersion) {
	for j := range t.Match {
		m := &t.Match[j]
		validateL4Match(r, fmt.Sprintf("%s.match[%d]", p, j), m.DestinationSubnets, m.Port, m.SourceLabels, m.SourceNamespace, m.Gateways)
	}
	if len(t.Route) == 0 {
		r.errorf(p+".route", "TCP route is required")
	}
	validateL4Destinations(r, p+".route", t.Route, v)
}

// validateTLSRoute checks one tls route at p: every match names SNI hosts
// that fall within the VirtualService's hosts.
func validateTLSRoute(r *reporter, p string, t *TLSRoute, hosts []string, v IstioVersion) {
	if len(t.Match) == 0 {
		r.errorf(p+".match", "TLS route must have at least one match condition")
	}
	for j := range t.Match {
		m := &t.Match[j]
		mp := fmt.Sprintf("%s.match[%d]", p, j)
		if len(m.SNIHosts) == 0 {
			r.errorf(mp+".sniHosts", "TLS match must have at least one SNI host")
		}
		for k, sni := range m.SNIHosts {
			validateSNIHost(r, fmt.Sprintf("%s.sniHosts[%d]", mp, k), sni, hosts)
		}
		validateL4Match(r, mp, m.DestinationSubnets, m.Port, m.SourceLabels, m.SourceNamespace, m.Gateways)
	}
	if len(t.Route) == 0 {
		r.errorf(p+".route", "TLS route is required")
	}
	validateL4Destinations(r, p+".route", t.Route, v)
}

// validateSNIHost checks an SNI host: a domain (wildcard prefix allowed) or
// an IP, and a subset of one of the VirtualService's hosts.
func validateSNIHost(r *reporter, p, sni string, hosts []string) {
	if err := checkWildcardDomain(sni); err != nil {
		if !isIP(sni) {
			r.errorf(p, "%v", err)
		}
		return
	}
	for _, h := range hosts {
		if hostSubsetOf(sni, h) {
			return
		}
	}
	r.errorf(p, "SNI host %q is not a compatible subset of any of the virtual service hosts: [%s]", sni, strings.Join(hosts, ", "))
}

// hostSubsetOf reports whether every name a matches is matched by b (Istio's
// host.Name.SubsetOf): equal names, b "*", or b a "*.suffix" wildcard
// covering a.
func hostSubsetOf(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	switch {
	case a == b, b == "*":
		return true
	case strings.HasPrefix(b, "*."):
		return strings.HasSuffix(a, b[1:]) && len(a) > len(b)-1
	}
	return false
}

// validateL4Match checks the attributes a TCP and a TLS match share.
// sourceLabels meet the connection's caller as an http match's meet a
// request's (proxy/source_labels.go): a warning says whose labels those
// are. sourceNamespace has no client workloads to act on: an error, as
// for HTTP matches.
func validateL4Match(r *reporter, p string, subnets []string, port uint32, sourceLabels map[string]string, sourceNamespace string, gateways []string) {
	valid := len(subnets) > 0
	for i, s := range subnets {
		if !validSubnet(s) {
			r.errorf(fmt.Sprintf("%s.destinationSubnets[%d]", p, i), "%q is not a valid IP address or CIDR block", s)
			valid = false
		}
	}
	if valid {
		r.warnf(p+".destinationSubnets", "Faultline matches the address its listener accepted the connection on (loopback), not the connection's original destination: a subnet without 127.0.0.1 never matches")
	}
	if port != 0 {
		validatePort(r, p+".port", port)
	}
	if len(sourceLabels) > 0 {
		validateLabels(r, p+".sourceLabels", sourceLabels)
		r.warnf(p+".sourceLabels", "%s", sourceLabelsL4Note)
	}
	if sourceNamespace != "" {
		r.errorf(p+".sourceNamespace", "not implemented by Faultline: there are no client workloads in namespaces")
	}
	validateGatewayNames(r, p+".gateways", gateways)
}

// sourceLabelsL4Note says whose labels a tcp or tls match's sourceLabels
// meet (proxy/source_labels.go).
const sourceLabelsL4Note = "Faultline knows a connection's caller only on a gateway (its labels: the Gateway's selector) or when the connection comes from the address of a bound service's endpoint other than 127.0.0.1 and ::1 (that endpoint's labels); any other caller, a run's own load among them, is unlabelled, so this match does not apply to it"

// validSubnet accepts an IP address or a CIDR block.
func validSubnet(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	return isIP(s)
}

// validateL4Destinations checks the weighted destinations of a TCP or TLS
// route as Istio checks HTTP ones (which have headers besides).
func validateL4Destinations(r *reporter, p string, dests []RouteDestination, v IstioVersion) {
	validateRouteDestinations(r, p, httpDestinations(dests), v)
}

// httpDestinations are dests as HTTP route destinations, without header
// operations.
func httpDestinations(dests []RouteDestination) []HTTPRouteDestination {
	out := make([]HTTPRouteDestination, len(dests))
	for i, d := range dests {
		out[i] = HTTPRouteDestination{Destination: d.Destination, Weight: d.Weight}
	}
	return out
}

// validateL4Refs checks what a VirtualService's tcp and tls routes name
// against the rest of the document, as validateVirtualServiceRefs does for
// http routes: gateways that exist, destinations bound to endpoints,
// subsets some DestinationRule defines (else the connection is closed,
// NC).
func (d *Document) validateL4Refs(r *reporter, vs *VirtualService) {
	if d.unresolved() {
		return // checked against the environment (ParseOn)
	}
	check := func(p string, gateways []string) {
		for k, g := range gateways {
			if g != MeshGateway && d.gateway(g) == nil {
				r.warnf(fmt.Sprintf("%s.gateways[%d]", p, k), "names no Gateway of this experiment: %q (Istio takes it; the match applies on no listener here until the Gateway exists)", g)
			}
		}
	}
	dests := func(p string, route []RouteDestination) {
		for j, dst := range route {
			dp := fmt.Sprintf("%s.route[%d].destination", p, j)
			if dst.Destination.Subset != "" && d.subset(dst.Destination.Host, vs.Metadata.Namespace, dst.Destination.Subset) == nil {
				r.warnf(dp+".subset", "subset %q of %s is defined by no DestinationRule: connections routed here are closed (NC)", dst.Destination.Subset, dst.Destination.Host)
			}
			// An environment's baseline and overlays, which carry live
			// traffic, refuse it; an experiment is warned (its load is
			// HTTP: no tcp or tls route of it is the load's).
			switch {
			case d.knownHost(dst.Destination.Host, vs.Metadata.Namespace):
			case d.Experiment.Kind == KindEnvironment:
				r.errorf(dp+".host", "%s is bound to no endpoints: add it to the environment's spec.services or a ServiceEntry", dst.Destination.Host)
			default:
				r.warnf(dp+".host", "%s is bound to no endpoints: connections routed here are closed (UH); bind it in spec.services or a ServiceEntry", dst.Destination.Host)
			}
		}
	}
	for i := range vs.Spec.TCP {
		p := fmt.Sprintf("spec.tcp[%d]", i)
		for j, m := range vs.Spec.TCP[i].Match {
			check(fmt.Sprintf("%s.match[%d]", p, j), m.Gateways)
		}
		dests(p, vs.Spec.TCP[i].Route)
	}
	for i := range vs.Spec.TLS {
		p := fmt.Sprintf("spec.tls[%d]", i)
		for j, m := range vs.Spec.TLS[i].Match {
			check(fmt.Sprintf("%s.match[%d]", p, j), m.Gateways)
		}
		dests(p, vs.Spec.TLS[i].Route)
	}
}

// validateL4Load checks the load against the protocol of the port it is
// sent to: an https:// load needs a gateway server that terminates TLS
// (SIMPLE or MUTUAL) on its port, and such a server an https:// load;
// fortio's plain HTTP into a passthrough TLS listener gives it no
// ClientHello to route (every connection closed), an error; into a mesh
// port a ServiceEntry declares TCP or TLS it is routed as HTTP by
// Faultline's mesh listener, where a sidecar would pass it through
// tcp_proxy, a warning.
func (d *Document) validateL4Load(r *reporter, l *Load, u *url.URL) {
	port := uint32(80)
	if u.Scheme == "https" {
		port = 443
	}
	if ps := u.Port(); ps != "" {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return
		}
		port = uint32(n)
	}
	if l.Via == "" || l.Via == MeshGateway {
		if u.Scheme == "https" {
			r.errorf("spec.load.url", "an https:// load must go through a Gateway server that terminates TLS (spec.load.via): the mesh listener takes plain HTTP")
			return
		}
	} else {
		d.validateGatewayLoad(r, l, u, port)
		return
	}
	host := FQDN(u.Hostname(), DefaultNamespace)
	for _, se := range d.ServiceEntries {
		for _, h := range se.Spec.Hosts {
			if FQDN(h, se.Metadata.Namespace) != host {
				continue
			}
			for _, sp := range se.Spec.Ports {
				if k := ProtocolKind(sp.Protocol); sp.Number == port && (k == protoTCP || k == protoTLS) {
					r.warnf("spec.load.url", "ServiceEntry %s declares port %d of %s %s: Faultline's mesh listener routes the load's HTTP requests by http routes, where a sidecar would pass them through tcp_proxy by tcp or tls routes (CONNECT tunnels and service listeners get those)", se.Metadata.Name, port, h, sp.Protocol)
					return
				}
			}
		}
	}
}

// validateGatewayLoad checks a load sent through gateway l.Via on port
// against the protocol of the server there.
func (d *Document) validateGatewayLoad(r *reporter, l *Load, u *url.URL, port uint32) {
	gw := d.gateway(l.Via)
	if gw == nil {
		return
	}
	for i := range gw.Spec.Servers {
		s := &gw.Spec.Servers[i]
		if s.Port.Number != port || ProtocolKind(s.Port.Protocol) != protoTLS {
			continue
		}
		terminates := s.TLS != nil && (s.TLS.Mode == "SIMPLE" || s.TLS.Mode == "MUTUAL" || s.TLS.Mode == "OPTIONAL_MUTUAL")
		switch {
		case s.TLS != nil && s.TLS.Mode == "ISTIO_MUTUAL":
			if u.Scheme == "https" {
				r.errorf("spec.load.url", "Gateway %s takes the mesh's plain HTTP on port %d (tls.mode ISTIO_MUTUAL): send the load to http://", gw.Metadata.Name, port)
			}
		case terminates && u.Scheme != "https":
			r.errorf("spec.load.url", "Gateway %s terminates TLS on port %d (tls.mode %s): send the load to https://", gw.Metadata.Name, port, s.TLS.Mode)
		case !terminates:
			r.errorf("spec.load.via", "Gateway %s serves port %d as %s passed through by SNI: the load's plain http:// requests carry no ClientHello, so every connection would be closed", gw.Metadata.Name, port, s.Port.Protocol)
		}
		return
	}
	if u.Scheme == "https" {
		r.errorf("spec.load.url", "Gateway %s has no server terminating TLS on port %d for an https:// load", gw.Metadata.Name, port)
	}
}
