package proxy

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Compile turns a parsed experiment into a route table. It is pure: it opens
// nothing and dials nothing. Everything that can be wrong at run time is
// checked here: regexes compile, every dial target passes
// Options.AllowTarget, no host needs DNS, every feature is implemented.
// gatewayAddr resolves the listener address of a Gateway server port; it
// is needed only when spec.services binds a host to a gateway (nil is
// allowed otherwise). Errors are a *CompileError listing every problem.
func Compile(doc *scenarios.Document, opts Options, gatewayAddr func(gateway string, port uint32) (string, bool)) (*Table, error) {
	return compile(doc, opts, gatewayAddr, newRegistry())
}

// listenerSpec is a listener a document asks for.
type listenerSpec struct {
	Listener
	servers []*scenarios.Server
	gw      *scenarios.Gateway
}

// meshListener is the name of the sidecar listener.
const meshListener = scenarios.MeshGateway

// listenerSpecs lists the mesh listener and one listener per Gateway
// server port (servers of one Gateway on one port share a listener, as
// Envoy merges them), in document order. The first server of a port
// decides the listener's protocol.
func listenerSpecs(doc *scenarios.Document) []listenerSpec {
	out := []listenerSpec{{Listener: Listener{Name: meshListener, Kind: KindMesh, Protocol: ProtocolHTTP}}}
	index := map[string]int{}
	for _, gw := range doc.Gateways {
		for i := range gw.Spec.Servers {
			s := &gw.Spec.Servers[i]
			name := gw.Metadata.Name + ":" + strconv.FormatUint(uint64(s.Port.Number), 10)
			if j, ok := index[name]; ok {
				out[j].servers = append(out[j].servers, s)
				continue
			}
			index[name] = len(out)
			out = append(out, listenerSpec{
				Listener: Listener{Name: name, Kind: KindGateway, Gateway: gw.Metadata.Name, Port: s.Port.Number, Protocol: serverProtocol(s)},
				servers:  []*scenarios.Server{s},
				gw:       gw,
			})
		}
	}
	return out
}

// builder holds the state of one compilation.
type builder struct {
	doc         *scenarios.Document
	opts        Options
	log         *slog.Logger
	gatewayAddr func(string, uint32) (string, bool)
	reg         *registry
	defaults    scenarios.Defaults
	problems    scenarios.Problems
	seen        map[string]bool // problem dedup (routes compile once per listener)

	services map[string]*service
	svcOrder []string
	clusters map[string]*cluster
	allowed  map[string]error
	routes   map[vsListener][]*routeEntry
	// meshTLS are the mesh's SNI tables, by port (tcp_compile.go).
	meshTLS map[uint32]*l4Table
	// faulted names the services some route with a fault sends to
	// (Table.Faulted).
	faulted map[string]bool
	// ownCA signs gateway certificates when Options.CA is nil
	// (tls_gateway.go).
	ownCA *CA
	// warnings are what the table does differently from what the
	// document asks, each naming its field (Table.Warnings).
	warnings scenarios.Problems
	// unusable maps the clusters that can take no request here (503 UH,
	// or 503 NC for a port the host lacks) to the warning saying why
	// (unusable.go).
	unusable map[string]scenarios.Problem
	// unbound are the destination hosts no service binds: each gets
	// clusters without endpoints, and no virtual host.
	unbound map[string]*service
}

type vsListener struct {
	vs       *scenarios.VirtualService
	listener string
}

// service is a registry entry: a host and, per port, its endpoints or
// the gateway that serves it.
type service struct {
	fqdn    string
	ports   []uint32
	eps     map[uint32][]epSpec
	gateway map[uint32]string
	where   map[uint32]string // problem label of the binding
	bound   bool              // bound in the Experiment's spec.services
	// name is the host as first bound ("reviews"): the service's name in
	// the service graph and in Table.Faulted.
	name string
	node *graphNode // its service graph node; nil without a graph
	// refused holds, per port, why the port has no endpoint the proxy
	// may dial (DNS resolution, passthrough, the allow-list): its
	// clusters answer 503 UH.
	refused map[uint32]scenarios.Problem
}

type epSpec struct {
	addr   string
	labels map[string]string
}

func (s *service) hasPort(p uint32) bool { return slices.Contains(s.ports, p) }

func (s *service) addPort(p uint32) {
	if !s.hasPort(p) {
		s.ports = append(s.ports, p)
		slices.Sort(s.ports)
	}
}

// listenerCtx is the listener routes are being compiled for.
type listenerCtx struct {
	name    string
	mesh    bool
	gateway string
	port    uint32
}

func compile(doc *scenarios.Document, opts Options, gatewayAddr func(string, uint32) (string, bool), reg *registry) (*Table, error) {
	if doc == nil || doc.Experiment == nil {
		return nil, &CompileError{Problems: scenarios.Problems{{Severity: scenarios.SeverityError, Message: "the document holds no Experiment"}}}
	}
	doc = routingDoc(doc, opts.logger())
	b := &builder{
		doc:         doc,
		opts:        opts,
		log:         opts.logger(),
		gatewayAddr: gatewayAddr,
		reg:         reg,
		defaults:    doc.Istio.Defaults(),
		seen:        map[string]bool{},
		services:    map[string]*service{},
		clusters:    map[string]*cluster{},
		allowed:     map[string]error{},
		routes:      map[vsListener][]*routeEntry{},
		meshTLS:     map[uint32]*l4Table{},
		faulted:     map[string]bool{},
		unusable:    map[string]scenarios.Problem{},
		unbound:     map[string]*service{},
	}
	if b.defaults.DefaultLoadBalancer == "" {
		b.defaults = scenarios.CurrentIstio.Defaults()
	}
	b.buildServices()
	b.graphNodes()
	b.checkDestinationRules()
	t := &Table{clusters: b.clusters, seed: uint64(opts.Seed), reg: reg, faulted: b.faulted, connect: b.connectTargets()}
	t.meshTLS = b.meshTLSTables()
	for _, spec := range listenerSpecs(doc) {
		_, id := reg.listener(spec.Name)
		var lt *listenerTable
		switch {
		case spec.Name == meshListener:
			lt = b.meshListener()
		case !servesHTTP(spec.Protocol):
			lt = b.gatewayL4Listener(spec)
		default:
			lt = b.gatewayListener(spec)
		}
		lt.salt = hashString(spec.Name)
		for len(t.listeners) <= id {
			t.listeners = append(t.listeners, nil)
		}
		t.listeners[id] = lt
		t.names = append(t.names, spec.Name)
	}
	if len(b.problems) > 0 {
		return nil, &CompileError{Problems: b.problems, Warnings: b.warnings}
	}
	t.report = compileReport{warnings: b.warnings, unusable: b.unusable}
	for _, c := range b.clusters {
		c.stats.membershipSize.Store(int64(len(c.endpoints)))
	}
	t.sources = b.graphSources()
	reg.adopt(b.clusters)
	return t, nil
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (b *builder) errorf(doc, path, format string, args ...any) {
	p := scenarios.Problem{Severity: scenarios.SeverityError, Document: doc, Path: path, Message: fmt.Sprintf(format, args...)}
	if k := p.String(); !b.seen[k] {
		b.seen[k] = true
		b.problems = append(b.problems, p)
	}
}

// warnf logs a warning and keeps it for Table.Warnings; a message that
// starts "<Kind> <name> <path>: " or "<Kind> <name>: " is kept with that
// document and path.
func (b *builder) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !b.seen["warn:"+msg] {
		b.seen["warn:"+msg] = true
		b.log.Warn("proxy: " + msg)
		b.warnings = append(b.warnings, warningProblem(msg))
	}
}

// warnAt logs and keeps a warning about the field path of the document
// labelled doc ("ServiceEntry external"); it returns the warning.
func (b *builder) warnAt(doc, path, format string, args ...any) scenarios.Problem {
	p := scenarios.Problem{Severity: scenarios.SeverityWarning, Document: doc, Path: path, Message: fmt.Sprintf(format, args...)}
	if k := "warn:" + p.String(); !b.seen[k] {
		b.seen[k] = true
		b.log.Warn("proxy: " + p.String())
		b.warnings = append(b.warnings, p)
	}
	return p
}

func namespace(md scenarios.ObjectMeta) string {
	if md.Namespace == "" {
		return scenarios.DefaultNamespace
	}
	return md.Namespace
}

func (b *builder) service(fqdn string) *service {
	s, ok := b.services[fqdn]
	if !ok {
		s = &service{fqdn: fqdn, eps: map[uint32][]epSpec{}, gateway: map[uint32]string{}, where: map[uint32]string{}}
		b.services[fqdn] = s
		b.svcOrder = append(b.svcOrder, fqdn)
	}
	return s
}

// allow checks a dial target against Options.AllowTarget once.
func (b *builder) allow(addr string) error {
	if err, ok := b.allowed[addr]; ok {
		return err
	}
	var err error
	if b.opts.AllowTarget != nil {
		err = b.opts.AllowTarget(addr)
	} else {
		err = loopbackOnly(addr)
	}
	b.allowed[addr] = err
	return err
}

// loopbackOnly is the default dial policy: 127.0.0.0/8, ::1 and localhost.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	if scenarios.IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("only loopback addresses (127.0.0.0/8, ::1) are allowed")
}

// buildServices fills the registry: spec.services bindings first (they
// win), then ServiceEntry hosts.
func (b *builder) buildServices() {
	exp := b.doc.Experiment
	expLabel := "Experiment " + exp.Metadata.Name
	for i, s := range exp.Spec.Services {
		path := fmt.Sprintf("spec.services[%d]", i)
		fq := scenarios.FQDN(s.Host, scenarios.DefaultNamespace)
		port := s.Port
		if port == 0 {
			port = 80
		}
		svc := b.service(fq)
		svc.bound = true
		if svc.name == "" {
			svc.name = s.Host
		}
		svc.addPort(port)
		svc.where[port] = path
		if s.Gateway != "" {
			svc.gateway[port] = s.Gateway
			continue
		}
		if len(s.Endpoints) == 0 {
			b.errorf(expLabel, path+".endpoints", "%s has no endpoints", s.Host)
		}
		for j, ep := range s.Endpoints {
			ep := ep
			ip := fmt.Sprintf("%s.endpoints[%d]", path, j)
			if ep.Address == "" {
				b.errorf(expLabel, ip+".address", "is empty: demo and container endpoints must be given an address before the proxy is compiled")
				continue
			}
			if err := b.allow(ep.Address); err != nil {
				b.errorf(expLabel, ip+".address", "dial target %s is not allowed: %v", ep.Address, err)
				continue
			}
			svc.eps[port] = append(svc.eps[port], epSpec{addr: ep.Address, labels: ep.Labels})
		}
	}
	for _, se := range b.doc.ServiceEntries {
		label := "ServiceEntry " + se.Metadata.Name
		ns := namespace(se.Metadata)
		for j, h := range se.Spec.Hosts {
			path := fmt.Sprintf("spec.hosts[%d]", j)
			fq := scenarios.FQDN(h, ns)
			if strings.HasPrefix(fq, "*") {
				b.warnAt(label, path, "wildcard host %s is not served: it would need DNS or passthrough, which Faultline never does, so a request to a host it matches gets 502 (block_all) unless the Experiment's spec.services binds that host", h)
				continue
			}
			svc := b.service(fq)
			if svc.name == "" {
				svc.name = h
			}
			bound := svc.bound
			var first uint32
			if bound {
				first = svc.ports[0]
			}
			for k, sp := range se.Spec.Ports {
				if sp.Number == 0 {
					continue
				}
				if _, ok := svc.where[sp.Number]; ok {
					continue // bound in spec.services for this port
				}
				svc.addPort(sp.Number)
				if bound {
					// The binding of another port serves this one too.
					svc.where[sp.Number] = svc.where[first]
					if gw, ok := svc.gateway[first]; ok {
						svc.gateway[sp.Number] = gw
					} else {
						svc.eps[sp.Number] = svc.eps[first]
					}
					continue
				}
				svc.where[sp.Number] = fmt.Sprintf("%s spec.ports[%d]", label, k)
				b.serviceEntryEndpoints(se, label, h, svc, sp)
			}
		}
	}
}

// serviceEntryEndpoints takes a ServiceEntry's own endpoints for a host not
// bound in spec.services: STATIC addresses (and DNS entries whose endpoints
// are IP literals) on the allow-list. What would resolve a name, forward to
// the original destination or dial off the allow-list is left out with a
// warning, as Envoy leaves out what it cannot reach: a port left with no
// endpoint answers 503 UH (see refuse), and the proxy never dials it.
func (b *builder) serviceEntryEndpoints(se *scenarios.ServiceEntry, label, host string, svc *service, sp scenarios.ServicePort) {
	res := strings.ToUpper(se.Spec.Resolution)
	switch res {
	case "STATIC", "DNS", "DNS_ROUND_ROBIN":
	default:
		if res == "" {
			res = "NONE"
		}
		b.refuse(svc, sp.Number, b.warnAt(label, "spec.resolution", "resolution %s forwards %s to its original destination, which Faultline never dials: requests to %s get 503 UH unless the Experiment's spec.services binds it", res, host, host))
		return
	}
	if len(se.Spec.Endpoints) == 0 {
		if se.Spec.WorkloadSelector != nil {
			return // no workloads to select: the host has no endpoint (503 UH); the validator warns
		}
		b.refuse(svc, sp.Number, b.warnAt(label, "spec.resolution", "resolution %s resolves %s by DNS, which Faultline never does: requests to %s get 503 UH unless the Experiment's spec.services binds it", res, host, host))
		return
	}
	var why scenarios.Problem
	for i, we := range se.Spec.Endpoints {
		path := fmt.Sprintf("spec.endpoints[%d].address", i)
		if strings.HasPrefix(we.Address, "unix://") {
			continue // not dialled: the validator warns
		}
		if net.ParseIP(we.Address) == nil {
			if res == "STATIC" {
				b.errorf(label, path, "STATIC endpoints must be IP addresses, not %q", we.Address)
			} else {
				why = b.warnAt(label, path, "%s would be resolved by DNS, which Faultline never does: the endpoint is left out of %s (503 UH when it has no other)", we.Address, host)
			}
			continue
		}
		port := sp.Number
		if sp.TargetPort != 0 {
			port = sp.TargetPort
		}
		if p, ok := we.Ports[sp.Name]; ok && p != 0 {
			port = p
		}
		addr := net.JoinHostPort(we.Address, strconv.FormatUint(uint64(port), 10))
		if err := b.allow(addr); err != nil {
			why = b.warnAt(label, path, "dial target %s is not allowed (%v): the endpoint is left out of %s, and the proxy never dials it (503 UH when it has no other)", addr, err, host)
			continue
		}
		svc.eps[sp.Number] = append(svc.eps[sp.Number], epSpec{addr: addr, labels: we.Labels})
	}
	if len(svc.eps[sp.Number]) == 0 && why.Message != "" {
		b.refuse(svc, sp.Number, why)
	}
}

// destinationRules returns the DestinationRules for a host in lookup
// order: exact host first, then wildcard hosts, longest first.
func (b *builder) destinationRules(fqdn string) []*scenarios.DestinationRule {
	var exact, wild []*scenarios.DestinationRule
	for _, dr := range b.doc.DestinationRules {
		h := scenarios.FQDN(dr.Spec.Host, namespace(dr.Metadata))
		switch {
		case h == fqdn:
			exact = append(exact, dr)
		case h == "*" || strings.HasPrefix(h, "*") && strings.HasSuffix(fqdn, h[1:]):
			wild = append(wild, dr)
		}
	}
	slices.SortStableFunc(wild, func(a, c *scenarios.DestinationRule) int { return len(c.Spec.Host) - len(a.Spec.Host) })
	return append(exact, wild...)
}

// lbPolicies are the loadBalancer.simple values the proxy takes.
// PASSTHROUGH (Envoy's ORIGINAL_DST: the address the client dialled) is
// balanced as the default over the host's bound endpoints, the addresses
// the experiment names for it: the proxy dials no other (the validator
// warns).
var lbPolicies = map[string]bool{"": true, "UNSPECIFIED": true, "ROUND_ROBIN": true, "RANDOM": true, "LEAST_REQUEST": true, "LEAST_CONN": true, "PASSTHROUGH": true}

// checkDestinationRules reports policies the proxy cannot honour, whether
// or not a route uses them.
func (b *builder) checkDestinationRules() {
	checkBlocks := func(label, path string, lb *scenarios.LoadBalancerSettings, cp *scenarios.ConnectionPool, tls *scenarios.ClientTLSSettings) {
		if lb != nil && !lbPolicies[lb.Simple] {
			b.errorf(label, path+".loadBalancer.simple", "must be one of ROUND_ROBIN, RANDOM, LEAST_REQUEST, LEAST_CONN, PASSTHROUGH, not %q", lb.Simple)
		}
		if tls != nil {
			switch strings.ToUpper(tls.Mode) {
			case "", "DISABLE", "ISTIO_MUTUAL", "SIMPLE", "MUTUAL":
				// ISTIO_MUTUAL is the mesh's own mTLS: real mTLS to a
				// gateway listener of Faultline's, plain text to other
				// targets (tls_mesh.go). SIMPLE and MUTUAL originate TLS
				// (upstream_tls.go).
			default:
				b.errorf(label, path+".tls.mode", "TLS origination (%s) is not implemented by Faultline", tls.Mode)
			}
		}
		if cp != nil && cp.HTTP != nil && strings.EqualFold(cp.HTTP.H2UpgradePolicy, "UPGRADE") {
			b.warnAt(label, path+".connectionPool.http.h2UpgradePolicy", "UPGRADE (HTTP/2 to the endpoints) is not implemented by Faultline: it speaks HTTP/1.1 upstream")
		}
	}
	check := func(label, path string, tp *scenarios.TrafficPolicy) {
		if tp == nil {
			return
		}
		checkBlocks(label, path, tp.LoadBalancer, tp.ConnectionPool, tp.TLS)
		for i := range tp.PortLevelSettings {
			pl := &tp.PortLevelSettings[i]
			checkBlocks(label, fmt.Sprintf("%s.portLevelSettings[%d]", path, i), pl.LoadBalancer, pl.ConnectionPool, pl.TLS)
		}
	}
	for _, dr := range b.doc.DestinationRules {
		label := "DestinationRule " + dr.Metadata.Name
		check(label, "spec.trafficPolicy", dr.Spec.TrafficPolicy)
		for i := range dr.Spec.Subsets {
			check(label, fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), dr.Spec.Subsets[i].TrafficPolicy)
		}
	}
}

func clusterName(port uint32, subset, fqdn string) string {
	return "outbound|" + strconv.FormatUint(uint64(port), 10) + "|" + subset + "|" + fqdn
}

// cluster returns the cluster of a service port and subset, building it
// once. missing reports a subset no DestinationRule defines (503 NC).
func (b *builder) cluster(svc *service, port uint32, subset string) (c *cluster, missing bool) {
	name := clusterName(port, subset, svc.fqdn)
	if c, ok := b.clusters[name]; ok {
		return c, false
	}
	drs := b.destinationRules(svc.fqdn)
	var top, sub policySource
	found := subset == ""
	for _, dr := range drs {
		label := "DestinationRule " + dr.Metadata.Name
		if top.tp == nil && dr.Spec.TrafficPolicy != nil {
			top = policySource{tp: dr.Spec.TrafficPolicy, label: label, path: "spec.trafficPolicy"} // the first top-level policy wins
		}
		for i := range dr.Spec.Subsets {
			if !found && dr.Spec.Subsets[i].Name == subset {
				found = true // the first definition of a subset wins
				sub = policySource{tp: dr.Spec.Subsets[i].TrafficPolicy, label: label,
					path: fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), labels: dr.Spec.Subsets[i].Labels}
			}
		}
	}
	if !found {
		return nil, true
	}
	var eps []epSpec
	if gw, ok := svc.gateway[port]; ok {
		addr, found := "", false
		if b.gatewayAddr != nil {
			addr, found = b.gatewayAddr(gw, port)
		}
		if !found {
			b.errorf("Experiment "+b.doc.Name(), svc.where[port]+".gateway", "Gateway %s has no listener on port %d for %s", gw, port, svc.fqdn)
		} else if err := b.allow(addr); err != nil {
			b.errorf("Experiment "+b.doc.Name(), svc.where[port]+".gateway", "dial target %s is not allowed: %v", addr, err)
		} else {
			eps = []epSpec{{addr: addr}}
		}
	} else {
		eps = svc.eps[port]
	}
	var members []epSpec
	for _, ep := range eps {
		if subset == "" || labelsMatch(ep.labels, sub.labels) {
			members = append(members, ep)
		}
	}
	// The cluster's DestinationRule policy (policy.go): DR level, port
	// level, subset, each block replaced as a whole.
	pol := resolvePolicy(top, sub, port)
	pool, od, lb := b.poolConfig(pol.cp), b.outlierConfig(pol.od), b.lbConfig(pol.lb)
	if b.credentialsMissing(pol.tls) {
		b.warnAt(pol.tls.label, pol.tls.path+credentialField(pol.tls.v), "names credentials, and no credentials directory is configured (--credentials-dir): the proxy originates TLS to %s without a client certificate, verifying the server against the system's roots", svc.name)
		pol.tls.v = withoutCredentials(pol.tls.v)
	}
	if why, refused := svc.refused[port]; refused {
		b.unusable[name] = why
	}
	up := b.clusterTLS(pol.tls, svc, port, name)
	st := b.reg.cluster(name)
	fp := fingerprint(members, pool, od, lb)
	if up != nil {
		fp += "|tls:" + up.fp
	}
	rt := b.reg.runtime(name, fp)
	if rt == nil {
		rt = newClusterRuntime(name, fp, members, pool, od, lb, st, b.opts.clock())
		rt.transport.tls = up
	}
	c = &cluster{name: name, stats: st, rt: rt, endpoints: rt.endpoints, transport: rt.transport, breaker: rt.breaker}
	switch {
	case lb.hash != nil:
		c.lb = consistentHash{lb.hash}
	case lb.simple == "ROUND_ROBIN":
		c.lb = &roundRobin{}
	case lb.simple == "RANDOM":
		c.lb = random{}
	default: // LEAST_REQUEST
		c.lb = leastRequest{}
	}
	b.clusters[name] = c
	return c, false
}

// labelsMatch reports whether have is a superset of want.
func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// addDomain claims a domain on a listener for vh; the first claim wins.
func (lt *listenerTable) addDomain(domain string, vh *vhost) bool {
	domain = strings.ToLower(domain)
	switch {
	case domain == "*":
		if lt.star != nil {
			return false
		}
		lt.star = vh
	case strings.HasPrefix(domain, "*"):
		affix := domain[1:]
		for _, w := range lt.suffix {
			if w.affix == affix {
				return false
			}
		}
		lt.suffix = append(lt.suffix, wildDomain{affix: affix, vh: vh})
		slices.SortStableFunc(lt.suffix, func(a, c wildDomain) int { return len(c.affix) - len(a.affix) })
	case strings.HasSuffix(domain, "*"):
		affix := domain[:len(domain)-1]
		for _, w := range lt.prefix {
			if w.affix == affix {
				return false
			}
		}
		lt.prefix = append(lt.prefix, wildDomain{affix: affix, vh: vh})
		slices.SortStableFunc(lt.prefix, func(a, c wildDomain) int { return len(c.affix) - len(a.affix) })
	default:
		if _, ok := lt.exact[domain]; ok {
			return false
		}
		lt.exact[domain] = vh
	}
	return true
}

// meshDomains are the names a sidecar accepts for a service: the FQDN and
// the short forms istiod generates for a client in the default namespace.
func meshDomains(fqdn string) []string {
	out := []string{fqdn}
	if base, ok := strings.CutSuffix(fqdn, ".svc.cluster.local"); ok {
		name, ns, ok := strings.Cut(base, ".")
		if ok && !strings.Contains(ns, ".") {
			out = append(out, name+"."+ns+".svc", name+"."+ns)
			if ns == scenarios.DefaultNamespace {
				out = append(out, name)
			}
		}
	}
	return out
}

func appliesToMesh(gateways []string) bool {
	return len(gateways) == 0 || slices.Contains(gateways, scenarios.MeshGateway)
}

// namesGateway reports whether a gateways list names gw (bare or ns/name).
func namesGateway(gateways []string, gw string) bool {
	for _, g := range gateways {
		if _, n, ok := strings.Cut(g, "/"); ok {
			g = n
		}
		if g == gw {
			return true
		}
	}
	return false
}

func (lc listenerCtx) applies(gateways []string) bool {
	if lc.mesh {
		return appliesToMesh(gateways)
	}
	return namesGateway(gateways, lc.gateway)
}

// meshListener builds the sidecar listener: a vhost per known service
// (routes of the VirtualService for its host, else Istio's default route),
// a vhost per other VirtualService host, and block_all for the rest.
func (b *builder) meshListener() *listenerTable {
	lt := &listenerTable{name: meshListener, mesh: true, server: valEnvoy, exact: map[string]*vhost{}, blockAll: true}
	lc := listenerCtx{name: meshListener, mesh: true}
	var meshVS []*scenarios.VirtualService
	for _, vs := range b.doc.VirtualServices {
		if appliesToMesh(vs.Spec.Gateways) {
			meshVS = append(meshVS, vs)
		}
	}
	claimed := map[string]*scenarios.VirtualService{} // host FQDN -> VS that owns it
	for _, vs := range meshVS {
		ns := namespace(vs.Metadata)
		for i, h := range vs.Spec.Hosts {
			fq := scenarios.FQDN(h, ns)
			if fq == "*" {
				b.errorf("VirtualService "+vs.Metadata.Name, fmt.Sprintf("spec.hosts[%d]", i), "wildcard host * is not allowed for virtual services bound to the mesh gateway")
				continue
			}
			if owner, ok := claimed[fq]; ok && owner != vs {
				b.warnf("VirtualService %s: host %s is already routed by VirtualService %s; on the mesh only one VirtualService per host applies (Istio sidecar behaviour)", vs.Metadata.Name, h, owner.Metadata.Name)
				continue
			}
			claimed[fq] = vs
		}
	}
	for _, fq := range b.svcOrder {
		svc := b.services[fq]
		vh := &vhost{name: fq, node: svc.node}
		if len(svc.ports) == 1 {
			vh.servicePort = svc.ports[0]
		}
		vs := claimed[fq]
		if vs == nil {
			vs = wildcardOwner(claimed, fq)
		}
		if vs != nil {
			vh.routes = b.vsRoutes(vs, lc)
		} else {
			vh.routes = []*routeEntry{b.defaultRoute(svc)}
		}
		for _, d := range meshDomains(fq) {
			lt.addDomain(d, vh)
		}
	}
	// VirtualService hosts that name no service still get their vhost.
	for _, vs := range meshVS {
		ns := namespace(vs.Metadata)
		for _, h := range vs.Spec.Hosts {
			fq := scenarios.FQDN(h, ns)
			if claimed[fq] != vs || b.services[fq] != nil {
				continue
			}
			vh := &vhost{name: fq, routes: b.vsRoutes(vs, lc)}
			if !strings.Contains(fq, "*") {
				for _, d := range meshDomains(fq) {
					lt.addDomain(d, vh)
				}
			} else {
				lt.addDomain(fq, vh)
			}
		}
	}
	return lt
}

// wildcardOwner finds the VirtualService whose wildcard host covers fqdn
// most specifically.
func wildcardOwner(claimed map[string]*scenarios.VirtualService, fqdn string) *scenarios.VirtualService {
	best, bestLen := (*scenarios.VirtualService)(nil), -1
	for h, vs := range claimed {
		if strings.HasPrefix(h, "*") && len(h) > 1 && strings.HasSuffix(fqdn, h[1:]) && len(h) > bestLen {
			best, bestLen = vs, len(h)
		}
	}
	return best
}

// defaultRoute is Istio's route for a service no VirtualService routes:
// named "default", to the service's port cluster.
func (b *builder) defaultRoute(svc *service) *routeEntry {
	d := &destination{weight: 1, service: svc.name, node: svc.node}
	if len(svc.ports) == 1 {
		d.cluster, _ = b.cluster(svc, svc.ports[0], "")
		d.name = d.cluster.name
	} else {
		for _, p := range svc.ports {
			c, _ := b.cluster(svc, p, "")
			d.byPort = append(d.byPort, portCluster{port: p, c: c})
		}
		d.name = clusterName(0, "", svc.fqdn)
	}
	r := &rule{kind: actionForward, weighted: only(d), retry: b.retryPolicy("", "", nil, 0), node: svc.node}
	return &routeEntry{rule: r, prefix: "/", name: "default"}
}

// gatewayListener builds a Gateway server port's listener: vhosts are the
// intersections of server hosts and bound VirtualService hosts.
func (b *builder) gatewayListener(spec listenerSpec) *listenerTable {
	gw := spec.gw
	label := "Gateway " + gw.Metadata.Name
	lt := &listenerTable{name: spec.Name, gateway: gw.Metadata.Name, port: spec.Port, server: valIstioEnvoy, exact: map[string]*vhost{}}
	lc := listenerCtx{name: spec.Name, gateway: gw.Metadata.Name, port: spec.Port}
	gwNS := namespace(gw.Metadata)
	b.checkServers(spec)
	if spec.Protocol == ProtocolHTTPS {
		lt.tls = b.gatewayTLS(spec)
	}
	for i := range gw.Spec.Servers {
		s := &gw.Spec.Servers[i]
		if s.Port.Number != spec.Port || !servesHTTP(serverProtocol(s)) {
			continue
		}
		switch strings.ToUpper(s.Port.Protocol) {
		case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		case "HTTPS", "TLS":
			if !terminatesTLS(s) && !meshMTLS(s) {
				b.errorf(label, fmt.Sprintf("spec.servers[%d].tls.mode", i), "%s is not implemented by Faultline", s.TLS.Mode)
			}
			continue
		default:
			b.errorf(label, fmt.Sprintf("spec.servers[%d].port.protocol", i), "protocol %q is not implemented by Faultline", s.Port.Protocol)
		}
		if s.TLS != nil && s.TLS.Mode != "" {
			b.errorf(label, fmt.Sprintf("spec.servers[%d].tls.mode", i), "TLS termination is not implemented by Faultline")
		}
	}
	byDomain := map[string]*vhost{}
	var order []string
	added := map[string]map[*scenarios.VirtualService]bool{}
	for _, s := range spec.servers {
		for _, sh := range s.Hosts {
			nsPart, host, ok := strings.Cut(sh, "/")
			if !ok {
				nsPart, host = "*", sh
			}
			host = strings.ToLower(host)
			for _, vs := range b.doc.VirtualServices {
				if !namesGateway(vs.Spec.Gateways, gw.Metadata.Name) {
					continue
				}
				vsNS := namespace(vs.Metadata)
				if nsPart != "*" && !(nsPart == "." && vsNS == gwNS) && nsPart != vsNS {
					continue
				}
				for _, vh := range vs.Spec.Hosts {
					d := intersectHosts(host, scenarios.FQDN(vh, vsNS))
					if d == "" {
						continue
					}
					v, ok := byDomain[d]
					if !ok {
						v = &vhost{name: d}
						byDomain[d] = v
						order = append(order, d)
						added[d] = map[*scenarios.VirtualService]bool{}
					}
					// On a listener that terminates TLS the request came
					// over TLS: Envoy's require_tls holds.
					if s.TLS != nil && s.TLS.HTTPSRedirect && spec.Protocol == ProtocolHTTP {
						v.requireTLS = true
					}
					if !added[d][vs] {
						added[d][vs] = true
						v.routes = append(v.routes, b.vsRoutes(vs, lc)...)
					}
				}
			}
		}
	}
	for _, d := range order {
		v := byDomain[d]
		// SortVHostRoutes: catch-all routes go last, keeping their order.
		slices.SortStableFunc(v.routes, func(a, c *routeEntry) int {
			ca, cc := a.match.catchAll(), c.match.catchAll()
			switch {
			case ca == cc:
				return 0
			case ca:
				return 1
			}
			return -1
		})
		lt.addDomain(d, v)
	}
	return lt
}

// intersectHosts is the gateway vhost rule: server host ∩ VirtualService
// host, "" when they do not overlap.
func intersectHosts(a, b string) string {
	switch {
	case a == "*":
		return b
	case b == "*":
		return a
	case a == b:
		return a
	}
	aw, bw := strings.HasPrefix(a, "*"), strings.HasPrefix(b, "*")
	switch {
	case aw && bw:
		if strings.HasSuffix(a[1:], b[1:]) {
			return a
		}
		if strings.HasSuffix(b[1:], a[1:]) {
			return b
		}
	case aw:
		if strings.HasSuffix(b, a[1:]) {
			return b
		}
	case bw:
		if strings.HasSuffix(a, b[1:]) {
			return a
		}
	}
	return ""
}

// vsRoutes compiles a VirtualService's http rules for one listener, in
// order, stopping after the first catch-all as istiod does.
func (b *builder) vsRoutes(vs *scenarios.VirtualService, lc listenerCtx) []*routeEntry {
	key := vsListener{vs: vs, listener: lc.name}
	if r, ok := b.routes[key]; ok {
		return r
	}
	label := "VirtualService " + vs.Metadata.Name
	vsGateways := vs.Spec.Gateways
	var out []*routeEntry
	for i := range vs.Spec.HTTP {
		h := &vs.Spec.HTTP[i]
		path := fmt.Sprintf("spec.http[%d]", i)
		var entries []*routeEntry
		catchAll := false
		if len(h.Match) == 0 {
			entries = append(entries, &routeEntry{prefix: "/", name: h.Name})
			catchAll = true
		}
		for j := range h.Match {
			m := &h.Match[j]
			gws := m.Gateways
			if len(gws) == 0 {
				gws = vsGateways
			}
			if !lc.applies(gws) {
				continue
			}
			if !lc.mesh && m.Port != 0 && m.Port != lc.port {
				continue
			}
			e := b.routeEntry(label, fmt.Sprintf("%s.match[%d]", path, j), m, lc)
			e.name = h.Name
			if m.Name != "" {
				e.name = h.Name + "." + m.Name
			}
			entries = append(entries, e)
			if e.match.catchAll() {
				catchAll = true
				break
			}
		}
		if len(entries) == 0 {
			continue
		}
		r := b.rule(label, path, vs, i, h, lc)
		for _, e := range entries {
			e.rule = r
		}
		out = append(out, entries...)
		if catchAll {
			break
		}
	}
	b.routes[key] = out
	return out
}

// routeEntry compiles one match block.
func (b *builder) routeEntry(label, path string, m *scenarios.HTTPMatchRequest, lc listenerCtx) *routeEntry {
	e := &routeEntry{prefix: "/"}
	if len(m.SourceLabels) > 0 {
		e.match.source = b.sourceMatch(m.SourceLabels, lc)
	}
	if m.SourceNamespace != "" {
		b.errorf(label, path+".sourceNamespace", "not implemented by Faultline: its listeners have no namespace")
	}
	if m.URI != nil {
		e.match.uri = b.strMatch(label, path+".uri", m.URI, m.IgnoreURICase)
		if e.match.uri != nil {
			switch e.match.uri.kind {
			case strPrefix:
				e.prefix = e.match.uri.value
			case strExact, strRegex:
				e.wholeURI = true
			}
		}
	}
	if m.Scheme != nil {
		e.match.scheme = b.strMatch(label, path+".scheme", m.Scheme, false)
	}
	if m.Method != nil {
		e.match.method = b.strMatch(label, path+".method", m.Method, false)
	}
	if m.Authority != nil {
		e.match.authority = b.strMatch(label, path+".authority", m.Authority, false)
	}
	e.match.headers = append(b.headerMatches(label, path+".headers", m.Headers, false),
		b.headerMatches(label, path+".withoutHeaders", m.WithoutHeaders, true)...)
	for _, k := range slices.Sorted(maps.Keys(m.QueryParams)) {
		sm := m.QueryParams[k]
		if c := b.strMatch(label, path+".queryParams."+k, &sm, false); c != nil {
			e.match.query = append(e.match.query, queryMatch{key: k, m: *c})
		}
	}
	if lc.mesh {
		e.match.port = m.Port
	}
	return e
}

func (b *builder) headerMatches(label, path string, hs map[string]scenarios.StringMatch, invert bool) []headerMatch {
	var out []headerMatch
	for _, k := range slices.Sorted(maps.Keys(hs)) {
		lk := strings.ToLower(k)
		switch {
		case lk == "uri" || lk == "scheme" || lk == "method" || lk == "authority":
			continue // Istio ignores these keys in a headers map
		case strings.HasPrefix(lk, "@request.auth.claims"):
			b.errorf(label, path+"."+k, "JWT claim matching is not implemented by Faultline")
			continue
		}
		sm := hs[k]
		if c := b.strMatch(label, path+"."+k, &sm, false); c != nil {
			out = append(out, headerMatch{key: http.CanonicalHeaderKey(lk), m: *c, invert: invert})
		}
	}
	return out
}

// strMatch compiles a StringMatch; {} and regex "*" are presence matches.
func (b *builder) strMatch(label, path string, sm *scenarios.StringMatch, fold bool) *strMatch {
	n := 0
	for _, p := range []*string{sm.Exact, sm.Prefix, sm.Regex} {
		if p != nil {
			n++
		}
	}
	switch {
	case n > 1:
		b.errorf(label, path, "set one of exact, prefix or regex")
		return nil
	case n == 0:
		return &strMatch{kind: strPresent}
	case sm.Exact != nil:
		return &strMatch{kind: strExact, value: *sm.Exact, foldCase: fold}
	case sm.Prefix != nil:
		return &strMatch{kind: strPrefix, value: *sm.Prefix, foldCase: fold}
	}
	if *sm.Regex == "*" {
		return &strMatch{kind: strPresent}
	}
	re, err := compileFullMatch(*sm.Regex)
	if err != nil {
		b.errorf(label, path+".regex", "invalid RE2 regex %q: %v", *sm.Regex, err)
		return nil
	}
	return &strMatch{kind: strRegex, re: re}
}

// compileFullMatch compiles an Envoy safe_regex, which must match the
// whole value (RE2::FullMatch).
func compileFullMatch(expr string) (*regexp.Regexp, error) {
	if len(expr) > 1024 {
		return nil, fmt.Errorf("longer than 1024 characters")
	}
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile("^(?:" + expr + ")$")
}

// rule compiles an HTTPRoute's action and policies for one listener.
func (b *builder) rule(label, path string, vs *scenarios.VirtualService, index int, h *scenarios.HTTPRoute, lc listenerCtx) *rule {
	r := &rule{stats: b.reg.route(routeKey{vs: vs.Metadata.Name, rule: index, name: h.Name})}
	actions := 0
	if len(h.Route) > 0 {
		actions++
	}
	if h.Redirect != nil {
		actions++
		r.kind = actionRedirect
	}
	if h.DirectResponse != nil {
		actions++
		r.kind = actionDirect
	}
	if actions != 1 {
		b.errorf(label, path, "set exactly one of route, redirect or directResponse")
		return r
	}
	if r.kind != actionForward {
		if h.Fault != nil {
			b.errorf(label, path+".fault", "cannot be combined with redirect or directResponse")
		}
		if h.Rewrite != nil {
			b.errorf(label, path+".rewrite", "cannot be combined with redirect or directResponse")
		}
	}
	var routeAuthority string
	if h.Headers != nil {
		r.reqOps, r.respOps, routeAuthority = b.headerOps(label, path+".headers", h.Headers)
	}
	switch r.kind {
	case actionRedirect:
		r.redirect = b.redirect(label, path+".redirect", h)
		return r
	case actionDirect:
		r.direct = b.directResponse(label, path+".directResponse", h.DirectResponse)
		return r
	}
	if h.Fault != nil {
		r.fault = b.fault(label, path+".fault", h.Fault)
	}
	if h.CorsPolicy != nil {
		r.cors = b.corsPolicy(label, path+".corsPolicy", h.CorsPolicy)
	}
	if h.Timeout != nil && *h.Timeout > 0 {
		r.timeout = h.Timeout.D()
		r.timeoutVal = []string{strconv.FormatInt(r.timeout.Milliseconds(), 10)}
	}
	r.retry = b.retryPolicy(label, path+".retries", h.Retries, r.timeout)
	if rw := h.Rewrite; rw != nil {
		if rw.URI != "" && rw.URIRegexRewrite != nil {
			b.errorf(label, path+".rewrite", "set uri or uriRegexRewrite, not both")
		}
		if rw.URI != "" {
			r.rewriteURI, r.hasRewrite = rw.URI, true
		}
		if rr := rw.URIRegexRewrite; rr != nil {
			re, err := regexp.Compile(rr.Match)
			if err != nil {
				b.errorf(label, path+".rewrite.uriRegexRewrite.match", "invalid RE2 regex %q: %v", rr.Match, err)
			} else {
				r.rewriteRegex, r.rewriteRepl, r.hasRewrite = re, envoyBackrefs(rr.Rewrite), true
			}
		}
		if rw.Authority != "" {
			if routeAuthority != "" {
				b.errorf(label, path+".rewrite.authority", "authority header cannot be set multiple times")
			}
			routeAuthority = rw.Authority
		}
	}
	r.authority = routeAuthority
	r.weighted = b.weightedDestinations(label, path, vs, h.Route, lc)
	r.mirrors = b.mirrorPolicies(label, path, vs, h, lc)
	b.experimentFaults(r, vs, h)
	r.node = commonNode(r.dests)
	if r.fault.active() {
		for _, d := range r.dests {
			b.faulted[d.service] = true
		}
	}
	return r
}

// envoyBackrefs turns Envoy/RE2 substitutions (\1) into Go's (${1}).
func envoyBackrefs(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			out.WriteString("${" + string(s[i+1]) + "}")
			i++
			continue
		}
		if c == '$' {
			out.WriteString("$$")
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}

// weightedDestinations compiles a route's weighted destinations at
// path.route: one destination takes all; weight-0 entries drop out of two
// or more, as istiod drops them; the weights of two or more must not sum
// to 0 (nor, under an Istio that requires it, to anything but 100).
func (b *builder) weightedDestinations(label, path string, vs *scenarios.VirtualService, dests []scenarios.HTTPRouteDestination, lc listenerCtx) weighted {
	var w weighted
	multi := len(dests) > 1
	var total int64
	for j := range dests {
		rd := &dests[j]
		dpath := fmt.Sprintf("%s.route[%d]", path, j)
		if rd.Weight < 0 {
			b.errorf(label, dpath+".weight", "must be >= 0")
			continue
		}
		total += int64(rd.Weight)
		if multi && rd.Weight == 0 {
			continue // dropped, as istiod does with two or more destinations
		}
		d := b.destination(label, dpath, vs, rd, lc)
		if d == nil {
			continue
		}
		d.weight = uint64(rd.Weight)
		if !multi {
			d.weight = 1
		}
		w.dests = append(w.dests, d)
		w.total += d.weight
	}
	if multi && total == 0 {
		b.errorf(label, path+".route", "total destination weight = 0")
	}
	if multi && b.defaults.WeightsMustSumTo100 && total != 100 {
		b.errorf(label, path+".route", "total destination weight %d != 100 (Istio %s requires weights to sum to 100)", total, b.doc.Istio)
	}
	return w
}

func (b *builder) destination(label, path string, vs *scenarios.VirtualService, rd *scenarios.HTTPRouteDestination, lc listenerCtx) *destination {
	host := rd.Destination.Host
	fq := scenarios.FQDN(host, namespace(vs.Metadata))
	if host == "*" || host == "" {
		b.errorf(label, path+".destination.host", "must name a service, not %q", host)
		return nil
	}
	svc := b.services[fq]
	var port uint32
	if rd.Destination.Port != nil {
		port = rd.Destination.Port.Number
	}
	if gatewaySemantics(vs) && (svc == nil || port != 0 && !svc.hasPort(port)) {
		return missingClusterDestination(clusterName(port, rd.Destination.Subset, fq), host)
	}
	if svc == nil {
		return b.unboundDestination(label, path, host, fq, port, rd.Destination.Subset, lc)
	}
	d := &destination{service: svc.name, node: svc.node}
	if gatewaySemantics(vs) {
		d.notFoundCode = http.StatusInternalServerError
	}
	subset := rd.Destination.Subset
	switch {
	case port != 0:
		if !svc.hasPort(port) {
			d.name = clusterName(port, subset, fq)
			d.missingSubset = true // no such cluster: 503 NC
			b.unusable[d.name] = b.warnAt(label, path+".destination.port.number", "%d is not a port of %s (ports %v): requests get 503 NC (no such cluster)", port, host, svc.ports)
			return d
		}
	case len(svc.ports) == 1:
		port = svc.ports[0]
	case !lc.mesh:
		port = lc.port // the port the request arrived on
	}
	if port != 0 {
		d.name = clusterName(port, subset, fq)
		if svc.hasPort(port) {
			d.cluster, d.missingSubset = b.cluster(svc, port, subset)
		}
	} else {
		d.name = clusterName(svc.ports[0], subset, fq)
		for _, p := range svc.ports {
			c, missing := b.cluster(svc, p, subset)
			if missing {
				d.missingSubset = true
				break
			}
			d.byPort = append(d.byPort, portCluster{port: p, c: c})
		}
	}
	if rd.Headers != nil {
		d.reqOps, d.respOps, d.authority = b.headerOps(label, path+".headers", rd.Headers)
	}
	return d
}

// headerOps compiles request and response HeaderOperations; a host or
// :authority key in request set/add becomes an authority rewrite.
func (b *builder) headerOps(label, path string, hs *scenarios.Headers) (req, resp headerOps, authority string) {
	compile := func(p string, ops *scenarios.HeaderOperations, request bool) headerOps {
		if ops == nil {
			return nil
		}
		var out headerOps
		for _, k := range ops.Remove {
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, ":") || lk == "host" {
				continue
			}
			out = append(out, headerOp{kind: opRemove, key: http.CanonicalHeaderKey(lk)})
		}
		for _, pass := range []struct {
			kind opKind
			m    map[string]string
			name string
		}{{opSet, ops.Set, "set"}, {opAdd, ops.Add, "add"}} {
			for _, k := range slices.Sorted(maps.Keys(pass.m)) {
				v, err := headerValue(pass.m[k])
				if err != nil {
					b.errorf(label, p+"."+pass.name+"."+k, "%v", err)
					continue
				}
				lk := strings.ToLower(k)
				if lk == "host" || lk == ":authority" {
					if request && (pass.kind == opSet || authority == "") {
						authority = v
					}
					continue
				}
				if strings.HasPrefix(lk, ":") {
					continue
				}
				out = append(out, headerOp{kind: pass.kind, key: http.CanonicalHeaderKey(lk), vals: []string{v}})
			}
		}
		return out
	}
	req = compile(path+".request", hs.Request, true)
	resp = compile(path+".response", hs.Response, false)
	return req, resp, authority
}

// headerValue unescapes "%%" and refuses Envoy %FORMATTER% values, which
// are not implemented.
func headerValue(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var out strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			out.WriteByte('%')
			i++
			continue
		}
		return "", fmt.Errorf("Envoy header formatters (%q) are not implemented by Faultline; write %%%% for a literal %%", v)
	}
	return out.String(), nil
}

func (b *builder) fault(label, path string, f *scenarios.HTTPFaultInjection) *fault {
	out := &fault{}
	if f.Delay == nil && f.Abort == nil {
		b.errorf(label, path, "set delay, abort or both")
	}
	if d := f.Delay; d != nil {
		if d.ExponentialDelay != nil {
			b.errorf(label, path+".delay.exponentialDelay", "not supported by Istio")
		}
		if d.FixedDelay == nil || d.FixedDelay.D() <= 0 {
			b.errorf(label, path+".delay.fixedDelay", "is required and must be positive")
		} else {
			out.delay = d.FixedDelay.D()
		}
		switch {
		case d.Percentage != nil:
			out.delayPercent = percentNumerator(d.Percentage.Value)
		case d.Percent != nil:
			out.delayPercent = percentNumerator(float64(*d.Percent))
		}
	}
	if a := f.Abort; a != nil {
		out.hasAbort = true
		if a.Percentage != nil {
			out.abortPercent = percentNumerator(a.Percentage.Value)
		}
		switch {
		case a.HTTP2Error != "":
			b.errorf(label, path+".abort.http2Error", "not supported by Istio")
		case a.GRPCStatus != "":
			code, ok := scenarios.GRPCCode(a.GRPCStatus)
			if !ok {
				b.errorf(label, path+".abort.grpcStatus", "must be an upper-case gRPC code name such as UNAVAILABLE, not %q", a.GRPCStatus)
			}
			out.grpcStatus = grpcStatusValue(code)
		case a.HTTPStatus != nil:
			if *a.HTTPStatus < 200 || *a.HTTPStatus > 599 {
				b.errorf(label, path+".abort.httpStatus", "must be between 200 and 599, not %d", *a.HTTPStatus)
			}
			out.abortStatus = int(*a.HTTPStatus)
		default:
			b.errorf(label, path+".abort", "set httpStatus or grpcStatus")
		}
	}
	return out
}

func (b *builder) redirect(label, path string, h *scenarios.HTTPRoute) *redirect {
	rd := h.Redirect
	out := &redirect{uri: rd.URI, authority: rd.Authority, scheme: rd.Scheme, port: rd.Port, derivePort: rd.DerivePort}
	switch rd.RedirectCode {
	case 0:
		out.code = http.StatusMovedPermanently
	case 301, 302, 303, 307, 308:
		out.code = int(rd.RedirectCode)
	default:
		b.errorf(label, path+".redirectCode", "must be 301, 302, 303, 307 or 308, not %d", rd.RedirectCode)
	}
	switch rd.Scheme {
	case "", "http", "https":
	default:
		b.errorf(label, path+".scheme", "must be http or https, not %q", rd.Scheme)
	}
	switch rd.DerivePort {
	case "", "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT":
	default:
		b.errorf(label, path+".derivePort", "must be FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT, not %q", rd.DerivePort)
	}
	if rd.Port != 0 && rd.DerivePort != "" {
		b.errorf(label, path, "set port or derivePort, not both")
	}
	if rd.URI != "" && rd.PrefixRewrite != "" {
		b.errorf(label, path, "set uri or prefixRewrite, not both")
	}
	if rd.PrefixRewrite != "" {
		out.prefix, out.hasPrefix = rd.PrefixRewrite, true
		for j, m := range h.Match {
			if m.URI == nil || m.URI.Prefix == nil {
				b.errorf(label, fmt.Sprintf("%s.match[%d].uri", strings.TrimSuffix(path, ".redirect"), j), "prefixRewrite needs every uri match of the rule to be a prefix match")
			}
		}
	}
	return out
}

func (b *builder) directResponse(label, path string, dr *scenarios.HTTPDirectResponse) *directResponse {
	out := &directResponse{status: int(dr.Status)}
	if dr.Status < 200 || dr.Status > 599 {
		b.errorf(label, path+".status", "must be between 200 and 599, not %d", dr.Status)
	}
	if body := dr.Body; body != nil {
		switch {
		case body.String != nil && body.Bytes != nil:
			b.errorf(label, path+".body", "set string or bytes, not both")
		case body.String != nil:
			out.body = []byte(*body.String)
		case body.Bytes != nil:
			raw, err := base64.StdEncoding.DecodeString(*body.Bytes)
			if err != nil {
				b.errorf(label, path+".body.bytes", "must be base64: %v", err)
			}
			out.body = raw
		}
		if len(out.body) > scenarios.MaxDirectResponseBody {
			b.errorf(label, path+".body", "is larger than 1 MB")
		}
	}
	return out
}
