package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Gateway API to Istio, as istiod translates it
// (pilot/pkg/config/kube/gateway: conversion.go for rules, filters and
// backends; route_collections.go for one rule per match, one
// VirtualService per parent and host, merged and sorted;
// pilot/pkg/networking/core/route/route.go for what "gateway semantics"
// change when Envoy's routes are built). Each Gateway becomes an Istio
// Gateway of the same name with one server per HTTP listener; each
// HTTPRoute's rules, split to one match each, join the VirtualService of
// every (Gateway, listener port, host) it attaches to. The generated
// resources are what the proxy compiles; problems are reported on the
// Gateway API documents, with their field paths.

// kubeListenerRef is a listener of a translated Gateway.
type kubeListenerRef struct {
	gw    *KubeGateway
	index int
	l     *KubeListener
	ok    bool     // HTTP, and takes HTTPRoutes
	from  []string // namespaces whose routes it takes; "*" for all
}

// genRule is one generated VirtualService rule and the keys istiod sorts
// rules by (sortHTTPRoutes: uri kind, uri length, method, headers, query).
type genRule struct {
	h                  HTTPRoute
	rank, length       int
	method             bool
	headers, query     int
	prefix             string // the path-separated prefix, when the match is one
	rewritePrefix      *string
	redirectPrefixPath string // the field path of a RequestRedirect ReplacePrefixMatch
}

// translateGatewayAPI turns the stream's Gateway API documents into Istio
// Gateways and VirtualServices, added to the document and marked as not
// written by the author (d.base: neither validated again nor exported).
func (d *Document) translateGatewayAPI(problems *Problems) {
	if len(d.KubeGateways)+len(d.HTTPRoutes) == 0 {
		return
	}
	if d.onMesh() {
		for _, g := range d.KubeGateways {
			d.reporter(g, resourceLabel(d, g, "Gateway", g.Metadata.Name), problems).errorf("kind", "Gateway API resources are translated for Faultline's own proxy: on mesh environment %s the cluster's Istio takes them itself, which Faultline does not apply", d.env.Name())
		}
		for _, r := range d.HTTPRoutes {
			d.reporter(r, resourceLabel(d, r, "HTTPRoute", r.Metadata.Name), problems).errorf("kind", "Gateway API resources are translated for Faultline's own proxy: on mesh environment %s the cluster's Istio takes them itself, which Faultline does not apply", d.env.Name())
		}
		return
	}
	if d.base == nil {
		d.base = map[any]bool{}
	}
	named := map[string]bool{}
	unique := func(res any, kind string, m ObjectMeta) {
		key := kind + "/" + kubeNamespace(m) + "/" + m.Name
		if m.Name != "" && named[key] {
			d.reporter(res, resourceLabel(d, res, kind, m.Name), problems).errorf("metadata.name", "two Gateway API %ss share this name in namespace %s", kind, kubeNamespace(m))
		}
		named[key] = true
	}
	for _, g := range d.KubeGateways {
		unique(g, "Gateway", g.Metadata)
	}
	for _, r := range d.HTTPRoutes {
		unique(r, "HTTPRoute", r.Metadata)
	}
	listeners := map[string][]*kubeListenerRef{} // "ns/name" -> listeners
	for _, g := range d.KubeGateways {
		rep := d.reporter(g, resourceLabel(d, g, "Gateway", g.Metadata.Name), problems)
		gen, ls := translateKubeGateway(rep, g)
		listeners[kubeNamespace(g.Metadata)+"/"+g.Metadata.Name] = ls
		if gen != nil {
			d.Gateways = append(d.Gateways, gen)
			d.base[gen] = true
		}
	}
	vss := map[string]*VirtualService{}
	keys := map[string][]genRule{}
	var order []string
	for _, r := range d.HTTPRoutes {
		rep := d.reporter(r, resourceLabel(d, r, "HTTPRoute", r.Metadata.Name), problems)
		d.translateHTTPRoute(rep, r, listeners, func(key string, vs *VirtualService, rules []genRule) {
			if _, ok := vss[key]; !ok {
				vss[key] = vs
				order = append(order, key)
			}
			keys[key] = append(keys[key], rules...)
		})
	}
	for _, key := range order {
		vs := vss[key]
		rules := keys[key]
		slices.SortStableFunc(rules, compareGenRules)
		for _, gr := range rules {
			vs.Spec.HTTP = append(vs.Spec.HTTP, gr.h)
		}
		d.VirtualServices = append(d.VirtualServices, vs)
		d.base[vs] = true
	}
}

// kubeNamespace is a resource's namespace, the default one when unset.
func kubeNamespace(m ObjectMeta) string {
	if m.Namespace == "" {
		return DefaultNamespace
	}
	return m.Namespace
}

// compareGenRules is istiod's sortHTTPRoutes order: Exact before
// PathPrefix before RegularExpression, longer paths first, then a method
// match, then more header matches, then more query matches.
func compareGenRules(a, b genRule) int {
	switch {
	case a.rank != b.rank:
		return b.rank - a.rank
	case a.length != b.length:
		return b.length - a.length
	case a.method != b.method:
		if a.method {
			return -1
		}
		return 1
	case a.headers != b.headers:
		return b.headers - a.headers
	}
	return b.query - a.query
}

// translateKubeGateway checks a Gateway API Gateway and builds its Istio
// Gateway: one server per HTTP listener, hosts "<namespace>/<hostname>"
// for the namespaces its allowedRoutes take (buildListener,
// buildHostnameMatch).
func translateKubeGateway(rep *reporter, g *KubeGateway) (*Gateway, []*kubeListenerRef) {
	validateMetadata(rep, g.Metadata)
	if c := g.Spec.GatewayClassName; c != "istio" {
		rep.errorf("spec.gatewayClassName", "must be \"istio\", the class istiod programs, not %q", c)
	}
	if len(g.Spec.Addresses) > 0 {
		rep.warnf("spec.addresses", "is ignored: Faultline opens the Gateway's listeners on loopback")
	}
	if len(g.Spec.Infrastructure) > 0 {
		rep.warnf("spec.infrastructure", "is ignored: Faultline deploys no gateway workload")
	}
	if len(g.Spec.Listeners) == 0 {
		rep.errorf("spec.listeners", "needs at least one listener")
	}
	ns := kubeNamespace(g.Metadata)
	gen := &Gateway{APIVersion: "networking.istio.io/v1", Kind: "Gateway", Metadata: ObjectMeta{Name: g.Metadata.Name, Namespace: g.Metadata.Namespace}}
	var out []*kubeListenerRef
	names := map[string]bool{}
	for i := range g.Spec.Listeners {
		l := &g.Spec.Listeners[i]
		p := fmt.Sprintf("spec.listeners[%d]", i)
		ref := &kubeListenerRef{gw: g, index: i, l: l, ok: true}
		out = append(out, ref)
		switch {
		case l.Name == "":
			rep.errorf(p+".name", "is required")
		case names[l.Name]:
			rep.errorf(p+".name", "listener %q is named twice", l.Name)
		}
		names[l.Name] = true
		if l.Port == 0 || l.Port > 65535 {
			rep.errorf(p+".port", "must be a port, 1-65535")
			ref.ok = false
		}
		valid := ref.ok
		var serverTLS *ServerTLS
		switch l.Protocol {
		case "HTTP":
			if l.TLS != nil {
				rep.errorf(p+".tls", "must not be set on an HTTP listener")
			}
		case "HTTPS", "TLS":
			var ok bool
			serverTLS, ok = listenerTLS(rep, p, l, ns)
			valid = valid && ok
			ref.ok = ref.ok && ok && l.Protocol == "HTTPS"
		case "TCP", "UDP":
			rep.errorf(p+".protocol", "%s listeners take TCPRoutes or UDPRoutes, which Faultline does not implement: use HTTP, HTTPS or TLS", l.Protocol)
			ref.ok, valid = false, false
		default:
			rep.errorf(p+".protocol", "must be HTTP, HTTPS or TLS (TCP is not implemented by Faultline), not %q", l.Protocol)
			ref.ok, valid = false, false
		}
		if h := l.Hostname; h != "" && !isKubeHostname(h) {
			rep.errorf(p+".hostname", "must be a DNS name, optionally with a leading \"*.\", not %q", h)
		}
		ref.from = []string{ns}
		if ar := l.AllowedRoutes; ar != nil {
			if nsSel := ar.Namespaces; nsSel != nil {
				switch nsSel.From {
				case "", "Same":
				case "All":
					ref.from = []string{"*"}
				case "Selector":
					rep.errorf(p+".allowedRoutes.namespaces.from", "Selector needs namespace labels, which Faultline does not have: use Same or All")
				default:
					rep.errorf(p+".allowedRoutes.namespaces.from", "must be Same, All or Selector, not %q", nsSel.From)
				}
			}
			if len(ar.Kinds) > 0 && l.Protocol != "TLS" {
				takes := false
				for j, k := range ar.Kinds {
					if (k.Group == nil || *k.Group == gatewayAPIGroup) && k.Kind == "HTTPRoute" {
						takes = true
					} else {
						rep.warnf(fmt.Sprintf("%s.allowedRoutes.kinds[%d]", p, j), "Faultline translates HTTPRoutes only: no %s attaches here", k.Kind)
					}
				}
				if !takes {
					ref.ok = false
				}
			}
		}
		if l.Protocol == "TLS" && valid {
			// TLSRoute (Passthrough) and TCPRoute (Terminate) are what
			// attach here; HTTPRoutes never do.
			rep.warnf(p, "no route attaches to a TLS listener in Faultline (it does not implement TLSRoute or TCPRoute): its server is opened, and its connections find no route")
		}
		if !valid || !ref.ok && l.Protocol != "TLS" {
			continue
		}
		host := strings.ToLower(l.Hostname)
		if host == "" {
			host = "*"
		}
		var hosts []string
		for _, n := range ref.from {
			hosts = append(hosts, n+"/"+host)
		}
		gen.Spec.Servers = append(gen.Spec.Servers, Server{
			Port:  Port{Number: l.Port, Protocol: l.Protocol, Name: l.Name},
			Hosts: hosts,
			TLS:   serverTLS,
		})
	}
	if len(gen.Spec.Servers) == 0 {
		return nil, out
	}
	return gen, out
}

// tlsTerminateModeOption and tlsCipherSuitesOption are the listener TLS
// options istiod reads (buildTLS).
const (
	tlsTerminateModeOption = "gateway.istio.io/tls-terminate-mode"
	tlsCipherSuitesOption  = "gateway.istio.io/tls-cipher-suites"
)

// listenerTLS is buildTLS: the TLS of the Istio server an HTTPS or TLS
// listener becomes. Terminate is SIMPLE (or what the
// gateway.istio.io/tls-terminate-mode option says), its certificateRefs
// the server's credentialName (credentialNames for two); Passthrough is
// PASSTHROUGH. istiod names a Secret of the Gateway's namespace
// kubernetes-gateway://<namespace>/<name>, the secret an Istio Gateway
// server in that namespace names by credentialName <name>, which is how
// Faultline's credentials directory holds it (<dir>/<name>/tls.crt). A
// Secret of another namespace needs a ReferenceGrant, which Faultline does
// not implement. ok is false when the listener cannot be served.
func listenerTLS(rep *reporter, p string, l *KubeListener, ns string) (*ServerTLS, bool) {
	t := l.TLS
	if t == nil {
		// The Gateway CRD's rule; istiod would open no server for it.
		rep.errorf(p+".tls", "is required for protocol %s", l.Protocol)
		return nil, false
	}
	if t.FrontendValidation != nil {
		rep.errorf(p+".tls.frontendValidation", "client certificate validation through the Gateway API is not implemented by Faultline: use the %s option MUTUAL", tlsTerminateModeOption)
	}
	mode := t.Mode
	if mode == "" {
		mode = "Terminate"
	}
	out := &ServerTLS{}
	switch mode {
	case "Passthrough":
		if l.Protocol == "HTTPS" {
			rep.errorf(p+".tls.mode", "must be Terminate for protocol HTTPS (Passthrough needs protocol TLS)")
			return nil, false
		}
		if len(t.CertificateRefs) > 0 {
			rep.warnf(p+".tls.certificateRefs", "are ignored: a Passthrough listener does not terminate TLS")
		}
		out.Mode = "PASSTHROUGH"
		return out, true
	case "Terminate":
		out.Mode = "SIMPLE"
	default:
		rep.errorf(p+".tls.mode", "must be Terminate or Passthrough, not %q", t.Mode)
		return nil, false
	}
	ok := true
	for k, v := range t.Options {
		switch k {
		case tlsTerminateModeOption:
			switch v {
			case "MUTUAL", "OPTIONAL_MUTUAL", "ISTIO_MUTUAL":
				out.Mode = v
			case "ISTIO_SIMPLE":
				rep.errorf(p+".tls.options", "%s ISTIO_SIMPLE (the workload's own certificate) is not implemented by Faultline", k)
				ok = false
			default:
				rep.warnf(p+".tls.options", "%s %q is ignored, as istiod ignores it: the listener terminates TLS as SIMPLE", k, v)
			}
		case tlsCipherSuitesOption:
			for _, c := range strings.Split(v, ",") {
				if c = strings.TrimSpace(c); c != "" {
					out.CipherSuites = append(out.CipherSuites, c)
				}
			}
		default:
			rep.warnf(p+".tls.options", "%s is ignored: istiod reads %s and %s only", k, tlsTerminateModeOption, tlsCipherSuitesOption)
		}
	}
	if out.Mode == "ISTIO_MUTUAL" {
		return out, ok // the mesh's own certificate: no certificateRefs
	}
	if len(t.CertificateRefs) == 0 {
		rep.errorf(p+".tls.certificateRefs", "are required when mode is Terminate")
		return nil, false
	}
	if len(t.CertificateRefs) > 2 {
		rep.errorf(p+".tls.certificateRefs", "may name up to 2 server certificates, as istiod takes them")
		return nil, false
	}
	var names []string
	for i, ref := range t.CertificateRefs {
		rp := fmt.Sprintf("%s.tls.certificateRefs[%d]", p, i)
		switch {
		case ref.Group != nil && *ref.Group != "" && *ref.Group != "core", ref.Kind != nil && *ref.Kind != "Secret":
			rep.errorf(rp+".kind", "must name a Secret (istiod takes no other certificate reference)")
		case ref.Name == "":
			rep.errorf(rp+".name", "is required")
		case ref.Namespace != "" && ref.Namespace != ns:
			rep.errorf(rp+".namespace", "a Secret of another namespace (%s) needs a ReferenceGrant, which Faultline does not implement: put the Secret in the Gateway's namespace %s", ref.Namespace, ns)
		default:
			names = append(names, ref.Name)
		}
	}
	switch len(names) {
	case 0:
		return nil, false
	case 1:
		out.CredentialName = names[0]
	default:
		out.CredentialNames = names
	}
	return out, ok
}

// isKubeHostname reports a Gateway API hostname: a DNS name, or "*."
// before one; never an IP.
func isKubeHostname(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if !isHostName(h) {
		return false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	_, err := strconv.Atoi(last)
	return err != nil
}

// intersectKubeHostnames is the Gateway API's hostname intersection of a
// listener's and a route's ("*" for none): "" when they do not meet.
func intersectKubeHostnames(listener, route string) string {
	switch {
	case listener == "*":
		return route
	case route == "*":
		return listener
	case listener == route:
		return route
	case strings.HasPrefix(listener, "*.") && strings.HasSuffix(route, listener[1:]):
		return route
	case strings.HasPrefix(route, "*.") && strings.HasSuffix(listener, route[1:]):
		return listener
	}
	return ""
}

// translateHTTPRoute checks an HTTPRoute, converts its rules and attaches
// them to the listeners its parentRefs name; add receives the rules of
// each VirtualService key (Gateway, port, host).
func (d *Document) translateHTTPRoute(rep *reporter, r *KubeHTTPRoute, listeners map[string][]*kubeListenerRef, add func(key string, vs *VirtualService, rules []genRule)) {
	validateMetadata(rep, r.Metadata)
	rns := kubeNamespace(r.Metadata)
	var hostnames []string
	for i, h := range r.Spec.Hostnames {
		if !isKubeHostname(h) {
			rep.errorf(fmt.Sprintf("spec.hostnames[%d]", i), "must be a DNS name, optionally with a leading \"*.\", not %q", h)
			continue
		}
		hostnames = append(hostnames, strings.ToLower(h))
	}
	if len(r.Spec.Hostnames) == 0 {
		hostnames = []string{"*"}
	}
	rules := d.convertHTTPRules(rep, r)
	if len(r.Spec.ParentRefs) == 0 {
		rep.warnf("spec.parentRefs", "is empty: the route attaches to no Gateway and routes nothing")
	}
	for j, pr := range r.Spec.ParentRefs {
		p := fmt.Sprintf("spec.parentRefs[%d]", j)
		group, kind := gatewayAPIGroup, "Gateway"
		if pr.Group != nil {
			group = *pr.Group
		}
		if pr.Kind != nil {
			kind = *pr.Kind
		}
		switch {
		case (group == "" || group == "core") && kind == "Service":
			d.attachMesh(rep, p, r, pr, rules, add)
			continue
		case group != gatewayAPIGroup || kind != "Gateway":
			rep.errorf(p+".kind", "must name a Gateway (group %s), not %s %q", gatewayAPIGroup, kind, group)
			continue
		}
		gns := pr.Namespace
		if gns == "" {
			gns = rns
		}
		ls, found := listeners[gns+"/"+pr.Name]
		if !found {
			if !d.unresolved() {
				rep.errorf(p+".name", "names no Gateway API Gateway of this experiment: %s/%s", gns, pr.Name)
			}
			continue
		}
		attached := false
		added := map[string]bool{}
		sectionFound := pr.SectionName == ""
		for _, lr := range ls {
			if pr.SectionName != "" && lr.l.Name != pr.SectionName {
				continue
			}
			sectionFound = true
			if pr.Port != 0 && lr.l.Port != pr.Port {
				continue
			}
			if !lr.ok || !(lr.from[0] == "*" || lr.from[0] == rns) {
				continue
			}
			lh := strings.ToLower(lr.l.Hostname)
			if lh == "" {
				lh = "*"
			}
			for _, rh := range hostnames {
				host := intersectKubeHostnames(lh, rh)
				if host == "" || !allowedByIsolation(ls, lr, rh) {
					continue
				}
				attached = true
				key := fmt.Sprintf("%s/%s/%d/%s", gns, pr.Name, lr.l.Port, host)
				if added[key] {
					continue // attached through another listener already
				}
				added[key] = true
				for _, other := range ls {
					oh := strings.ToLower(other.l.Hostname)
					if other != lr && other.l.Port == lr.l.Port && oh != "" && oh != host && intersectKubeHostnames(host, oh) == oh && !slices.Contains(attachedTo(r, gns, pr.Name, ls), other) {
						rep.warnf(p, "the rules attached to listener %s (%s) also serve listener %s's hostname %s here: Faultline merges one Gateway's listeners of a port, where istiod keeps %s to the routes attached to %s", lr.l.Name, host, other.l.Name, oh, oh, other.l.Name)
					}
				}
				vs := &VirtualService{
					APIVersion: "networking.istio.io/v1",
					Kind:       "VirtualService",
					Metadata:   ObjectMeta{Name: fmt.Sprintf("%s~%d~%s", pr.Name, lr.l.Port, host), Namespace: r.Metadata.Namespace, Annotations: routeSemantics()},
					Spec:       VirtualServiceSpec{Hosts: []string{host}, Gateways: []string{gns + "/" + pr.Name}},
				}
				add(key, vs, withPort(rules, lr.l.Port))
			}
		}
		switch {
		case !sectionFound:
			rep.errorf(p+".sectionName", "Gateway %s/%s has no listener %q", gns, pr.Name, pr.SectionName)
		case !attached:
			rep.warnf(p, "attaches to no listener of Gateway %s/%s: none takes this route's namespace, port and hostnames, so it routes nothing there", gns, pr.Name)
		}
	}
}

// attachMesh attaches a route to the mesh for the Service pr names
// (GAMMA): HTTPRouteCollection's mesh branch, one VirtualService per
// namespace, port and Service host, bound to the mesh, its matches
// limited to pr's port when it names one (augmentPortMatch). The route's
// hostnames do not apply: the Service's host does.
func (d *Document) attachMesh(rep *reporter, p string, r *KubeHTTPRoute, pr ParentReference, rules []genRule, add func(string, *VirtualService, []genRule)) {
	if pr.SectionName != "" {
		rep.errorf(p+".sectionName", "a Service parent is chosen by port, not by section")
		return
	}
	ns := pr.Namespace
	if ns == "" {
		ns = kubeNamespace(r.Metadata)
	}
	if pr.Name == "" || strings.Contains(pr.Name, ".") {
		rep.errorf(p+".name", "must be the name of a Service, not %q", pr.Name)
		return
	}
	host := pr.Name + "." + ns + ".svc.cluster.local"
	if ports, ok := d.hostPorts(host); !ok && !d.unresolved() {
		rep.warnf(p+".name", "Service %s is bound to no endpoints here: the route serves no mesh traffic", pr.Name)
		return
	} else if ok && pr.Port != 0 && !slices.Contains(ports, pr.Port) {
		rep.errorf(p+".port", "%d is not a port of %s (ports %v)", pr.Port, pr.Name, ports)
		return
	}
	key := kubeNamespace(r.Metadata)
	if pr.Port != 0 {
		key += "/" + strconv.FormatUint(uint64(pr.Port), 10)
		rules = withPort(rules, pr.Port)
	}
	key += "/" + host
	vs := &VirtualService{
		APIVersion: "networking.istio.io/v1",
		Kind:       "VirtualService",
		Metadata:   ObjectMeta{Name: strings.ReplaceAll(key, "/", "~"), Namespace: r.Metadata.Namespace, Annotations: routeSemantics()},
		Spec:       VirtualServiceSpec{Hosts: []string{host}, Gateways: []string{MeshGateway}},
	}
	add("mesh/"+key, vs, rules)
}

// routeSemantics is the annotation of a generated VirtualService
// (routeMeta): its routes have gateway semantics.
func routeSemantics() map[string]string {
	return map[string]string{RouteSemanticsAnnotation: RouteSemanticsGateway}
}

// allowedByIsolation is istiod's hostnameAllowedByIsolation: a route
// host that another listener of the Gateway on the same port names at
// least as exactly as lr's wildcard (or empty) hostname goes to that
// listener only.
func allowedByIsolation(ls []*kubeListenerRef, lr *kubeListenerRef, routeHost string) bool {
	ours := strings.ToLower(lr.l.Hostname)
	if ours != "" && !strings.HasPrefix(ours, "*") {
		return true
	}
	for _, other := range ls {
		check := strings.ToLower(other.l.Hostname)
		if other == lr || other.l.Port != lr.l.Port || other.l.Protocol != lr.l.Protocol || check == ours || check == "" {
			continue
		}
		if len(ours) > len(check) {
			continue
		}
		if hostSubsetOf(routeHost, check) {
			return false
		}
	}
	return true
}

// attachedTo lists the listeners of Gateway gns/name that some parentRef
// of r names (by section, or all of them).
func attachedTo(r *KubeHTTPRoute, gns, name string, ls []*kubeListenerRef) []*kubeListenerRef {
	var out []*kubeListenerRef
	for _, pr := range r.Spec.ParentRefs {
		ns := pr.Namespace
		if ns == "" {
			ns = kubeNamespace(r.Metadata)
		}
		if ns != gns || pr.Name != name {
			continue
		}
		for _, lr := range ls {
			if (pr.SectionName == "" || pr.SectionName == lr.l.Name) && (pr.Port == 0 || pr.Port == lr.l.Port) {
				out = append(out, lr)
			}
		}
	}
	return out
}

// withPort copies rules, each match limited to a listener port: istiod
// binds a route to each listener's own Istio Gateway, so a route on one
// listener never serves another port.
func withPort(rules []genRule, port uint32) []genRule {
	out := make([]genRule, len(rules))
	for i, gr := range rules {
		gr.h.Match = slices.Clone(gr.h.Match)
		for j := range gr.h.Match {
			gr.h.Match[j].Port = port
		}
		out[i] = gr
	}
	return out
}

// convertHTTPRules converts an HTTPRoute's rules, one generated rule per
// match (convertHTTPRoute under HTTPRouteCollection's split).
func (d *Document) convertHTTPRules(rep *reporter, r *KubeHTTPRoute) []genRule {
	rns := kubeNamespace(r.Metadata)
	var out []genRule
	for n := range r.Spec.Rules {
		rule := &r.Spec.Rules[n]
		p := fmt.Sprintf("spec.rules[%d]", n)
		name := rule.Name
		if name == "" {
			name = rns + "." + r.Metadata.Name + "." + strconv.Itoa(n)
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []KubeHTTPRouteMatch{{}} // the CRD's default: PathPrefix /
		}
		checkFilters(rep, p, rule)
		// The rule's action is converted once per match (a rewrite
		// depends on it): report each of its problems once.
		said := map[string]bool{}
		for m := range matches {
			gr := genRule{h: HTTPRoute{Name: name}, rank: -1}
			mp := fmt.Sprintf("%s.matches[%d]", p, m)
			if len(rule.Matches) == 0 {
				mp = p
			}
			gr.h.Match = []HTTPMatchRequest{convertMatch(rep, mp, &matches[m], &gr)}
			var ps Problems
			d.convertRuleAction(&reporter{doc: rep.doc, problems: &ps, lines: rep.lines}, p, rns, rule, &gr)
			for _, x := range ps {
				if k := x.String() + string(x.Severity); !said[k] {
					said[k] = true
					*rep.problems = append(*rep.problems, x)
				}
			}
			out = append(out, gr)
		}
	}
	return out
}

// checkFilters applies the HTTPRoute CRD's rules on a rule's filters:
// RequestRedirect and URLRewrite exclude each other, and no filter but
// RequestMirror appears twice.
func checkFilters(rep *reporter, p string, rule *KubeHTTPRouteRule) {
	seen := map[string]bool{}
	for i, f := range rule.Filters {
		if seen[f.Type] && f.Type != "RequestMirror" {
			rep.errorf(fmt.Sprintf("%s.filters[%d].type", p, i), "%s may appear once in a rule's filters", f.Type)
		}
		seen[f.Type] = true
	}
	if seen["RequestRedirect"] && seen["URLRewrite"] {
		rep.errorf(p+".filters", "set RequestRedirect or URLRewrite, not both")
	}
}

// convertMatch is createURIMatch, createHeadersMatch,
// createQueryParamsMatch and createMethodMatch. A PathPrefix other than
// "/" matches by path element (Envoy's path_separated_prefix, which
// istiod uses under gateway semantics): it becomes the regex
// "<prefix>(/.*)?", which matches the same paths, the query aside.
func convertMatch(rep *reporter, p string, km *KubeHTTPRouteMatch, gr *genRule) HTTPMatchRequest {
	var m HTTPMatchRequest
	typ, value := "PathPrefix", "/"
	if km.Path != nil {
		if km.Path.Type != "" {
			typ = km.Path.Type
		}
		if km.Path.Value != nil {
			value = *km.Path.Value
		}
	}
	if typ != "RegularExpression" {
		// The HTTPRoute CRD's rules on an Exact or PathPrefix value.
		bad := !strings.HasPrefix(value, "/") || strings.HasSuffix(value, "/..") || strings.HasSuffix(value, "/.")
		for _, seq := range []string{"//", "/./", "/../", "%2f", "%2F", "#"} {
			bad = bad || strings.Contains(value, seq)
		}
		if bad {
			rep.errorf(p+".path.value", "must be an absolute path without //, /./, /../, %%2f or # and not ending in /. or /.., not %q", value)
		}
	}
	switch typ {
	case "PathPrefix":
		if value != "/" {
			value = strings.TrimSuffix(value, "/")
		}
		gr.rank, gr.length = 2, len(value)
		if value == "/" {
			m.URI = &StringMatch{Prefix: &value}
		} else {
			gr.prefix = value
			re := regexp.QuoteMeta(value) + "(/.*)?"
			m.URI = &StringMatch{Regex: &re}
		}
	case "Exact":
		gr.rank, gr.length = 3, len(value)
		m.URI = &StringMatch{Exact: &value}
	case "RegularExpression":
		gr.rank, gr.length = 1, len(value)
		if _, err := regexp.Compile(value); err != nil {
			rep.errorf(p+".path.value", "invalid RE2 regex %q: %v", value, err)
		}
		m.URI = &StringMatch{Regex: &value}
	default:
		rep.errorf(p+".path.type", "must be Exact, PathPrefix or RegularExpression, not %q", typ)
	}
	stringMatches := func(field string, i int, typ, value string) (StringMatch, bool) {
		v := value
		switch typ {
		case "", "Exact":
			return StringMatch{Exact: &v}, true
		case "RegularExpression":
			if _, err := regexp.Compile(v); err != nil {
				rep.errorf(fmt.Sprintf("%s.%s[%d].value", p, field, i), "invalid RE2 regex %q: %v", v, err)
				return StringMatch{}, false
			}
			return StringMatch{Regex: &v}, true
		}
		rep.errorf(fmt.Sprintf("%s.%s[%d].type", p, field, i), "must be Exact or RegularExpression, not %q", typ)
		return StringMatch{}, false
	}
	for i, h := range km.Headers {
		if !httpguts.ValidHeaderFieldName(h.Name) {
			rep.errorf(fmt.Sprintf("%s.headers[%d].name", p, i), "is not a valid header name: %q", h.Name)
			continue
		}
		k := strings.ToLower(h.Name)
		if _, dup := m.Headers[k]; dup {
			continue // "subsequent entries with an equivalent header name MUST be ignored"
		}
		if sm, ok := stringMatches("headers", i, h.Type, h.Value); ok {
			if m.Headers == nil {
				m.Headers = map[string]StringMatch{}
			}
			m.Headers[k] = sm
		}
	}
	for i, q := range km.QueryParams {
		if q.Name == "" {
			rep.errorf(fmt.Sprintf("%s.queryParams[%d].name", p, i), "is required")
			continue
		}
		if _, dup := m.QueryParams[q.Name]; dup {
			continue
		}
		if sm, ok := stringMatches("queryParams", i, q.Type, q.Value); ok {
			if m.QueryParams == nil {
				m.QueryParams = map[string]StringMatch{}
			}
			m.QueryParams[q.Name] = sm
		}
	}
	if km.Method != "" {
		method := km.Method
		m.Method = &StringMatch{Exact: &method}
		gr.method = true
	}
	gr.headers, gr.query = len(m.Headers), len(m.QueryParams)
	return m
}

// convertRuleAction converts a rule's filters, timeouts and backends
// onto gr (convertHTTPRoute, buildHTTPDestination).
func (d *Document) convertRuleAction(rep *reporter, p, rns string, rule *KubeHTTPRouteRule, gr *genRule) {
	h := &gr.h
	for i := range rule.Filters {
		f := &rule.Filters[i]
		fp := fmt.Sprintf("%s.filters[%d]", p, i)
		if !filterSet(rep, fp, f) {
			continue
		}
		switch f.Type {
		case "RequestHeaderModifier":
			if h.Headers == nil {
				h.Headers = &Headers{}
			}
			h.Headers.Request = headerFilter(rep, fp+".requestHeaderModifier", f.RequestHeaderModifier)
		case "ResponseHeaderModifier":
			if h.Headers == nil {
				h.Headers = &Headers{}
			}
			h.Headers.Response = headerFilter(rep, fp+".responseHeaderModifier", f.ResponseHeaderModifier)
		case "RequestRedirect":
			h.Redirect = redirectFilter(rep, fp+".requestRedirect", f.RequestRedirect, gr)
		case "URLRewrite":
			h.Rewrite = rewriteFilter(rep, fp+".urlRewrite", f.URLRewrite, gr)
		case "RequestMirror":
			mf := f.RequestMirror
			dst, ok := d.backend(rep, fp+".requestMirror.backendRef", rns, mf.BackendRef.Group, mf.BackendRef.Kind, mf.BackendRef.Name, mf.BackendRef.Namespace, mf.BackendRef.Port)
			if !ok {
				continue
			}
			if why := d.backendMissing(dst); why != "" {
				rep.warnf(fp+".requestMirror.backendRef", "%s: istiod drops the mirror (the route's status says the backend is not found)", why)
				continue
			}
			mp := HTTPMirrorPolicy{Destination: dst}
			switch {
			case mf.Fraction != nil:
				den := int32(100)
				if mf.Fraction.Denominator != nil {
					den = *mf.Fraction.Denominator
				}
				if den <= 0 || mf.Fraction.Numerator < 0 || mf.Fraction.Numerator > den {
					rep.errorf(fp+".requestMirror.fraction", "numerator must be between 0 and a positive denominator")
					continue
				}
				mp.Percentage = &Percent{Value: 100 * float64(mf.Fraction.Numerator) / float64(den)}
			case mf.Percent != nil:
				mp.Percentage = &Percent{Value: float64(*mf.Percent)}
			}
			h.Mirrors = append(h.Mirrors, mp)
		}
	}
	if rt := rule.Retry; rt != nil {
		// "Implementations SHOULD retry on connection errors ... if a
		// retry stanza is configured", plus the listed codes; 2 attempts
		// unless set, as istiod does.
		retryOn := []string{"connect-failure", "refused-stream", "unavailable", "cancelled"}
		for i, c := range rt.Codes {
			if c < 400 || c > 599 {
				rep.errorf(fmt.Sprintf("%s.retry.codes[%d]", p, i), "must be a status between 400 and 599, not %d", c)
				continue
			}
			retryOn = append(retryOn, strconv.Itoa(int(c)))
		}
		h.Retries = &HTTPRetry{Attempts: 2, RetryOn: strings.Join(retryOn, ",")}
		if rt.Attempts != nil {
			if *rt.Attempts < 0 {
				rep.errorf(p+".retry.attempts", "must be >= 0")
			}
			h.Retries.Attempts = *rt.Attempts
		}
		if h.Retries.Attempts == 0 {
			h.Retries.RetryOn = ""
		}
		if rt.Backoff != nil {
			b := *rt.Backoff
			h.Retries.Backoff = &b
		}
	}
	if t := rule.Timeouts; t != nil {
		if t.Request != nil && *t.Request < 0 || t.BackendRequest != nil && *t.BackendRequest < 0 {
			rep.errorf(p+".timeouts", "must not be negative")
		}
		if t.Request != nil && *t.Request != 0 {
			v := *t.Request
			h.Timeout = &v
		}
		if t.BackendRequest != nil && *t.BackendRequest != 0 {
			// Each attempt's timeout; without a retry stanza istiod makes
			// it the route's.
			v := *t.BackendRequest
			if h.Retries != nil {
				h.Retries.PerTryTimeout = &v
			} else {
				h.Timeout = &v
			}
		}
	}
	sum := 0
	for _, b := range rule.BackendRefs {
		if b.Weight == nil {
			sum++
		} else {
			sum += int(*b.Weight)
		}
	}
	if sum == 0 && h.Redirect == nil {
		// "when there are no >0 weight backends return 500"
		h.DirectResponse = &HTTPDirectResponse{Status: 500}
		h.Rewrite, h.Headers, h.Mirrors, h.Timeout, h.Retries = nil, keepResponse(h.Headers), nil, nil, nil
		return
	}
	if h.Redirect != nil {
		if len(rule.BackendRefs) > 0 {
			rep.warnf(p+".backendRefs", "are ignored: the rule's RequestRedirect answers every request it matches")
		}
		h.Rewrite, h.Mirrors, h.Timeout, h.Retries = nil, nil, nil, nil
		return
	}
	var known, missing int
	var dests []HTTPRouteDestination
	for k := range rule.BackendRefs {
		b := &rule.BackendRefs[k]
		bp := fmt.Sprintf("%s.backendRefs[%d]", p, k)
		w := int32(1)
		if b.Weight != nil {
			w = *b.Weight
		}
		if w < 0 {
			rep.errorf(bp+".weight", "must be >= 0")
			continue
		}
		if w == 0 {
			continue
		}
		dst, ok := d.backend(rep, bp, rns, b.Group, b.Kind, b.Name, b.Namespace, b.Port)
		if !ok {
			continue
		}
		if why := d.backendMissing(dst); why == "" {
			known++
		} else {
			missing++
			rep.warnf(bp, "%s: requests sent to it get 500, as istiod routes an unresolved backend (bind it in the Experiment's spec.services or a ServiceEntry)", why)
		}
		rd := HTTPRouteDestination{Destination: dst, Weight: w}
		for i := range b.Filters {
			f := &b.Filters[i]
			fp := fmt.Sprintf("%s.filters[%d]", bp, i)
			if !filterSet(rep, fp, f) {
				continue
			}
			switch f.Type {
			case "RequestHeaderModifier":
				if rd.Headers == nil {
					rd.Headers = &Headers{}
				}
				rd.Headers.Request = headerFilter(rep, fp+".requestHeaderModifier", f.RequestHeaderModifier)
			case "ResponseHeaderModifier":
				if rd.Headers == nil {
					rd.Headers = &Headers{}
				}
				rd.Headers.Response = headerFilter(rep, fp+".responseHeaderModifier", f.ResponseHeaderModifier)
			default:
				rep.errorf(fp+".type", "a backendRef's filters may modify headers only here; %s is not implemented on a backend by Faultline", f.Type)
			}
		}
		dests = append(dests, rd)
	}
	if missing > 0 && known == 0 {
		// Every request goes to a cluster that does not exist: Envoy
		// answers 500 (cluster_not_found_response_code under gateway
		// semantics).
		h.DirectResponse = &HTTPDirectResponse{Status: 500}
		h.Rewrite, h.Headers, h.Mirrors, h.Timeout, h.Retries = nil, keepResponse(h.Headers), nil, nil, nil
		return
	}
	// Beside valid ones, an invalid backend keeps its destination and
	// weight, as buildHTTPDestination keeps them: its cluster does not
	// exist, and the generated VirtualService's gateway semantics answer
	// its share 500 (proxy/gateway_semantics.go).
	if len(dests) == 1 {
		dests[0].Weight = 0
	}
	h.Route = dests
}

// keepResponse keeps the response header operations a direct response
// still carries.
func keepResponse(h *Headers) *Headers {
	if h == nil || h.Response == nil {
		return nil
	}
	return &Headers{Response: h.Response}
}

// filterSet checks that a filter's type names one Faultline implements
// and that the field of that type is set.
func filterSet(rep *reporter, fp string, f *KubeHTTPFilter) bool {
	var set bool
	switch f.Type {
	case "RequestHeaderModifier":
		set = f.RequestHeaderModifier != nil
	case "ResponseHeaderModifier":
		set = f.ResponseHeaderModifier != nil
	case "RequestRedirect":
		set = f.RequestRedirect != nil
	case "URLRewrite":
		set = f.URLRewrite != nil
	case "RequestMirror":
		set = f.RequestMirror != nil
	case "CORS", "ExternalAuth", "ExtensionRef":
		rep.errorf(fp+".type", "%s filters are not implemented by Faultline", f.Type)
		return false
	default:
		rep.errorf(fp+".type", "must be RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite or RequestMirror, not %q", f.Type)
		return false
	}
	if !set {
		field := strings.ToLower(f.Type[:1]) + f.Type[1:]
		if f.Type == "URLRewrite" {
			field = "urlRewrite"
		}
		rep.errorf(fp+"."+field, "is required for type %s", f.Type)
	}
	return set
}

// headerFilter is createHeadersFilter: names lower-cased, the first of a
// name kept.
func headerFilter(rep *reporter, fp string, f *HTTPHeaderFilter) *HeaderOperations {
	toMap := func(field string, hs []HTTPHeader) map[string]string {
		if len(hs) == 0 {
			return nil
		}
		out := map[string]string{}
		for i, h := range hs {
			if !httpguts.ValidHeaderFieldName(h.Name) {
				rep.errorf(fmt.Sprintf("%s.%s[%d].name", fp, field, i), "is not a valid header name: %q", h.Name)
				continue
			}
			for _, c := range []byte(h.Value) {
				if c != '\t' && (c < 0x20 || c == 0x7f) {
					rep.errorf(fmt.Sprintf("%s.%s[%d].value", fp, field, i), "header %q value contains invalid characters", h.Name)
					break
				}
			}
			k := strings.ToLower(h.Name)
			if _, dup := out[k]; !dup {
				out[k] = h.Value
			}
		}
		return out
	}
	return &HeaderOperations{Set: toMap("set", f.Set), Add: toMap("add", f.Add), Remove: slices.Clone(f.Remove)}
}

// redirectFilter is createRedirectFilter, with the CRD's default status
// 302 (the API server sets it; istiod reads it set).
func redirectFilter(rep *reporter, fp string, f *HTTPRequestRedirectFilter, gr *genRule) *HTTPRedirect {
	out := &HTTPRedirect{RedirectCode: 302}
	if f.StatusCode != nil {
		if *f.StatusCode != 301 && *f.StatusCode != 302 {
			rep.errorf(fp+".statusCode", "must be 301 or 302, not %d", *f.StatusCode)
		}
		out.RedirectCode = uint32(*f.StatusCode)
	}
	if f.Hostname != nil {
		out.Authority = *f.Hostname
	}
	if f.Scheme != nil {
		if *f.Scheme != "http" && *f.Scheme != "https" {
			rep.errorf(fp+".scheme", "must be http or https, not %q", *f.Scheme)
		}
		out.Scheme = *f.Scheme
	}
	switch {
	case f.Port != nil:
		out.Port = *f.Port
	case f.Scheme != nil:
		out.DerivePort = "FROM_PROTOCOL_DEFAULT"
	default:
		// "When empty, port (if specified) of the request is used."
		out.DerivePort = "FROM_REQUEST_PORT"
	}
	if pm := f.Path; pm != nil {
		switch pm.Type {
		case "ReplaceFullPath":
			if pm.ReplaceFullPath == nil {
				rep.errorf(fp+".path.replaceFullPath", "is required for type ReplaceFullPath")
			} else {
				out.URI = *pm.ReplaceFullPath
			}
		case "ReplacePrefixMatch":
			switch {
			case pm.ReplacePrefixMatch == nil:
				rep.errorf(fp+".path.replacePrefixMatch", "is required for type ReplacePrefixMatch")
			case gr.rank != 2:
				rep.errorf(fp+".path", "ReplacePrefixMatch needs a PathPrefix match")
			case gr.prefix != "":
				rep.errorf(fp+".path", "ReplacePrefixMatch in a redirect after a PathPrefix other than / is not implemented by Faultline (Envoy rewrites the path-element prefix in the Location); use ReplaceFullPath")
			default:
				out.PrefixRewrite = *pm.ReplacePrefixMatch
			}
		default:
			rep.errorf(fp+".path.type", "must be ReplaceFullPath or ReplacePrefixMatch, not %q", pm.Type)
		}
	}
	return out
}

// rewriteFilter is createRewriteFilter plus what route.go does with it
// under gateway semantics: a prefix replaced by "/" removes it (the regex
// "^<prefix>(/?)(.*)" to "/\2"); any other replacement of a path-element
// prefix becomes a regex rewrite of that prefix, which is what Envoy's
// prefix_rewrite does after a path_separated_prefix match.
func rewriteFilter(rep *reporter, fp string, f *HTTPURLRewriteFilter, gr *genRule) *HTTPRewrite {
	out := &HTTPRewrite{}
	if f.Hostname != nil {
		out.Authority = *f.Hostname
	}
	if pm := f.Path; pm != nil {
		switch pm.Type {
		case "ReplaceFullPath":
			if pm.ReplaceFullPath == nil {
				rep.errorf(fp+".path.replaceFullPath", "is required for type ReplaceFullPath")
				break
			}
			out.URIRegexRewrite = &RegexRewrite{Match: "/.*", Rewrite: *pm.ReplaceFullPath}
		case "ReplacePrefixMatch":
			if pm.ReplacePrefixMatch == nil {
				rep.errorf(fp+".path.replacePrefixMatch", "is required for type ReplacePrefixMatch")
				break
			}
			if gr.rank != 2 {
				rep.errorf(fp+".path", "ReplacePrefixMatch needs a PathPrefix match")
				break
			}
			uri := strings.TrimSuffix(*pm.ReplacePrefixMatch, "/")
			if uri == "" {
				uri = "/"
			}
			switch {
			case uri == "/":
				out.URIRegexRewrite = &RegexRewrite{Match: "^" + regexp.QuoteMeta(gr.prefix) + `(/?)(.*)`, Rewrite: `/\2`}
			case gr.prefix != "":
				out.URIRegexRewrite = &RegexRewrite{Match: "^" + regexp.QuoteMeta(gr.prefix), Rewrite: uri}
			default:
				out.URI = uri // prefix "/": Envoy's plain prefix_rewrite
			}
		default:
			rep.errorf(fp+".path.type", "must be ReplaceFullPath or ReplacePrefixMatch, not %q", pm.Type)
		}
	}
	if out.URI == "" && out.URIRegexRewrite == nil && out.Authority == "" {
		return nil
	}
	return out
}

// backend is buildDestination for a Service: host
// <name>.<namespace>.svc.cluster.local and the port, which is required.
func (d *Document) backend(rep *reporter, bp, rns string, group, kind *string, name, ns string, port *uint32) (Destination, bool) {
	g, k := "", "Service"
	if group != nil {
		g = *group
	}
	if kind != nil {
		k = *kind
	}
	if (g != "" && g != "core") || k != "Service" {
		rep.errorf(bp+".kind", "backends other than Services (%s %q) are not implemented by Faultline", k, g)
		return Destination{}, false
	}
	if name == "" || strings.Contains(name, ".") {
		rep.errorf(bp+".name", "must be the name of a Service, not a host name: %q", name)
		return Destination{}, false
	}
	if port == nil || *port == 0 {
		rep.errorf(bp+".port", "is required in a backendRef to a Service")
		return Destination{}, false
	}
	if ns != "" && ns != rns {
		// istiod refuses it without a ReferenceGrant from that namespace.
		rep.errorf(bp+".namespace", "a backend in another namespace (%s) is not implemented by Faultline (behind a Gateway istiod also needs a ReferenceGrant for it): put the route in namespace %s", ns, ns)
		return Destination{}, false
	}
	ns = rns
	return Destination{Host: name + "." + ns + ".svc.cluster.local", Port: &PortSelector{Number: *port}}, true
}

// backendMissing says why a backend has no cluster here: its host has no
// endpoints, or its port is not one of the host's; "" when it has one (or
// is resolved elsewhere: an environment, a mesh). istiod keeps such a
// backend's destination (buildDestination reports the backend not found
// and returns it), and Envoy finds no cluster for it.
func (d *Document) backendMissing(dst Destination) string {
	if d.unresolved() {
		return ""
	}
	if !d.knownHost(dst.Host, DefaultNamespace) {
		return dst.Host + " is bound to no endpoints"
	}
	if ports, ok := d.hostPorts(dst.Host); ok && !slices.Contains(ports, dst.Port.Number) {
		return fmt.Sprintf("%d is not a port of %s (ports %v)", dst.Port.Number, dst.Host, ports)
	}
	return ""
}

// hostPorts lists the ports spec.services and ServiceEntries give a host
// (an FQDN); ok is false when neither names it.
func (d *Document) hostPorts(fqdn string) (ports []uint32, ok bool) {
	services := d.Experiment.Spec.Services
	if d.env != nil {
		services = append(slices.Clone(services), d.env.Experiment.Spec.Services...)
	}
	for _, s := range services {
		if FQDN(s.Host, DefaultNamespace) == fqdn {
			ports, ok = append(ports, s.Port), true
		}
	}
	for _, se := range d.ServiceEntries {
		for _, h := range se.Spec.Hosts {
			if FQDN(h, se.Metadata.Namespace) == fqdn {
				ok = true
				for _, p := range se.Spec.Ports {
					ports = append(ports, p.Number)
				}
			}
		}
	}
	return ports, ok
}

// refuseGatewayAPI reports Gateway API documents in an environment's
// stream, which Faultline translates for experiments only.
func (d *Document) refuseGatewayAPI(problems *Problems) {
	for _, g := range d.KubeGateways {
		d.reporter(g, "Gateway "+g.Metadata.Name, problems).errorf("apiVersion", "Gateway API resources are translated in experiments only, not in an environment's baseline: write the baseline's ingress as an Istio Gateway and VirtualService")
	}
	for _, r := range d.HTTPRoutes {
		d.reporter(r, "HTTPRoute "+r.Metadata.Name, problems).errorf("apiVersion", "Gateway API resources are translated in experiments only, not in an environment's baseline: write the baseline's ingress as an Istio Gateway and VirtualService")
	}
}

// addGatewayAPI returns the value a Gateway API document of kind decodes
// into, added to the document; nil (with an error) for other kinds.
func (d *Document) addGatewayAPI(kind string, rep *reporter) any {
	switch kind {
	case "Gateway":
		g := &KubeGateway{}
		d.KubeGateways = append(d.KubeGateways, g)
		return g
	case "HTTPRoute":
		r := &KubeHTTPRoute{}
		d.HTTPRoutes = append(d.HTTPRoutes, r)
		return r
	}
	if kind == "TLSRoute" || kind == "TCPRoute" {
		rep.errorf("kind", "%s is not implemented by Faultline: a Gateway's TLS listener is opened, but no route attaches to it; route TLS with an Istio Gateway and a VirtualService's tls or tcp routes", kind)
		return nil
	}
	rep.errorf("kind", "must be Gateway or HTTPRoute for apiVersion gateway.networking.k8s.io (Faultline does not implement %s), not %q", kind, kind)
	return nil
}
