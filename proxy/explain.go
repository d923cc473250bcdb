package proxy

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/faultline/faultline/scenarios"
)

// RoutePlan is a document compiled as Start would compile it, without a
// listener opened, an endpoint dialled or a demo target started: it
// answers which rule a request would hit (Match) and what that rule does,
// in the terms of the admin view (RouteDump, ClusterDump). Endpoints that
// only get an address when a run starts them (demo targets, containers)
// and services bound to a gateway's own listener are given a placeholder
// address (PlanAddress), so a plan compiles before anything runs.
type RoutePlan struct {
	table    *Table
	byName   map[string]*listenerTable
	clusters map[string]ClusterDump
}

// PlanAddress is the address a RoutePlan gives the endpoints whose
// address is known only once a run starts them, and the gateway
// listeners services are bound to. It is never dialled.
const PlanAddress = "127.0.0.1:0"

// Plan compiles doc without opening anything. opts are Start's: the
// allow-list (AllowTarget) applies to every address the document names
// (PlanAddress always passes), Credentials and CA to terminating
// gateways. Errors are Compile's (*CompileError lists every problem).
// doc is not modified.
func Plan(doc *scenarios.Document, opts Options) (*RoutePlan, error) {
	if doc == nil || doc.Experiment == nil {
		return nil, &CompileError{Problems: scenarios.Problems{{Severity: scenarios.SeverityError, Message: "the document holds no Experiment"}}}
	}
	cp := *doc
	exp := *doc.Experiment
	exp.Spec.Services = slices.Clone(exp.Spec.Services)
	for i := range exp.Spec.Services {
		svc := &exp.Spec.Services[i]
		svc.Endpoints = slices.Clone(svc.Endpoints)
		for j := range svc.Endpoints {
			ep := &svc.Endpoints[j]
			if ep.Address == "" && (ep.Demo != "" || ep.Container != nil) {
				ep.Address = PlanAddress
			}
		}
	}
	cp.Experiment = &exp
	allow := opts.AllowTarget
	opts.AllowTarget = func(addr string) error {
		if addr == PlanAddress {
			return nil
		}
		if allow == nil {
			return loopbackOnly(addr)
		}
		return allow(addr)
	}
	opts.ServiceGraph = false
	t, err := Compile(&cp, opts, func(string, uint32) (string, bool) { return PlanAddress, true })
	if err != nil {
		return nil, err
	}
	p := &RoutePlan{table: t, byName: map[string]*listenerTable{}, clusters: map[string]ClusterDump{}}
	for _, lt := range t.listeners {
		if lt != nil {
			p.byName[lt.name] = lt
		}
	}
	for name, c := range t.clusters {
		p.clusters[name] = dumpCluster(c)
	}
	return p, nil
}

// Listeners names the plan's listeners: "mesh" and "<gateway>:<port>"
// for every Gateway server port.
func (p *RoutePlan) Listeners() []string { return p.table.ListenerNames() }

// Clusters names the plan's clusters by Envoy name, sorted.
func (p *RoutePlan) Clusters() []string { return p.table.ClusterNames() }

// Cluster describes a cluster of the plan by its Envoy name
// (outbound|<port>|<subset>|<fqdn>): its endpoints as planned and the
// circuit breakers its DestinationRules resolved to.
func (p *RoutePlan) Cluster(name string) (ClusterDump, bool) {
	c, ok := p.clusters[name]
	return c, ok
}

// Outcomes of a RouteMatch.
const (
	// MatchRoute: a rule matched; RouteMatch.Route says what it does
	// (forward, redirect or direct response).
	MatchRoute = "route"
	// MatchNoRoute: no virtual host or no route matched (404 NR).
	MatchNoRoute = "no_route"
	// MatchBlockAll: the mesh knows no such host (502, route block_all).
	MatchBlockAll = "block_all"
	// MatchHTTPSRedirect: the gateway server redirects every request to
	// https (301).
	MatchHTTPSRedirect = "https_redirect"
	// MatchNoListener: the plan has no such listener.
	MatchNoListener = "no_listener"
)

// RouteMatch is which rule a request hits on a listener and what the rule
// does.
type RouteMatch struct {
	Listener string `json:"listener"`
	// Outcome is MatchRoute, or why no rule took the request.
	Outcome string `json:"outcome"`
	// Status is the local reply's status when no rule took the request
	// (404, 502, 301); 0 with a rule.
	Status int `json:"status,omitempty"`
	// VirtualHost is the virtual host the Host selected ("" when none).
	VirtualHost string `json:"virtualHost,omitempty"`
	// VirtualService, Rule and Name identify the HTTPRoute hit: the
	// VirtualService's name, the rule's index in spec.http, its name
	// (%ROUTE_NAME%). Istio's default route (a host no VirtualService
	// routes) has VirtualService "" and Rule -1.
	VirtualService string `json:"virtualService,omitempty"`
	Rule           int    `json:"rule"`
	Name           string `json:"name,omitempty"`
	// Route is the compiled route: match, action, destinations with their
	// weights, fault, retry policy and timeout.
	Route *RouteDump `json:"route,omitempty"`
	// Port is the request's port as routing saw it (the Host's, the
	// service's single port, 80, or the gateway server's).
	Port uint32 `json:"port,omitempty"`
}

// Match says which rule req would hit on the named listener, the way the
// proxy's pipeline selects it: the virtual host by Host (lower-case, port
// stripped), then the first route whose match holds. req is read as a
// server reads a request: Host, RequestURI (else URL's path and query),
// method, headers; its RemoteAddr, which sourceLabels matches compare,
// is usually empty (then no sourceLabels match holds on the mesh). ok is
// false when no rule takes the request; the RouteMatch then says why.
func (p *RoutePlan) Match(listener string, req *http.Request) (RouteMatch, bool) {
	m, e, _ := p.match(listener, req)
	return m, e != nil
}

// match is Match, with the route entry hit (nil when none) and the
// request's port as routing saw it.
func (p *RoutePlan) match(listener string, req *http.Request) (RouteMatch, *routeEntry, uint32) {
	m := RouteMatch{Listener: listener, Rule: -1}
	lt := p.byName[listener]
	if lt == nil {
		m.Outcome = MatchNoListener
		return m, nil, 0
	}
	x := &exchange{r: req, lt: lt}
	x.parseTarget()
	if req.Method == http.MethodConnect {
		m.Outcome, m.Status = MatchNoRoute, http.StatusNotFound
		return m, nil, 0
	}
	vh := lt.selectVhost(x.host)
	if vh == nil {
		if lt.blockAll {
			m.Outcome, m.Status = MatchBlockAll, http.StatusBadGateway
		} else {
			m.Outcome, m.Status = MatchNoRoute, http.StatusNotFound
		}
		return m, nil, 0
	}
	m.VirtualHost = vh.name
	if x.port == 0 {
		x.port = vh.servicePort
		if x.port == 0 {
			x.port = 80
		}
	}
	m.Port = x.port
	if vh.requireTLS {
		m.Outcome, m.Status = MatchHTTPSRedirect, http.StatusMovedPermanently
		return m, nil, m.Port
	}
	for _, e := range vh.routes {
		if e.match.matches(x) {
			d := dumpRoute(e)
			m.Outcome, m.Route = MatchRoute, &d
			m.VirtualService, m.Rule, m.Name = d.VirtualService, d.Rule, d.Name
			return m, e, m.Port
		}
	}
	m.Outcome, m.Status = MatchNoRoute, http.StatusNotFound
	return m, nil, m.Port
}

// String is the rule hit, as the report names routes: "<vs>/<rule>",
// "default route", or the outcome.
func (m RouteMatch) String() string {
	switch {
	case m.Outcome != MatchRoute:
		return fmt.Sprintf("%s (%d)", m.Outcome, m.Status)
	case m.VirtualService == "":
		return "default route"
	}
	return fmt.Sprintf("%s/%d", m.VirtualService, m.Rule)
}
