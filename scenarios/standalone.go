package scenarios

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Bind is one `faultline proxy --bind` flag: a service host (and port)
// bound to the address of an upstream, standing in for an Experiment's
// spec.services when the proxy runs plain Istio YAML.
type Bind struct {
	Host string
	// Port is the service port; 0 means the one port the resources give
	// the host (ParseStandalone).
	Port uint32
	// Address is the upstream's host:port.
	Address string
}

// String renders the bind as written: "httpbin:8000=127.0.0.1:8000".
func (b Bind) String() string {
	host := b.Host
	if b.Port != 0 {
		host += ":" + strconv.FormatUint(uint64(b.Port), 10)
	}
	return host + "=" + b.Address
}

// ParseBind reads HOST=ADDR or HOST:PORT=ADDR.
func ParseBind(s string) (Bind, error) {
	left, addr, ok := strings.Cut(s, "=")
	if !ok || left == "" || addr == "" {
		return Bind{}, fmt.Errorf("%q: want HOST=ADDR or HOST:PORT=ADDR, such as httpbin:8000=127.0.0.1:8000", s)
	}
	b := Bind{Host: strings.ToLower(left), Address: addr}
	if h, p, found := strings.Cut(left, ":"); found {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || n == 0 || n > 65535 {
			return Bind{}, fmt.Errorf("%q: the service port %q must be 1-65535", s, p)
		}
		b.Host, b.Port = strings.ToLower(h), uint32(n)
	}
	if !isHostName(b.Host) {
		return Bind{}, fmt.Errorf("%q: the host must be a DNS name such as httpbin or httpbin.default.svc.cluster.local, not %q", s, b.Host)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return Bind{}, fmt.Errorf("%q: the address must be host:port such as 127.0.0.1:8000, not %q", s, addr)
	}
	return b, nil
}

// standaloneName names the stand-in Experiment of plain Istio YAML.
const standaloneName = "faultline-proxy"

// ParseStandalone reads the stream `faultline proxy` runs on its own. It
// is either an Experiment stream, whose spec.load may be absent (the proxy
// sends no load), or plain Istio resources (VirtualService,
// DestinationRule, Gateway, ServiceEntry) without an Experiment, whose
// service hosts binds bind to upstream addresses. The resources are
// validated as an experiment's are, and a problem of a bind names its
// flag ("--bind httpbin=…"). Binds beside an Experiment are refused: its
// spec.services bind its hosts.
func ParseStandalone(src []byte, binds []Bind) (*Document, error) {
	doc, problems := decodeStream(src)
	switch {
	case doc.Environment != nil:
		problems = append(problems, Problem{Severity: SeverityError, Document: "Environment " + doc.Environment.Metadata.Name,
			Path: "kind", Message: "faultline proxy runs an Experiment or plain Istio resources; an Environment is served by faultline serve"})
		return accept(doc, problems)
	case doc.Experiment != nil:
		for _, b := range binds {
			problems = append(problems, Problem{Severity: SeverityError, Document: "--bind " + b.String(),
				Message: "the stream holds Experiment " + doc.Name() + ", whose spec.services bind its hosts: drop --bind or the Experiment"})
		}
		if len(binds) > 0 {
			return accept(doc, problems)
		}
		doc, problems = parseExperiment(src, nil)
		return accept(doc, withoutLoad(doc, problems))
	case problems.hasErrors():
		return accept(doc, problems)
	}
	services, bindProblems := bindServices(doc, binds)
	problems = append(problems, bindProblems...)
	if bindProblems.hasErrors() {
		return accept(doc, problems)
	}
	doc.Experiment = &Experiment{APIVersion: APIVersion, Kind: "Experiment", Metadata: ObjectMeta{Name: standaloneName},
		Spec: ExperimentSpec{Services: services}}
	var checked Problems
	doc.validate(&checked)
	for _, p := range withoutLoad(doc, checked) {
		if i, ok := serviceIndex(p); ok && p.Document == "Experiment "+standaloneName {
			p.Document, p.Path, p.Line = "--bind "+binds[i].String(), "", 0
		}
		problems = append(problems, p)
	}
	return accept(doc, problems)
}

// withoutLoad drops the one problem an absent spec.load raises: the proxy
// alone sends no load.
func withoutLoad(doc *Document, problems Problems) Problems {
	if doc.Experiment == nil || doc.Experiment.Spec.Load != nil {
		return problems
	}
	label := "Experiment " + doc.Name()
	return slices.DeleteFunc(problems, func(p Problem) bool {
		return p.Document == label && p.Path == "spec.load" && p.Severity == SeverityError
	})
}

// serviceIndex is i of a problem at spec.services[i]….
func serviceIndex(p Problem) (int, bool) {
	rest, ok := strings.CutPrefix(p.Path, "spec.services[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// bindServices turns binds into the services of a stand-in Experiment,
// taking a bind's missing port from the resources: the one port they
// give its host.
func bindServices(doc *Document, binds []Bind) ([]Service, Problems) {
	var problems Problems
	fail := func(b Bind, format string, args ...any) {
		problems = append(problems, Problem{Severity: SeverityError, Document: "--bind " + b.String(), Message: fmt.Sprintf(format, args...)})
	}
	if len(binds) == 0 && len(doc.ServiceEntries) == 0 {
		problems = append(problems, Problem{Severity: SeverityError, Document: "--bind",
			Message: "the stream holds no Experiment: bind each service host to an upstream with --bind HOST=ADDR or HOST:PORT=ADDR"})
		return nil, problems
	}
	seen := map[string]Bind{}
	services := make([]Service, 0, len(binds))
	for _, b := range binds {
		if b.Port == 0 {
			ports := doc.resourcePorts(b.Host)
			switch len(ports) {
			case 0:
				fail(b, "no resource gives %s a port: write --bind %s:PORT=%s", b.Host, b.Host, b.Address)
				continue
			case 1:
				b.Port = ports[0]
			default:
				fail(b, "the resources give %s the ports %s: write --bind %s:PORT=%s for each", b.Host, joinPorts(ports), b.Host, b.Address)
				continue
			}
		}
		key := canonicalHost(b.Host, b.Port)
		if prev, dup := seen[key]; dup {
			fail(b, "binds %s:%d again (--bind %s): bind a service port once, with one address", b.Host, b.Port, prev)
			continue
		}
		seen[key] = b
		services = append(services, Service{Host: b.Host, Port: b.Port, Endpoints: []Endpoint{{Address: b.Address}}})
	}
	return services, problems
}

// resourcePorts lists, sorted, the ports the resources give host: the ports
// of destinations and mirrors that name it, of a DestinationRule's port
// settings for it, and of a ServiceEntry that declares it.
func (d *Document) resourcePorts(host string) []uint32 {
	var ports []uint32
	add := func(h string, p *PortSelector) {
		if p != nil && p.Number != 0 && SameHost(h, host) && !slices.Contains(ports, p.Number) {
			ports = append(ports, p.Number)
		}
	}
	for _, vs := range d.VirtualServices {
		for _, h := range vs.Spec.HTTP {
			for _, r := range h.Route {
				add(r.Destination.Host, r.Destination.Port)
			}
			if m := h.Mirror; m != nil {
				add(m.Host, m.Port)
			}
			for _, m := range h.Mirrors {
				add(m.Destination.Host, m.Destination.Port)
			}
		}
		for _, t := range vs.Spec.TCP {
			for _, r := range t.Route {
				add(r.Destination.Host, r.Destination.Port)
			}
		}
		for _, t := range vs.Spec.TLS {
			for _, r := range t.Route {
				add(r.Destination.Host, r.Destination.Port)
			}
		}
	}
	for _, dr := range d.DestinationRules {
		if tp := dr.Spec.TrafficPolicy; tp != nil {
			for _, pl := range tp.PortLevelSettings {
				add(dr.Spec.Host, pl.Port)
			}
		}
	}
	for _, se := range d.ServiceEntries {
		for _, h := range se.Spec.Hosts {
			for _, p := range se.Spec.Ports {
				add(h, &PortSelector{Number: p.Number})
			}
		}
	}
	slices.Sort(ports)
	return ports
}

func joinPorts(ports []uint32) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.FormatUint(uint64(p), 10)
	}
	return strings.Join(s, ", ")
}
