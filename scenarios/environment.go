package scenarios

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// KindEnvironment is the kind of an environment's document.
const KindEnvironment = "Environment"

// Environment is a long-lived data plane at fixed addresses that a team's
// own services are wired to once (docs/architecture.md, Environments): an
// egress listener they use as HTTP_PROXY, optional gateways, optional
// per-service listeners, and the services the Istio host names resolve to.
// The Istio resources beside it in the stream are its baseline, in force
// whenever no run or overlay is active.
type Environment struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ObjectMeta      `json:"metadata"`
	Spec       EnvironmentSpec `json:"spec"`
}

// EnvironmentSpec is the body of an Environment.
type EnvironmentSpec struct {
	// IstioVersion selects whose defaults apply ("1.8"); empty means
	// current. An experiment on the environment may name its own.
	IstioVersion string `json:"istioVersion,omitempty"`
	// Egress is the address of the HTTP forward-proxy listener
	// ("127.0.0.1:15001"): services send their outbound calls to it
	// (HTTP_PROXY), and it routes them by absolute URI or Host as a
	// sidecar's outbound listener does. Empty means none.
	Egress string `json:"egress,omitempty"`
	// Gateways maps a Gateway of the baseline ("ingress") or one of its
	// server ports ("ingress:80") to the address its listener takes.
	Gateways map[string]string `json:"gateways,omitempty"`
	// Services bind Istio host names to the team's running services, as an
	// Experiment's spec.services do; each may have a listener of its own
	// (listen) for clients that ignore HTTP_PROXY.
	Services []Service `json:"services,omitempty"`
	// Kubernetes makes the environment a namespace of a cluster whose
	// Istio enforces the runs' rules, instead of Faultline's listeners: a
	// run applies its Istio resources there and always puts the
	// namespace back.
	Kubernetes *Kubernetes `json:"kubernetes,omitempty"`
}

// Kubernetes names the cluster and namespace of a mesh environment.
type Kubernetes struct {
	// Kubeconfig is the path of a kubeconfig file on the server's machine;
	// empty with InCluster.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context to use; empty means its current one.
	Context string `json:"context,omitempty"`
	// InCluster uses the credentials of the pod the server runs in.
	InCluster bool `json:"inCluster,omitempty"`
	// Namespace is where runs apply their resources.
	Namespace string `json:"namespace"`
	// Entry is the address a run's load is sent to ("127.0.0.1:8080": an
	// ingress gateway's address, or a port-forward), the URL's host kept
	// as the Host header; empty sends it to the URL's host itself.
	Entry string `json:"entry,omitempty"`
}

// IsMesh reports whether the environment is a cluster's namespace
// (spec.kubernetes) rather than Faultline's own listeners.
func (e *Environment) IsMesh() bool { return e.Spec.Kubernetes != nil }

// ServiceListener is a service's own listener in an environment.
type ServiceListener struct {
	Host string
	Port uint32
	Addr string
}

// ServiceListeners lists the per-service listeners of an environment's
// services, in spec order.
func (e *Environment) ServiceListeners() []ServiceListener {
	var out []ServiceListener
	for _, s := range e.Spec.Services {
		if s.Listen != "" {
			out = append(out, ServiceListener{Host: s.Host, Port: s.Port, Addr: s.Listen})
		}
	}
	return out
}

// ListenerAddress is one fixed address an environment listens on, with
// the field that sets it.
type ListenerAddress struct {
	// Field is the field path: spec.egress, spec.gateways.<key> or
	// spec.services[i].listen.
	Field string `json:"field"`
	Addr  string `json:"addr"`
}

// ListenerAddresses lists every address the environment listens on: the
// egress, the gateways (by key) and the services' own listeners.
func (e *Environment) ListenerAddresses() []ListenerAddress {
	var out []ListenerAddress
	if e.Spec.Egress != "" {
		out = append(out, ListenerAddress{Field: "spec.egress", Addr: e.Spec.Egress})
	}
	for _, k := range slices.Sorted(maps.Keys(e.Spec.Gateways)) {
		out = append(out, ListenerAddress{Field: "spec.gateways." + k, Addr: e.Spec.Gateways[k]})
	}
	for i, s := range e.Spec.Services {
		if s.Listen != "" {
			out = append(out, ListenerAddress{Field: fmt.Sprintf("spec.services[%d].listen", i), Addr: s.Listen})
		}
	}
	return out
}

// standIn is the experiment an environment's document carries so its
// baseline compiles as an experiment's routes do: the environment's name,
// Istio release and services, and nothing to run.
func (e *Environment) standIn() *Experiment {
	return &Experiment{APIVersion: e.APIVersion, Kind: KindEnvironment, Metadata: e.Metadata,
		Spec: ExperimentSpec{IstioVersion: e.Spec.IstioVersion, Services: cloneServices(e.Spec.Services)}}
}

// cloneServices copies services deeply enough that a run may change its
// copy's endpoints.
func cloneServices(in []Service) []Service {
	out := make([]Service, len(in))
	for i, s := range in {
		s.Endpoints = slices.Clone(s.Endpoints)
		out[i] = s
	}
	return out
}

// layOver puts the environment's baseline under the experiment's
// resources: a baseline resource of the same kind, namespace and name as
// one of the experiment's is replaced by it, the others stay, in front.
func (d *Document) layOver(env *Document) {
	d.env = env
	d.base = map[any]bool{}
	d.VirtualServices = overlay(env.VirtualServices, d.VirtualServices, d.base, func(x *VirtualService) ObjectMeta { return x.Metadata })
	d.DestinationRules = overlay(env.DestinationRules, d.DestinationRules, d.base, func(x *DestinationRule) ObjectMeta { return x.Metadata })
	d.Gateways = overlay(env.Gateways, d.Gateways, d.base, func(x *Gateway) ObjectMeta { return x.Metadata })
	d.ServiceEntries = overlay(env.ServiceEntries, d.ServiceEntries, d.base, func(x *ServiceEntry) ObjectMeta { return x.Metadata })
	for res, lines := range env.lines {
		if d.base[res] {
			d.lines[res] = lines
		}
	}
}

// overlay returns base with each resource that own names the same way
// replaced by own's, then own's new resources; it marks in from the
// resources that came from base.
func overlay[T any](base, own []T, from map[any]bool, meta func(T) ObjectMeta) []T {
	key := func(x T) string {
		m := meta(x)
		ns := m.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		return ns + "/" + m.Name
	}
	mine := map[string]T{}
	for _, x := range own {
		mine[key(x)] = x
	}
	out := make([]T, 0, len(base)+len(own))
	used := map[string]bool{}
	for _, x := range base {
		if y, ok := mine[key(x)]; ok {
			out = append(out, y)
			used[key(x)] = true
			continue
		}
		out = append(out, x)
		from[any(x)] = true
	}
	for _, x := range own {
		if !used[key(x)] {
			out = append(out, x)
		}
	}
	return out
}

// validateEnvironment checks an environment's document: its metadata, its
// services (addresses of running services only), its listeners, and its
// baseline resources, which may hold no fault.
func (d *Document) validateEnvironment(problems *Problems) {
	env := d.Environment
	rep := d.reporter(env, "Environment "+env.Metadata.Name, problems)
	v, err := ParseIstioVersion(env.Spec.IstioVersion)
	if err != nil {
		rep.errorf("spec.istioVersion", "%v", err)
		v = CurrentIstio
	}
	d.Istio = v
	validateMetadata(rep, env.Metadata)
	d.validateServices(rep, env.Spec.Services, nil)
	for i, s := range env.Spec.Services {
		for j, ep := range s.Endpoints {
			if ep.Demo != "" || ep.Container != nil {
				rep.errorf(fmt.Sprintf("spec.services[%d].endpoints[%d]", i, j), "an environment's endpoints are the addresses of running services (demo and container endpoints belong to experiments)")
			}
		}
	}
	if env.IsMesh() {
		d.validateMesh(rep)
		return
	}
	d.validateListeners(rep)
	d.validateResources(problems, v)
	for _, vs := range d.VirtualServices {
		r := d.reporter(vs, "VirtualService "+vs.Metadata.Name, problems)
		for i, h := range vs.Spec.HTTP {
			if faultActs(h.Fault) {
				r.errorf(fmt.Sprintf("spec.http[%d].fault", i), "an environment's baseline holds no fault: it is in force whenever no run is active; inject faults from an experiment (spec.environment) or an overlay with a TTL (a fault at 0 %% is allowed: it never acts)")
			}
		}
	}
}

// validateMesh checks a mesh environment: the cluster and namespace, and
// nothing that belongs to Faultline's own listeners. Whether the cluster
// answers and grants what runs need is checked by the server as it
// stores the environment.
func (d *Document) validateMesh(r *reporter) {
	env := d.Environment
	k := env.Spec.Kubernetes
	switch {
	case k.Kubeconfig == "" && !k.InCluster:
		r.errorf("spec.kubernetes.kubeconfig", "is required: the path of a kubeconfig file on the server's machine (or set inCluster: true when the server runs in the cluster)")
	case k.Kubeconfig != "" && k.InCluster:
		r.errorf("spec.kubernetes.inCluster", "set kubeconfig or inCluster, not both")
	case k.InCluster && k.Context != "":
		r.errorf("spec.kubernetes.context", "names a kubeconfig context: it needs spec.kubernetes.kubeconfig")
	}
	if k.Entry != "" {
		if host, port, err := net.SplitHostPort(k.Entry); err != nil || host == "" || port == "" {
			r.errorf("spec.kubernetes.entry", "must be host:port, such as the ingress gateway's 10.0.0.10:80, not %q", k.Entry)
		}
	}
	if !isDNS1123Label(k.Namespace) {
		r.errorf("spec.kubernetes.namespace", "must name a Kubernetes namespace (a lowercase DNS-1123 label of at most 63 characters), not %q", k.Namespace)
	}
	const own = "belongs to an environment of Faultline's own listeners: on a mesh environment (spec.kubernetes) the cluster's Istio is the data plane"
	for _, a := range env.ListenerAddresses() {
		r.errorf(a.Field, own)
	}
	if len(env.Spec.Services) > 0 {
		r.errorf("spec.services", "%s, and hosts are the namespace's Kubernetes Services", own)
	}
	if n := len(d.VirtualServices) + len(d.DestinationRules) + len(d.Gateways) + len(d.ServiceEntries); n > 0 {
		r.errorf("kind", "a mesh environment holds no baseline resources: its baseline is what namespace %s holds; runs change it and put it back", k.Namespace)
	}
}

// faultActs reports whether a fault injects anything: a delay or an abort
// with a percentage above 0 (unset means none, as in Istio).
func faultActs(f *HTTPFaultInjection) bool {
	if f == nil {
		return false
	}
	if d := f.Delay; d != nil && (d.Percentage != nil && d.Percentage.Value > 0 || d.Percentage == nil && d.Percent != nil && *d.Percent > 0) {
		return true
	}
	return f.Abort != nil && f.Abort.Percentage != nil && f.Abort.Percentage.Value > 0
}

// validateListeners checks the environment's fixed addresses: each a
// host:port with a port of its own, no two the same, the gateway keys
// naming Gateways of the baseline, and at least one listener.
func (d *Document) validateListeners(r *reporter) {
	env := d.Environment
	addrs := env.ListenerAddresses()
	if len(addrs) == 0 {
		r.errorf("spec", "needs at least one listener: spec.egress (the address services use as HTTP_PROXY), spec.gateways, or a service's listen")
	}
	type bound struct {
		host  netip.Addr
		port  int
		field string
	}
	var seen []bound
	for _, a := range addrs {
		host, port, ok := checkListenAddr(r, a.Field, a.Addr)
		if !ok {
			continue
		}
		for _, b := range seen {
			if b.port == port && (b.host == host || b.host.IsUnspecified() || host.IsUnspecified()) {
				r.errorf(a.Field, "%s is also taken by %s: every listener needs an address of its own", a.Addr, b.field)
				break
			}
		}
		seen = append(seen, bound{host, port, a.Field})
	}
	for _, key := range slices.Sorted(maps.Keys(env.Spec.Gateways)) {
		d.validateGatewayKey(r, key)
	}
}

// checkListenAddr checks one listener address: an IP (or localhost) and a
// fixed port.
func checkListenAddr(r *reporter, field, addr string) (netip.Addr, int, bool) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		r.errorf(field, "must be host:port such as 127.0.0.1:15001, not %q", addr)
		return netip.Addr{}, 0, false
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		r.errorf(field, "needs a fixed port 1-65535 (services are wired to it once), not %q", portText)
		return netip.Addr{}, 0, false
	}
	if host == "" {
		r.errorf(field, "names no interface: use 127.0.0.1:%d (loopback), or 0.0.0.0:%d when the server's --allow admits 0.0.0.0", port, port)
		return netip.Addr{}, 0, false
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		r.errorf(field, "must listen on an IP address (or localhost), not %q", host)
		return netip.Addr{}, 0, false
	}
	return ip.Unmap(), port, true
}

// validateGatewayKey checks a spec.gateways key: a Gateway of the
// baseline, or one of its server ports; a bare name needs the Gateway to
// serve one port only, since one address takes one listener.
func (d *Document) validateGatewayKey(r *reporter, key string) {
	field := "spec.gateways." + key
	name, portText, withPort := strings.Cut(key, ":")
	gw := d.gateway(name)
	if gw == nil {
		r.errorf(field, "names no Gateway of the environment's baseline: %q", name)
		return
	}
	ports := map[uint32]bool{}
	for _, s := range gw.Spec.Servers {
		ports[s.Port.Number] = true
	}
	if withPort {
		n, err := strconv.ParseUint(portText, 10, 32)
		if err != nil || !ports[uint32(n)] {
			r.errorf(field, "Gateway %s has no server on port %s", name, portText)
		}
		return
	}
	if len(ports) > 1 {
		list := slices.Sorted(maps.Keys(ports))
		r.errorf(field, "Gateway %s serves ports %v: give each port its own address, as spec.gateways[\"%s:%d\"]", name, list, name, list[0])
	}
}

// ParseOverlay reads a stream of Istio resources to lay over env's
// baseline for a while (an overlay with a TTL): the same kind, namespace
// and name replaces a baseline resource, others are added, and faults are
// allowed. The returned document is what the data plane compiles.
func ParseOverlay(src []byte, env *Document) (*Document, error) {
	doc, problems := decodeStream(src)
	const onlyIstio = "an overlay holds Istio resources only (VirtualService, DestinationRule, Gateway, ServiceEntry)"
	if e := doc.Experiment; e != nil {
		doc.reporter(e, "Experiment "+e.Metadata.Name, &problems).errorf("kind", onlyIstio)
	}
	if e := doc.Environment; e != nil {
		doc.reporter(e, "Environment "+e.Metadata.Name, &problems).errorf("kind", onlyIstio)
	}
	if len(doc.VirtualServices)+len(doc.DestinationRules)+len(doc.Gateways)+len(doc.ServiceEntries) == 0 && !problems.hasErrors() {
		problems = append(problems, Problem{Severity: SeverityError, Message: "the overlay holds no Istio resource"})
	}
	if problems.hasErrors() {
		return accept(doc, problems)
	}
	doc.Experiment = env.Environment.standIn()
	doc.layOver(env)
	doc.env = nil // the stand-in binds the environment's services already
	doc.Istio = env.Istio
	doc.validateResources(&problems, env.Istio)
	return accept(doc, problems)
}
