package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Compiling tcp and tls routes (docs/istio.md, TCP and TLS routes): a
// Gateway server port whose protocol is TCP-like, or TLS / HTTPS in
// PASSTHROUGH, becomes an L4 listener; on the mesh, a tunnel to a service
// port is routed by the tcp or tls routes that apply to it.

// serverProtocol is the listener protocol a Gateway server asks for.
func serverProtocol(s *scenarios.Server) string {
	switch scenarios.ProtocolKind(s.Port.Protocol) {
	case "tcp":
		return ProtocolTCP
	case "tls":
		if s.TLS == nil || s.TLS.Mode == "" || strings.EqualFold(s.TLS.Mode, "PASSTHROUGH") || autoPassthrough(s) {
			return ProtocolTLS
		}
		if terminatesTLS(s) {
			return ProtocolHTTPS
		}
	}
	return ProtocolHTTP
}

// autoPassthrough reports a server in AUTO_PASSTHROUGH: the SNI names the
// destination cluster itself, no VirtualService is consulted.
func autoPassthrough(s *scenarios.Server) bool {
	return s.TLS != nil && strings.EqualFold(s.TLS.Mode, "AUTO_PASSTHROUGH")
}

// servicePortProtocol is the protocol a ServiceEntry declares for a host's
// port: ProtocolTCP for the TCP-like ones, ProtocolTLS for TLS and HTTPS,
// else ProtocolHTTP (spec.services ports carry no protocol).
func servicePortProtocol(doc *scenarios.Document, host string, port uint32) string {
	if p := declaredProtocol(doc, host, port); p != "" {
		return p
	}
	return ProtocolHTTP
}

// declaredProtocol is the protocol a ServiceEntry declares for a host's
// port, "" when none does (a port Istio auto-detects).
func declaredProtocol(doc *scenarios.Document, host string, port uint32) string {
	fq := scenarios.FQDN(host, scenarios.DefaultNamespace)
	for _, se := range doc.ServiceEntries {
		ns := namespace(se.Metadata)
		for _, h := range se.Spec.Hosts {
			if scenarios.FQDN(h, ns) != fq {
				continue
			}
			for _, sp := range se.Spec.Ports {
				if sp.Number != port {
					continue
				}
				switch scenarios.ProtocolKind(sp.Protocol) {
				case "tcp":
					return ProtocolTCP
				case "tls":
					return ProtocolTLS
				}
				if sp.Protocol == "" {
					return ""
				}
				return ProtocolHTTP
			}
		}
	}
	return ""
}

// l4Handler returns a TCP or TLS listener's connection handler.
func (p *Proxy) l4Handler(l Listener) *l4Handler {
	stats, id := p.reg.listener(l.Name)
	h := &l4Handler{p: p, id: id, salt: hashString(l.Name), stats: stats, port: l.Port}
	if l.Kind == KindService {
		h.service = l.Host + ":" + fmt.Sprint(l.Port)
	}
	return h
}

// checkServers reports the servers of a listener's port that ask for
// another protocol than the listener's, or for TLS Faultline does not do.
func (b *builder) checkServers(spec listenerSpec) {
	gw := spec.gw
	label := "Gateway " + gw.Metadata.Name
	for i := range gw.Spec.Servers {
		s := &gw.Spec.Servers[i]
		if s.Port.Number != spec.Port {
			continue
		}
		path := fmt.Sprintf("spec.servers[%d]", i)
		if p := serverProtocol(s); p != spec.Protocol {
			b.errorf(label, path+".port.protocol", "servers on port %d must share one protocol: %s here, %s on the first", spec.Port, p, spec.Protocol)
		}
		if spec.Protocol == ProtocolTCP && s.TLS != nil && s.TLS.Mode != "" {
			b.errorf(label, path+".tls.mode", "TLS termination (%s) is not implemented by Faultline", s.TLS.Mode)
		}
		if spec.Protocol == ProtocolTLS && autoPassthrough(s) != autoPassthrough(spec.servers[0]) {
			b.errorf(label, path+".tls.mode", "servers on port %d must all be AUTO_PASSTHROUGH or none", spec.Port)
		}
	}
}

// gatewayL4Listener builds the table of a TCP or TLS Gateway server port:
// the tcp (or tls) routes of the VirtualServices bound to the gateway
// whose hosts meet a server host, in document order.
func (b *builder) gatewayL4Listener(spec listenerSpec) *listenerTable {
	b.checkServers(spec)
	gw := spec.gw
	lt := &listenerTable{name: spec.Name, gateway: gw.Metadata.Name, port: spec.Port, exact: map[string]*vhost{}}
	t := &l4Table{tls: spec.Protocol == ProtocolTLS}
	lt.l4 = t
	lc := listenerCtx{name: spec.Name, gateway: gw.Metadata.Name, port: spec.Port}
	gwNS := namespace(gw.Metadata)
	var serverHosts []string
	bound := map[*scenarios.VirtualService]bool{}
	var order []*scenarios.VirtualService
	for _, s := range spec.servers {
		for _, sh := range s.Hosts {
			nsPart, host, ok := strings.Cut(sh, "/")
			if !ok {
				nsPart, host = "*", sh
			}
			host = strings.ToLower(host)
			serverHosts = append(serverHosts, host)
			for _, vs := range b.doc.VirtualServices {
				if bound[vs] || !namesGateway(vs.Spec.Gateways, gw.Metadata.Name) {
					continue
				}
				vsNS := namespace(vs.Metadata)
				if nsPart != "*" && !(nsPart == "." && vsNS == gwNS) && nsPart != vsNS {
					continue
				}
				for _, vh := range vs.Spec.Hosts {
					if intersectHosts(host, scenarios.FQDN(vh, vsNS)) != "" || intersectHosts(host, strings.ToLower(vh)) != "" {
						bound[vs] = true
						order = append(order, vs)
						break
					}
				}
			}
		}
	}
	if t.tls && autoPassthrough(spec.servers[0]) {
		t.routes = b.autoPassthroughRoutes(serverHosts)
		return lt
	}
	for _, vs := range order {
		if t.tls {
			t.routes = append(t.routes, b.tlsRoutes(vs, lc, serverHosts)...)
		} else {
			t.routes = append(t.routes, b.tcpRoutes(vs, lc)...)
		}
	}
	return lt
}

// autoPassthroughRoutes are an AUTO_PASSTHROUGH server's routes: for every
// service port with endpoints whose host a server host covers, the SNI
// "outbound_.<port>_.<subset>_.<host>" goes to that port and subset's
// cluster, the bare service's ("outbound_.<port>_._.<host>") and each
// subset its DestinationRules define; VirtualServices are not consulted
// (istiod's SNI-DNAT filter chains).
func (b *builder) autoPassthroughRoutes(serverHosts []string) []*l4Route {
	var out []*l4Route
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		covered := false
		for _, sh := range serverHosts {
			if intersectHosts(sh, fq) == fq {
				covered = true
				break
			}
		}
		if !covered {
			continue
		}
		subsets := []string{""}
		for _, dr := range b.destinationRules(fq) {
			for _, ss := range dr.Spec.Subsets {
				subsets = append(subsets, ss.Name)
			}
		}
		for _, port := range svc.ports {
			if len(svc.eps[port]) == 0 {
				continue
			}
			for _, ss := range subsets {
				c, missing := b.cluster(svc, port, ss)
				if missing || c == nil {
					continue
				}
				// istio's BuildDNSSrvSubsetKey: "outbound_.9080_.v1_.<host>",
				// "outbound_.9080_._.<host>" without a subset.
				sni := "outbound_." + fmt.Sprint(port) + "_." + ss + "_." + fq
				out = append(out, &l4Route{
					matches:  []l4Match{{sni: []string{sni}}},
					weighted: only(&destination{weight: 1, cluster: c, name: c.name, service: svc.name}),
				})
			}
		}
	}
	return out
}

// appliesL4 reports whether a tcp or tls match block for gateways and
// port (0: any) applies to the listener; the mesh matches every port.
func (lc listenerCtx) appliesL4(gateways []string, port uint32) bool {
	return lc.applies(gateways) && (lc.mesh || port == 0 || port == lc.port)
}

// tcpRoutes compiles a VirtualService's tcp routes for a listener: the
// match blocks whose gateways apply to it (a route left with none is
// dropped), their port and destination subnets kept for each connection.
func (b *builder) tcpRoutes(vs *scenarios.VirtualService, lc listenerCtx) []*l4Route {
	routes := make([]scenarios.TLSRoute, len(vs.Spec.TCP))
	for i, tr := range vs.Spec.TCP {
		routes[i].Route = tr.Route
		for _, m := range tr.Match {
			routes[i].Match = append(routes[i].Match, scenarios.TLSMatchAttributes{DestinationSubnets: m.DestinationSubnets, Port: m.Port, SourceLabels: m.SourceLabels, Gateways: m.Gateways})
		}
	}
	return b.l4Routes(vs, "spec.tcp", routes, lc, false, nil)
}

// tlsRoutes compiles a VirtualService's tls routes for a listener; on a
// gateway each SNI host is narrowed to the server hosts it meets.
func (b *builder) tlsRoutes(vs *scenarios.VirtualService, lc listenerCtx, serverHosts []string) []*l4Route {
	return b.l4Routes(vs, "spec.tls", vs.Spec.TLS, lc, true, serverHosts)
}

// l4Routes compiles routes (at field, spec.tcp or spec.tls) for a
// listener. A TLS match keeps the SNI hosts it names, on a gateway those
// its server hosts meet, and is dropped when none is left; a TLS route
// needs a match left, a TCP route only when it had matches to begin with.
func (b *builder) l4Routes(vs *scenarios.VirtualService, field string, routes []scenarios.TLSRoute, lc listenerCtx, tls bool, serverHosts []string) []*l4Route {
	label := "VirtualService " + vs.Metadata.Name
	var out []*l4Route
	for i := range routes {
		tr := &routes[i]
		path := fmt.Sprintf("%s[%d]", field, i)
		r := &l4Route{}
		for j := range tr.Match {
			m := &tr.Match[j]
			if !lc.appliesL4(gatewaysOr(m.Gateways, vs.Spec.Gateways), m.Port) {
				continue
			}
			names := sniNames(m.SNIHosts, lc, serverHosts)
			if tls && len(names) == 0 {
				continue
			}
			lm := l4Match{port: m.Port, sni: names, subnets: b.subnets(label, fmt.Sprintf("%s.match[%d]", path, j), m.DestinationSubnets)}
			if len(m.SourceLabels) > 0 {
				lm.source = b.sourceMatch(m.SourceLabels, lc)
			}
			r.matches = append(r.matches, lm)
		}
		if (tls || len(tr.Match) > 0) && len(r.matches) == 0 {
			continue
		}
		b.l4Destinations(r, label, path, vs, tr.Route, lc)
		if len(r.dests) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// sniNames are a TLS match's SNI hosts, lower-cased: on the mesh as
// written, on a gateway narrowed to the server hosts each meets.
func sniNames(hosts []string, lc listenerCtx, serverHosts []string) []string {
	var names []string
	for _, sni := range hosts {
		sni = strings.ToLower(sni)
		if lc.mesh {
			names = append(names, sni)
			continue
		}
		for _, sh := range serverHosts {
			if d := intersectHosts(sh, sni); d != "" {
				names = append(names, d)
			}
		}
	}
	return names
}

// gatewaysOr is a match's gateways, else its VirtualService's.
func gatewaysOr(match, vs []string) []string {
	if len(match) > 0 {
		return match
	}
	return vs
}

// subnets parses destinationSubnets: CIDR blocks or single addresses.
func (b *builder) subnets(label, path string, in []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			b.errorf(label, fmt.Sprintf("%s.destinationSubnets[%d]", path, i), "%q is not an IP address or CIDR block", s)
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

// l4Destinations compiles a route's weighted destinations as HTTP ones
// are.
func (b *builder) l4Destinations(r *l4Route, label, path string, vs *scenarios.VirtualService, dests []scenarios.RouteDestination, lc listenerCtx) {
	http := make([]scenarios.HTTPRouteDestination, len(dests))
	for i, d := range dests {
		http[i] = scenarios.HTTPRouteDestination{Destination: d.Destination, Weight: d.Weight}
	}
	r.weighted = b.weightedDestinations(label, path, vs, http, lc)
}

// meshL4 is the table of the mesh's tunnels to a service port, or nil
// when they stay plain tunnels to the service. A port declared HTTP keeps
// its plain tunnel. A TLS port (declared TLS or HTTPS by a ServiceEntry,
// or named by a mesh tls route) is routed by SNI over every mesh tls
// route of the port, and what no route names goes to the service as
// opaque TCP; a port the service's VirtualService has tcp routes for, or
// a TCP-like one, by those routes, then to the service's own cluster.
// Ports without a declared protocol are Istio's auto-detected ones: the
// bytes of a tunnel are not HTTP, so tcp and tls routes apply to them.
func (b *builder) meshL4(svc *service, port uint32) *l4Table {
	lc := listenerCtx{name: meshListener, mesh: true}
	proto := declaredProtocol(b.doc, svc.fqdn, port)
	if proto == ProtocolHTTP {
		return nil
	}
	c, _ := b.cluster(svc, port, "")
	own := &l4Route{weighted: only(&destination{weight: 1, cluster: c, name: c.name, service: svc.name})}
	if proto == ProtocolTLS || b.meshTLSPort(port) {
		return &l4Table{tls: true, routes: b.meshTLSTable(port).routes, fallback: own}
	}
	owner := b.meshOwner(svc.fqdn)
	if proto != ProtocolTCP && (owner == nil || len(owner.Spec.TCP) == 0) {
		return nil
	}
	t := &l4Table{fallback: own}
	if owner != nil {
		t.routes = b.tcpRoutes(owner, lc)
	}
	return t
}

// meshTLSTables builds the mesh's SNI table of every port a mesh tls
// route names, and of port 0 for the routes that name none: a tunnel to a
// host the mesh does not know is routed by them (tunnel.go).
func (b *builder) meshTLSTables() map[uint32]*l4Table {
	for _, vs := range b.doc.VirtualServices {
		if !appliesToMesh(vs.Spec.Gateways) {
			continue
		}
		for i := range vs.Spec.TLS {
			for _, m := range vs.Spec.TLS[i].Match {
				if appliesToMesh(gatewaysOr(m.Gateways, vs.Spec.Gateways)) {
					b.meshTLSTable(m.Port)
				}
			}
		}
	}
	return b.meshTLS
}

// meshTLSTable is the mesh's SNI table for port, built once: every mesh
// tls route that applies to the port, then each TLS service's own hosts.
// Port 0 holds only the routes that name no port.
func (b *builder) meshTLSTable(port uint32) *l4Table {
	if t, ok := b.meshTLS[port]; ok {
		return t
	}
	lc := listenerCtx{name: meshListener, mesh: true}
	{
		t := &l4Table{tls: true, blackHole: true}
		claimed := map[string]bool{}
		for _, vs := range b.doc.VirtualServices {
			if !appliesToMesh(vs.Spec.Gateways) || len(vs.Spec.TLS) == 0 {
				continue
			}
			for _, r := range b.tlsRoutes(vs, lc, nil) {
				r.keepPort(port)
				if len(r.matches) > 0 {
					t.routes = append(t.routes, r)
				}
			}
			for _, h := range vs.Spec.Hosts {
				claimed[scenarios.FQDN(h, namespace(vs.Metadata))] = true
			}
		}
		// A TLS service no VirtualService routes: its own hosts, to its
		// own cluster (istiod's default filter chain for the port).
		for _, fq := range b.svcOrder {
			other := b.services[fq]
			if port == 0 || claimed[fq] || !other.hasPort(port) || len(other.eps[port]) == 0 || servicePortProtocol(b.doc, fq, port) != ProtocolTLS {
				continue
			}
			c, _ := b.cluster(other, port, "")
			t.routes = append(t.routes, &l4Route{
				matches:  []l4Match{{sni: meshDomains(fq)}},
				weighted: only(&destination{weight: 1, cluster: c, name: c.name, service: other.name}),
			})
		}
		b.meshTLS[port] = t
		return t
	}
}

// keepPort drops the match blocks of a mesh route that name another port
// (port 0 keeps those that name none).
func (r *l4Route) keepPort(port uint32) {
	kept := r.matches[:0:0]
	for _, m := range r.matches {
		if m.port == 0 || m.port == port {
			kept = append(kept, m)
		}
	}
	r.matches = kept
}

// meshTLSPort reports whether a mesh tls route names port (or any port).
func (b *builder) meshTLSPort(port uint32) bool {
	for _, vs := range b.doc.VirtualServices {
		if !appliesToMesh(vs.Spec.Gateways) {
			continue
		}
		for i := range vs.Spec.TLS {
			for _, m := range vs.Spec.TLS[i].Match {
				if appliesToMesh(gatewaysOr(m.Gateways, vs.Spec.Gateways)) && (m.Port == 0 || m.Port == port) {
					return true
				}
			}
		}
	}
	return false
}

// meshOwner is the VirtualService that routes fqdn on the mesh: the first
// naming it, else the most specific wildcard (as meshListener decides).
func (b *builder) meshOwner(fqdn string) *scenarios.VirtualService {
	claimed := map[string]*scenarios.VirtualService{}
	for _, vs := range b.doc.VirtualServices {
		if !appliesToMesh(vs.Spec.Gateways) {
			continue
		}
		for _, h := range vs.Spec.Hosts {
			fq := scenarios.FQDN(h, namespace(vs.Metadata))
			if _, ok := claimed[fq]; !ok {
				claimed[fq] = vs
			}
		}
	}
	if vs := claimed[fqdn]; vs != nil {
		return vs
	}
	return wildcardOwner(claimed, fqdn)
}
