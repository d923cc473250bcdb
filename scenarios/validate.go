package scenarios

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// MeshGateway is the reserved gateway name of the sidecar (the mesh listener).
const MeshGateway = "mesh"

var checkOps = []string{"<", "<=", ">", ">=", "==", "!="}

// demoTargets are the built-in targets an endpoint may name: httpbin, and
// Bookinfo's productpage → reviews → ratings chain and details.
var demoTargets = []string{"httpbin", "productpage", "reviews", "ratings", "details"}

// reviewsVersions are the version labels the reviews demo needs: v1 shows
// no ratings, v2 black stars, v3 red stars.
var reviewsVersions = []string{"v1", "v2", "v3"}

// validate runs every rule over the decoded document.
func (d *Document) validate(problems *Problems) {
	e := d.Experiment
	rep := d.reporter(e, "Experiment "+e.Metadata.Name, problems)
	v, err := ParseIstioVersion(e.Spec.IstioVersion)
	if err != nil {
		rep.errorf("spec.istioVersion", "%v", err)
		v = CurrentIstio
	}
	if e.Spec.IstioVersion == "" && d.env != nil {
		v = d.env.Istio
	}
	d.Istio = v
	d.validateExperiment(rep)
	if d.onMesh() {
		d.validateOnMesh(rep, problems)
	}
	validateSchedule(rep, e.Spec.Schedule)
	d.validateFaults(rep)
	d.validateResources(problems, v)
}

// validateResources checks the Istio resources of the stream, each on its
// own and against the rest (gateways, subsets, hosts), except those an
// experiment took from its environment's baseline.
func (d *Document) validateResources(problems *Problems, v IstioVersion) {
	for _, vs := range d.VirtualServices {
		if d.base[vs] {
			continue
		}
		r := d.reporter(vs, resourceLabel(d, vs, "VirtualService", vs.Metadata.Name), problems)
		validateIstioMetadata(r, vs.Metadata)
		validateVirtualService(r, vs, v)
		d.validateVirtualServiceRefs(r, vs)
		d.validateDelegates(r, vs)
		d.validateL4Refs(r, vs)
	}
	for _, dr := range d.DestinationRules {
		if d.base[dr] {
			continue
		}
		r := d.reporter(dr, resourceLabel(d, dr, "DestinationRule", dr.Metadata.Name), problems)
		validateIstioMetadata(r, dr.Metadata)
		validateDestinationRule(r, dr, v)
	}
	for _, gw := range d.Gateways {
		if d.base[gw] {
			continue
		}
		r := d.reporter(gw, resourceLabel(d, gw, "Gateway", gw.Metadata.Name), problems)
		validateIstioMetadata(r, gw.Metadata)
		validateGateway(r, gw, v)
	}
	for _, se := range d.ServiceEntries {
		if d.base[se] {
			continue
		}
		r := d.reporter(se, resourceLabel(d, se, "ServiceEntry", se.Metadata.Name), problems)
		validateIstioMetadata(r, se.Metadata)
		validateServiceEntry(r, se, v)
	}
	d.validateUniqueNames(problems)
}

// unresolved reports whether what the experiment's resources name
// (gateways, subsets) is resolved elsewhere: it names an environment it
// was not parsed on (it is checked when it is, by ParseOn), or it runs on
// a mesh environment, whose cluster holds gateways and subsets of its own.
func (d *Document) unresolved() bool {
	return d.Experiment.Spec.Environment != "" && d.env == nil && d.Environment == nil || d.onMesh()
}

// resourceLabel names a resource as its problems do, noting spec.traffic.
func resourceLabel(d *Document, res any, kind, name string) string {
	label := kind + " " + name
	for i, raw := range d.Experiment.Spec.Traffic {
		if lines := d.lines[res]; lines != nil && lines[""] == raw.node.Line {
			return fmt.Sprintf("Experiment %s: spec.traffic[%d] (%s)", d.Name(), i, label)
		}
	}
	return label
}

func validateMetadata(r *reporter, md ObjectMeta) {
	if validateName(r, md) && md.Namespace != "" && !isDNS1123Label(md.Namespace) {
		r.errorf("metadata.namespace", "must be a DNS-1123 label, not %q", md.Namespace)
	}
}

// validateIstioMetadata checks an Istio resource's metadata. Istio's own
// validation leaves the namespace to Kubernetes, which refuses one that
// is not a DNS-1123 label: Faultline warns, as such a resource can be
// rehearsed here but not applied to a cluster (a mesh environment refuses
// any namespace but its own).
func validateIstioMetadata(r *reporter, md ObjectMeta) {
	if validateName(r, md) && md.Namespace != "" && !isDNS1123Label(md.Namespace) {
		r.warnf("metadata.namespace", "Kubernetes refuses namespace %q (not a DNS-1123 label): the resource routes here, but cannot be applied to a cluster", md.Namespace)
	}
}

// validateName checks metadata.name and reports whether there is one.
func validateName(r *reporter, md ObjectMeta) bool {
	if md.Name == "" {
		r.errorf("metadata.name", "is required")
		return false
	}
	if !isDNS1123Subdomain(md.Name) {
		r.errorf("metadata.name", "must be a lowercase DNS-1123 name (a-z, 0-9, '-', '.'), not %q", md.Name)
	}
	return true
}

func (d *Document) validateExperiment(r *reporter) {
	e := d.Experiment
	validateMetadata(r, e.Metadata)
	d.validateOnEnvironment(r)
	d.validateServices(r, e.Spec.Services, d.env)
	for i, s := range e.Spec.Services {
		if s.Listen != "" {
			r.errorf(fmt.Sprintf("spec.services[%d].listen", i), "only an Environment's services have listeners of their own")
		}
	}
	d.validateLoad(r)
	validateActions(r, &e.Spec)
	validateAbortConditions(r, e.Spec.Abort)
	d.validatePhases(r)
	for i, c := range e.Spec.Hypothesis {
		validateCheck(r, fmt.Sprintf("spec.hypothesis[%d]", i), c, HypothesisMetrics())
	}
}

// validateCheck checks one "metric op value" condition at p: a hypothesis
// check, or the core of an abort condition; metrics lists those allowed.
func validateCheck(r *reporter, p string, c Check, metrics []string) {
	if !slices.Contains(metrics, c.Metric) {
		r.errorf(p+".metric", "must be one of %s, not %q", strings.Join(metrics, ", "), c.Metric)
	}
	if !slices.Contains(checkOps, c.Op) {
		r.errorf(p+".op", "must be one of %s, not %q", strings.Join(checkOps, " "), c.Op)
	}
	if c.Metric == "status_ratio" && (c.Status < 100 || c.Status > 599) {
		r.errorf(p+".status", "status_ratio needs an HTTP status between 100 and 599")
	}
	if c.Metric != "status_ratio" && c.Status != 0 {
		r.errorf(p+".status", "only status_ratio takes a status")
	}
	if c.Value.Duration && !strings.HasPrefix(c.Metric, "latency_") {
		r.errorf(p+".value", "a duration only fits latency metrics")
	}
}

// Ceilings on the times a document may make a run wait: every run is
// capped at its load's length plus twice its timeout and a grace (see
// engine.RunCap), so these bound how long a run can hold its slot.
const (
	// MaxLoadTimeout bounds spec.load.timeout, the longest one call of
	// the load may take; a server's longest load (engine.Limits) may lower it.
	MaxLoadTimeout = 5 * time.Minute
	// MaxFixedDelay bounds a fault's delay.fixedDelay.
	MaxFixedDelay = 5 * time.Minute
	// MaxContainerWait bounds a container endpoint's wait.timeout.
	MaxContainerWait = 10 * time.Minute
)

func (d *Document) validateLoad(r *reporter) {
	l := d.Experiment.Spec.Load
	if l == nil {
		r.errorf("spec.load", "is required: the load fortio sends through the proxy")
		return
	}
	u, err := url.Parse(l.URL)
	switch {
	case l.URL == "":
		r.errorf("spec.load.url", "is required")
	case err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https":
		r.errorf("spec.load.url", "must be an http:// (or, through a gateway that terminates TLS, https://) URL whose host names a service, such as http://httpbin:8000/get, not %q", l.URL)
	}
	if l.Via != "" && l.Via != MeshGateway && d.gateway(l.Via) == nil && !d.unresolved() {
		r.errorf("spec.load.via", "must be %q or the name of a Gateway of this experiment, not %q", MeshGateway, l.Via)
	}
	if l.Connections < 0 {
		r.errorf("spec.load.connections", "must be >= 0")
	}
	if l.QPS < 0 {
		r.errorf("spec.load.qps", "must be >= 0 (0 means as fast as possible)")
	}
	if l.Requests < 0 {
		r.errorf("spec.load.requests", "must be >= 0")
	}
	if l.Requests > 0 && l.Duration != nil {
		r.errorf("spec.load", "set requests or duration, not both")
	}
	if l.Duration != nil && *l.Duration <= 0 {
		r.errorf("spec.load.duration", "must be positive")
	}
	if l.Timeout != nil && *l.Timeout <= 0 {
		r.errorf("spec.load.timeout", "must be positive")
	}
	if l.Timeout != nil && l.Timeout.D() > MaxLoadTimeout {
		r.errorf("spec.load.timeout", "%s is above the ceiling of %s: a call may wait at most that long", l.Timeout, Duration(MaxLoadTimeout))
	}
	for k := range l.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			r.errorf("spec.load.headers."+k, "is not a valid header name")
		}
	}
	if n := len(l.Agents); n > MaxAgents {
		r.errorf("spec.load.agents", "%d agents is above the ceiling of %d", n, MaxAgents)
	}
	seen := map[string]int{}
	for i, a := range l.Agents {
		p := fmt.Sprintf("spec.load.agents[%d]", i)
		key, err := agentKey(a)
		if err != nil {
			r.errorf(p, "must be the http://host:port of a fortio REST API (the /fortio/ prefix optional), such as http://10.0.0.7:8080: %v", err)
			continue
		}
		if j, dup := seen[key]; dup {
			r.errorf(p, "is spec.load.agents[%d] again: list each agent once", j)
			continue
		}
		seen[key] = i
	}
	if n := int64(len(l.Agents)); n > 0 && l.Requests > 0 && l.Requests < n {
		r.errorf("spec.load.requests", "%d requests cannot be split over %d agents: each sends at least one", l.Requests, n)
	}
	if len(l.Agents) > 0 && len(d.Experiment.Spec.Abort) > 0 {
		r.errorf("spec.abort", "abort conditions need live counts, which fortio agents (spec.load.agents) do not report while the load runs")
	}
	if err == nil && u.Host != "" {
		d.validateL4Load(r, l, u)
	}
}

// MaxAgents bounds spec.load.agents.
const MaxAgents = 64

// agentKey checks an agent URL of spec.load.agents and returns it in the
// one form that tells two agents apart: lower-case host:port.
func agentKey(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http":
		return "", fmt.Errorf("the scheme is %q", u.Scheme)
	case u.Host == "" || u.Port() == "":
		return "", fmt.Errorf("it names no host:port")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("it has more than host, port and path")
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		return "", fmt.Errorf("port %q is not a TCP port", u.Port())
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" && p != "/fortio" {
		return "", fmt.Errorf("the path is %q", u.Path)
	}
	return strings.ToLower(u.Host), nil
}

// validateVirtualServiceRefs checks what a VirtualService names against the
// rest of the experiment: gateways and subsets.
func (d *Document) validateVirtualServiceRefs(r *reporter, vs *VirtualService) {
	if d.unresolved() {
		return // checked against the environment (ParseOn)
	}
	for i, g := range vs.Spec.Gateways {
		if g != MeshGateway && d.gateway(g) == nil {
			r.warnf(fmt.Sprintf("spec.gateways[%d]", i), "names no Gateway of this experiment: %q (Istio takes it; its rules apply on no listener here until the Gateway exists)", g)
		}
	}
	for i, h := range vs.Spec.HTTP {
		for j, m := range h.Match {
			for k, g := range m.Gateways {
				if g != MeshGateway && d.gateway(g) == nil {
					r.warnf(fmt.Sprintf("spec.http[%d].match[%d].gateways[%d]", i, j, k), "names no Gateway of this experiment: %q (Istio takes it; the match applies on no listener here until the Gateway exists)", g)
				}
			}
		}
		for j, dst := range h.Route {
			p := fmt.Sprintf("spec.http[%d].route[%d].destination", i, j)
			if dst.Destination.Subset != "" && d.subset(dst.Destination.Host, vs.Metadata.Namespace, dst.Destination.Subset) == nil {
				// Envoy answers 503 NC at run time; say so up front.
				r.warnf(p+".subset", "subset %q of %s is defined by no DestinationRule: requests routed here get 503 (NC)", dst.Destination.Subset, dst.Destination.Host)
			}
			// In an experiment, a host bound to nothing is the proxy
			// compiler's to report: it answers 503 UH per request, and the
			// load reaching it is an error (experiment.Check). An
			// environment's baseline and an overlay carry a team's live
			// traffic and have no load to judge by: there it is refused.
			if d.Experiment.Kind == KindEnvironment && !d.knownHost(dst.Destination.Host, vs.Metadata.Namespace) {
				r.errorf(p+".host", "%s is bound to no endpoints: add it to the environment's spec.services or a ServiceEntry", dst.Destination.Host)
			}
		}
	}
}

func (d *Document) validateUniqueNames(problems *Problems) {
	seen := map[string]bool{}
	note := func(kind, name string) {
		key := kind + "/" + name
		if name != "" && seen[key] {
			*problems = append(*problems, Problem{Severity: SeverityError, Document: kind + " " + name, Path: "metadata.name", Message: "two " + kind + "s share this name"})
		}
		seen[key] = true
	}
	for _, x := range d.VirtualServices {
		note("VirtualService", x.Metadata.Name)
	}
	for _, x := range d.DestinationRules {
		note("DestinationRule", x.Metadata.Name)
	}
	for _, x := range d.Gateways {
		note("Gateway", x.Metadata.Name)
	}
	for _, x := range d.ServiceEntries {
		note("ServiceEntry", x.Metadata.Name)
	}
}

// gateway finds a Gateway by name: bare, "ns/name" (the namespace must
// match), or the legacy "name.ns" form.
func (d *Document) gateway(ref string) *Gateway {
	ns, name, qualified := strings.Cut(ref, "/")
	if !qualified {
		ns, name = "", ref
	}
	for _, g := range d.Gateways {
		gns := g.Metadata.Namespace
		if gns == "" {
			gns = DefaultNamespace
		}
		if g.Metadata.Name == name && (ns == "" || ns == gns) {
			return g
		}
		if !qualified && ref == g.Metadata.Name+"."+gns {
			return g
		}
	}
	return nil
}

// subset finds the subset of host (a short name expanded in namespace ns)
// defined by any DestinationRule.
func (d *Document) subset(host, ns, name string) *Subset {
	for _, dr := range d.DestinationRules {
		if FQDN(dr.Spec.Host, dr.Metadata.Namespace) != FQDN(host, ns) {
			continue
		}
		for i := range dr.Spec.Subsets {
			if dr.Spec.Subsets[i].Name == name {
				return &dr.Spec.Subsets[i]
			}
		}
	}
	return nil
}

// knownHost reports whether a destination host (a short name expanded in
// namespace ns) resolves to a service of the experiment or a ServiceEntry.
func (d *Document) knownHost(host, ns string) bool {
	if d.onMesh() {
		return true // the namespace's Services; the mesh resolves them
	}
	fqdn := FQDN(host, ns)
	services := d.Experiment.Spec.Services
	if d.env != nil {
		services = append(slices.Clone(services), d.env.Experiment.Spec.Services...)
	}
	for _, s := range services {
		if FQDN(s.Host, DefaultNamespace) == fqdn || FQDN(s.Host, ns) == fqdn {
			return true
		}
	}
	for _, se := range d.ServiceEntries {
		for _, h := range se.Spec.Hosts {
			if FQDN(h, se.Metadata.Namespace) == fqdn {
				return true
			}
		}
	}
	return false
}

// DefaultNamespace is the namespace of resources that name none.
const DefaultNamespace = "default"

// FQDN expands a short service name the way istiod does: a name without a
// dot gets "<namespace>.svc.cluster.local" (reviews → reviews.default.svc.cluster.local);
// any name with a dot is taken as written. Names are lower-cased.
func FQDN(host, namespace string) string {
	host = strings.ToLower(host)
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if host == "" || strings.Contains(host, ".") || strings.HasPrefix(host, "*") {
		return host
	}
	return host + "." + namespace + ".svc.cluster.local"
}

// SameHost reports whether two host names, each expanded in the default
// namespace, name the same service.
func SameHost(a, b string) bool {
	return FQDN(a, DefaultNamespace) == FQDN(b, DefaultNamespace)
}

func canonicalHost(h string, port uint32) string {
	return FQDN(h, DefaultNamespace) + ":" + strconv.FormatUint(uint64(port), 10)
}

func isHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !isDNS1123Label(label) {
			return false
		}
	}
	return true
}

func isDNS1123Label(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(s)-1
		if !ok {
			return false
		}
	}
	return true
}

func isDNS1123Subdomain(s string) bool {
	return isHostName(s)
}

func isLabelKey(k string) bool {
	if k == "" || len(k) > 317 {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./", c)) {
			return false
		}
	}
	return true
}

// validateServices checks spec.services (an experiment's or an
// environment's): hosts bound once per port, a port, and endpoints or a
// gateway. env, when set, is the environment an experiment runs on: its
// services are bound already, and the experiment may only add others.
func (d *Document) validateServices(r *reporter, services []Service, env *Document) {
	hosts := map[string]bool{}
	if env != nil {
		for _, s := range env.Experiment.Spec.Services {
			hosts[canonicalHost(s.Host, s.Port)] = true
		}
	}
	for i, s := range services {
		p := fmt.Sprintf("spec.services[%d]", i)
		switch {
		case s.Host == "":
			r.errorf(p+".host", "is required")
		case !isHostName(s.Host):
			r.errorf(p+".host", "must be a DNS name such as httpbin or httpbin.default.svc.cluster.local, not %q", s.Host)
		case hosts[canonicalHost(s.Host, s.Port)] && env != nil && env.bindsService(s.Host, s.Port):
			r.errorf(p+".host", "%s is bound by environment %s already: an experiment on an environment only adds services", s.Host, env.Name())
		case hosts[canonicalHost(s.Host, s.Port)]:
			r.errorf(p+".host", "%s is bound twice", s.Host)
		}
		hosts[canonicalHost(s.Host, s.Port)] = true
		if s.Port == 0 || s.Port > 65535 {
			r.errorf(p+".port", "is required: the port the service listens on, 1-65535")
		}
		if s.Gateway != "" {
			if len(s.Endpoints) > 0 {
				r.errorf(p+".endpoints", "must be empty when gateway is set: the host is served by the gateway's listener")
			}
			if d.gateway(s.Gateway) == nil && !d.unresolved() {
				r.errorf(p+".gateway", "names no Gateway of this experiment: %q", s.Gateway)
			}
			continue
		}
		if len(s.Endpoints) == 0 {
			r.errorf(p+".endpoints", "needs at least one endpoint (address or demo), or a gateway")
		}
		for j, ep := range s.Endpoints {
			validateEndpoint(r, fmt.Sprintf("%s.endpoints[%d]", p, j), ep)
		}
	}
}

// bindsService reports whether the environment's document binds host on
// port.
func (d *Document) bindsService(host string, port uint32) bool {
	for _, s := range d.Experiment.Spec.Services {
		if canonicalHost(s.Host, s.Port) == canonicalHost(host, port) {
			return true
		}
	}
	return false
}

func validateEndpoint(r *reporter, ip string, ep Endpoint) {
	switch {
	case ep.Container != nil && (ep.Address != "" || ep.Demo != ""):
		r.errorf(ip, "set one of address, demo or container")
	case ep.Container != nil:
		validateContainer(r, ip+".container", ep.Container)
	case ep.Address != "" && ep.Demo != "":
		r.errorf(ip, "set address or demo, not both")
	case ep.Address != "":
		if _, port, err := net.SplitHostPort(ep.Address); err != nil || port == "" {
			r.errorf(ip+".address", "must be host:port such as 127.0.0.1:8080, not %q", ep.Address)
		}
	case ep.Demo != "":
		if !slices.Contains(demoTargets, ep.Demo) {
			r.errorf(ip+".demo", "must be one of %s, not %q", strings.Join(demoTargets, ", "), ep.Demo)
		}
		if v := ep.Labels["version"]; ep.Demo == "reviews" && !slices.Contains(reviewsVersions, v) {
			r.errorf(ip+".labels.version", "demo reviews needs version v1 (no ratings), v2 (black stars) or v3 (red stars), not %q", v)
		}
	default:
		r.errorf(ip, "needs an address or a demo target")
	}
	for k := range ep.Labels {
		if !isLabelKey(k) {
			r.errorf(ip+".labels."+k, "is not a valid label key")
		}
	}
}

// validateOnEnvironment checks what an experiment that names an
// environment may hold: services it adds are addresses (the environment's
// data plane outlives runs, so nothing is started for one), and no
// container actions.
func (d *Document) validateOnEnvironment(r *reporter) {
	e := d.Experiment
	name := e.Spec.Environment
	if name == "" {
		return
	}
	switch {
	case !isDNS1123Subdomain(name):
		r.errorf("spec.environment", "must name an Environment (a lowercase DNS-1123 name), not %q", name)
	case d.env != nil && d.env.Name() != name:
		r.errorf("spec.environment", "names %q, but the experiment is checked against environment %q", name, d.env.Name())
	case d.env == nil:
		r.warnf("spec.environment", "hosts, gateways and subsets are checked against environment %s when the server stores or runs the experiment (or by faultline validate --environment FILE)", name)
	}
	for i, s := range e.Spec.Services {
		for j, ep := range s.Endpoints {
			if ep.Demo != "" || ep.Container != nil {
				r.errorf(fmt.Sprintf("spec.services[%d].endpoints[%d]", i, j), "an experiment on an environment adds services by address: demo and container targets are started by runs of their own")
			}
		}
	}
	if len(e.Spec.Actions) > 0 {
		r.errorf("spec.actions", "container actions need container endpoints, which an experiment on an environment does not start")
	}
}
