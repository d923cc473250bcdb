package proxy

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// Where the document names what Faultline cannot reach here (a host no
// service binds, a ServiceEntry that resolves by DNS or passes through, an
// endpoint off the allow-list, a port the host lacks), the table does what
// Envoy does at request time instead of refusing the document: the
// cluster has no endpoint (503 UH, "no healthy upstream") or does not
// exist (503 NC), and a warning names the field. Nothing off the
// allow-list is ever dialled: such an endpoint is never a member of a
// cluster. A TLS origination that names credentials when no credentials
// directory is configured originates TLS without a client certificate,
// verified against the system's roots, with a warning. What a run's load
// would depend on is the caller's to refuse: RoutePlan.Unusable says which
// destinations a request would meet that cannot take it.

// compileReport is what a compilation did differently from what the
// document asks.
type compileReport struct {
	warnings scenarios.Problems
	// unusable maps cluster names to the warning saying why the cluster
	// takes no request.
	unusable map[string]scenarios.Problem
}

// Warnings are the compilation's warnings, each naming the document and
// field it concerns where it can: what the proxy does instead of what the
// field asks (503 UH for a host it cannot reach, the run's own CA for a
// gateway without a credentials directory, HTTP/1.1 upstream).
func (t *Table) Warnings() scenarios.Problems {
	return append(scenarios.Problems(nil), t.report.warnings...)
}

// Warnings are the plan's compile warnings (Table.Warnings).
func (p *RoutePlan) Warnings() scenarios.Problems { return p.table.Warnings() }

// refuse records why a service port has no endpoint the proxy may dial:
// its clusters are built empty (503 UH) and marked unusable.
func (b *builder) refuse(svc *service, port uint32, why scenarios.Problem) {
	if svc.refused == nil {
		svc.refused = map[uint32]scenarios.Problem{}
	}
	if _, ok := svc.refused[port]; !ok {
		svc.refused[port] = why
	}
}

// credentialsMissing reports whether a cluster's tls block needs the
// credentials directory and none is configured (as originationTLS
// decides).
func (b *builder) credentialsMissing(blk policyBlock[scenarios.ClientTLSSettings]) bool {
	t := blk.v
	if t == nil || b.opts.Credentials != nil {
		return false
	}
	mode := strings.ToUpper(t.Mode)
	if mode != "SIMPLE" && mode != "MUTUAL" {
		return false
	}
	insecure := t.InsecureSkipVerify != nil && *t.InsecureSkipVerify
	return mode == "MUTUAL" || t.CACertificates != "" || t.CredentialName != "" || t.CACrl != "" && !insecure
}

// withoutCredentials is a tls block that names credentials, when no
// credentials directory is configured: SIMPLE origination, verified
// against the system's roots, with no client certificate.
func withoutCredentials(t *scenarios.ClientTLSSettings) *scenarios.ClientTLSSettings {
	c := *t
	c.Mode = "SIMPLE"
	c.CredentialName, c.ClientCertificate, c.PrivateKey, c.CACertificates, c.CACrl = "", "", "", "", ""
	return &c
}

// unboundDestination is a route destination whose host no service binds:
// a cluster without endpoints (503 UH), outside the registry (the host gets
// no virtual host of its own), with a warning at the destination's host.
// The port is the destination's, else the gateway server's the request
// arrived on, else 80.
func (b *builder) unboundDestination(label, path, host, fq string, port uint32, subset string, lc listenerCtx) *destination {
	if port == 0 {
		port = 80
		if !lc.mesh && lc.port != 0 {
			port = lc.port
		}
	}
	svc := b.unbound[fq]
	if svc == nil {
		svc = &service{fqdn: fq, name: host, eps: map[uint32][]epSpec{}, gateway: map[uint32]string{}, where: map[uint32]string{}}
		b.unbound[fq] = svc
	}
	why := b.warnAt(label, path+".destination.host", "no service binds %s here: requests get 503 UH", host)
	if !svc.hasPort(port) {
		svc.addPort(port)
		svc.where[port] = label + " " + path
		b.refuse(svc, port, why)
	}
	d := &destination{service: svc.name, name: clusterName(port, subset, fq)}
	d.cluster, d.missingSubset = b.cluster(svc, port, subset)
	return d
}

// warningHead reads "<Kind> <name> <path>: " or "<Kind> <name>: " at the
// start of a warning logged as one string.
var warningHead = regexp.MustCompile(`^((?:VirtualService|DestinationRule|Gateway|ServiceEntry|Experiment|Environment|HTTPRoute) [^\s:]+)(?: (spec[^\s:]*))?: `)

// warningProblem is a warning logged as one string, with its document and
// field when the message starts with them.
func warningProblem(msg string) scenarios.Problem {
	p := scenarios.Problem{Severity: scenarios.SeverityWarning, Message: msg}
	if m := warningHead.FindStringSubmatch(msg); m != nil {
		p.Document, p.Path, p.Message = m[1], m[2], msg[len(m[0]):]
	}
	return p
}

// UnusableDestination is a destination a request would be sent to that
// cannot take it here.
type UnusableDestination struct {
	// Cluster is the destination's cluster (Envoy name).
	Cluster string
	// Share is the part of the rule's requests sent to it, in (0, 1].
	Share float64
	// Why is the compile warning that made the cluster unusable: its
	// document, field and what requests get (503 UH, 503 NC).
	Why scenarios.Problem
}

// Unusable says which rule req would hit on the named listener (Match)
// and which of the rule's destinations cannot take it here: a host no
// service binds, one whose endpoints were all left out (DNS resolution,
// passthrough, the allow-list), a port the host lacks. A run whose load meets one could not do what it says.
func (p *RoutePlan) Unusable(listener string, req *http.Request) (RouteMatch, []UnusableDestination) {
	m, e, port := p.match(listener, req)
	if e == nil || e.rule == nil || e.rule.kind != actionForward || len(p.table.report.unusable) == 0 {
		return m, nil
	}
	var out []UnusableDestination
	for _, d := range e.rule.dests {
		name := d.name
		if c := d.resolve(port); c != nil {
			name = c.name
		}
		why, ok := p.table.report.unusable[name]
		if !ok {
			continue
		}
		share := 1.0
		if e.rule.total > 0 {
			share = float64(d.weight) / float64(e.rule.total)
		}
		out = append(out, UnusableDestination{Cluster: name, Share: share, Why: why})
	}
	return m, out
}

// String says what the destination is and why it takes no request.
func (u UnusableDestination) String() string {
	s := u.Cluster
	if u.Share < 1 {
		s += fmt.Sprintf(" (%.4g%% of the rule's requests)", 100*u.Share)
	}
	return s + ": " + u.Why.String()
}
