package experiment

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
)

// DryRun resolves everything a run of doc would, and starts nothing: it
// admits the document as Execute does (the load within opts.Limits, every
// dial target on opts.AllowTarget, container endpoints allowed by
// opts.Containers), dials each address endpoint once (demo targets,
// containers and gateway listeners are reported as started or opened by
// the run), compiles the routes (proxy.Plan), and makes the table of which
// rule each sample request would hit — the load's own request, then one
// request synthesised from the first match of each http rule of each
// VirtualService — with the predictions of the configuration (Predict,
// over the planned request count). A refusal of the safety policy is
// returned as Execute returns it (*safety.LimitError, *safety.TargetError,
// *safety.ContainerError); a document the proxy cannot compile as its
// *proxy.CompileError. Unreachable targets are not errors of the dry run:
// their rows and a warning say the run would fail.
func DryRun(ctx context.Context, doc *scenarios.Document, opts Options) (*report.DryRun, error) {
	// What validate and a run refuse, the dry run refuses with the same
	// words; their warnings are the dry run's too.
	problems, plan := check(doc, opts)
	if err := CheckError(problems); err != nil {
		return nil, err
	}
	if plan == nil { // a mesh environment's experiment: Check compiles none
		var err error
		if plan, err = proxy.Plan(doc, proxy.Options{AllowTarget: opts.AllowTarget, Credentials: opts.Credentials, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	out := &report.DryRun{Experiment: doc.Name(), DryRun: true, Targets: []report.DryRunTarget{}, Routes: []report.DryRunRoute{},
		Predictions: []report.Prediction{}, Warnings: []string{}}
	for _, w := range doc.Warnings {
		out.Warnings = append(out.Warnings, w.String())
	}
	for _, w := range problems.Warnings() {
		out.Warnings = append(out.Warnings, w.String())
	}
	if env := doc.Experiment.Spec.Environment; env != "" {
		out.Warnings = append(out.Warnings, fmt.Sprintf("the experiment runs on environment %s: its routes are shown laid over the environment's baseline as given; on a mesh environment Istio's sidecars route instead", env))
	}
	out.Targets, out.Warnings = dryRunTargets(ctx, doc, out.Warnings)
	out.Routes, out.Warnings = dryRunRoutes(doc, plan, out.Warnings)
	preds, err := predictPlan(doc, plan, nil)
	if err != nil {
		return nil, err
	}
	out.Predictions = append(out.Predictions, preds...)
	return out, nil
}

// dryRunTargets lists every endpoint of spec.services, dialling the
// address endpoints as Preflight does.
func dryRunTargets(ctx context.Context, doc *scenarios.Document, warnings []string) ([]report.DryRunTarget, []string) {
	out := []report.DryRunTarget{}
	var d net.Dialer
	for i, svc := range doc.Experiment.Spec.Services {
		port := svc.Port
		if port == 0 {
			port = 80
		}
		if svc.Gateway != "" {
			out = append(out, report.DryRunTarget{Service: svc.Host, Port: port, Endpoint: -1, Kind: report.TargetGateway, Address: svc.Gateway, Status: report.TargetGWOpened})
			continue
		}
		for j, ep := range svc.Endpoints {
			t := report.DryRunTarget{Service: svc.Host, Port: port, Endpoint: j}
			switch {
			case ep.Demo != "":
				t.Kind, t.Address, t.Status = report.TargetDemo, ep.Demo, report.TargetDemoStarted
			case ep.Container != nil:
				t.Kind, t.Status = report.TargetContainer, report.TargetCtrStarted
				t.Address = ep.Container.Image
				if t.Address == "" && ep.Container.Build != nil {
					t.Address = "built from " + ep.Container.Build.Context
				}
			default:
				t.Kind, t.Address = report.TargetAddress, ep.Address
				dctx, cancel := context.WithTimeout(ctx, PreflightTimeout)
				conn, err := d.DialContext(dctx, "tcp", ep.Address)
				cancel()
				if err != nil {
					t.Status, t.Error = report.TargetUnreachable, err.Error()
					warnings = append(warnings, fmt.Sprintf("spec.services[%d].endpoints[%d]: target %s of %s is unreachable: a run would end as an error (%v)", i, j, ep.Address, svc.Host, err))
				} else {
					conn.Close()
					t.Status = report.TargetReachable
				}
			}
			out = append(out, t)
		}
	}
	return out, warnings
}

// dryRunRoutes is the route table: the load's request, then a sample of
// each http rule of each VirtualService.
func dryRunRoutes(doc *scenarios.Document, plan *proxy.RoutePlan, warnings []string) ([]report.DryRunRoute, []string) {
	out := []report.DryRunRoute{}
	if load := doc.Experiment.Spec.Load; load != nil && load.URL != "" {
		listener, req, err := loadRequest(load)
		if err != nil {
			warnings = append(warnings, err.Error())
		} else {
			row := routeRow(doc, plan, "load", listener, req, load.URL, load.Headers)
			if row.Hit.Outcome != proxy.MatchRoute {
				warnings = append(warnings, fmt.Sprintf("the load's request %s %s on listener %s hits no rule: %s", req.Method, load.URL, listener, row.Hit))
			}
			out = append(out, row)
		}
	}
	for _, vs := range doc.VirtualServices {
		if vs.IsDelegate() || len(vs.Spec.Hosts) == 0 {
			continue
		}
		for i := range vs.Spec.HTTP {
			s := sampleOf(doc, vs, i)
			row := routeRow(doc, plan, report.RouteName(vs.Metadata.Name, i), s.listener, s.req, s.url, s.headers)
			row.SourceName = vs.Spec.HTTP[i].Name
			notes := s.notes
			hit := row.Hit
			switch {
			case hit.Outcome == proxy.MatchRoute && hit.VirtualService == vs.Metadata.Name && hit.Rule == i:
			case hit.Outcome == proxy.MatchRoute && hit.VirtualService == vs.Metadata.Name && hit.Rule < i:
				row.Shadowed = true
				warnings = append(warnings, fmt.Sprintf("VirtualService %s spec.http[%d]%s is shadowed: its sample request %s %s on %s is taken by the earlier spec.http[%d]%s",
					vs.Metadata.Name, i, quoteName(row.SourceName), s.req.Method, s.url, s.listener, hit.Rule, quoteName(hit.Name)))
			default:
				notes = append(notes, "the sample hits "+hit.String()+", not its own rule")
			}
			row.Note = strings.Join(notes, "; ")
			out = append(out, row)
		}
	}
	return out, warnings
}

func quoteName(n string) string {
	if n == "" {
		return ""
	}
	return " (" + strconv.Quote(n) + ")"
}

// routeRow matches req on listener and describes the rule it hits.
func routeRow(doc *scenarios.Document, plan *proxy.RoutePlan, source, listener string, req *http.Request, rawURL string, headers map[string]string) report.DryRunRoute {
	row := report.DryRunRoute{Source: source, Listener: listener, Request: report.DryRunRequest{Method: req.Method, URL: rawURL, Headers: headers}}
	m, _ := plan.Match(listener, req)
	row.Hit = m
	if m.Route == nil {
		return row
	}
	row.Hit.Route = nil // the row spells out what matters of it
	row.Action, row.Fault = m.Route.Action, m.Route.Fault
	if a := m.Route.Route; a != nil {
		row.Destinations, row.Retry, row.Timeout = a.Clusters, a.Retry, a.Timeout
	}
	row.ExperimentFaults = AttemptFaults(doc, m)
	return row
}

// ruleSample is a request synthesised from a rule's first match.
type ruleSample struct {
	listener string
	req      *http.Request
	url      string
	headers  map[string]string
	notes    []string
}

// sampleOf synthesises a request rule i of vs should take: the host is
// the VirtualService's first host (a wildcard's "*" made "sample"), the
// path the first match's exact or prefix uri, the method its exact
// method, headers and query parameters those it requires exactly (or by
// prefix, or present), the port its port; it enters on the mesh
// listener unless the match or the VirtualService binds gateways only,
// then on the first gateway's first server port.
func sampleOf(doc *scenarios.Document, vs *scenarios.VirtualService, i int) ruleSample {
	rule := &vs.Spec.HTTP[i]
	s := ruleSample{headers: map[string]string{}}
	host := strings.Replace(vs.Spec.Hosts[0], "*", "sample", 1)
	path, method := "/", http.MethodGet
	q := url.Values{}
	var port uint32
	gateways := vs.Spec.Gateways
	if len(rule.Match) > 0 {
		m := &rule.Match[0]
		if m.URI != nil {
			switch {
			case m.URI.Exact != nil:
				path = *m.URI.Exact
			case m.URI.Prefix != nil:
				path = *m.URI.Prefix
			default:
				s.notes = append(s.notes, "a regex uri match is sampled with /")
			}
		}
		if m.Method != nil {
			switch v := stringMatchSample(*m.Method); {
			case v != "":
				method = v
			default:
				s.notes = append(s.notes, "a regex method match is sampled with GET")
			}
		}
		if m.Authority != nil {
			if v := stringMatchSample(*m.Authority); v != "" {
				host = v
			} else {
				s.notes = append(s.notes, "a regex authority match is sampled with the VirtualService's host")
			}
		}
		for _, k := range slices.Sorted(mapKeys(m.Headers)) {
			v := stringMatchSample(m.Headers[k])
			if v == "" && m.Headers[k].Regex != nil {
				s.notes = append(s.notes, fmt.Sprintf("header %s's regex match is sampled with an empty value", k))
			}
			s.headers[k] = v
		}
		for _, k := range slices.Sorted(mapKeys(m.QueryParams)) {
			q.Set(k, stringMatchSample(m.QueryParams[k]))
		}
		if len(m.WithoutHeaders) > 0 {
			s.notes = append(s.notes, "withoutHeaders: the sample sends none of them")
		}
		if len(m.SourceLabels) > 0 || m.SourceNamespace != "" {
			s.notes = append(s.notes, "sourceLabels/sourceNamespace cannot be sampled: the sample comes from no known workload")
		}
		if m.Scheme != nil {
			s.notes = append(s.notes, "a scheme match is sampled with http")
		}
		port = m.Port
		if len(m.Gateways) > 0 {
			gateways = m.Gateways
		}
	}
	s.listener = scenarios.MeshGateway
	if len(gateways) > 0 && !slices.Contains(gateways, scenarios.MeshGateway) {
		gw := gateways[0]
		if j := strings.LastIndexByte(gw, '/'); j >= 0 {
			gw = gw[j+1:]
		}
		if port == 0 {
			port = gatewayPort(doc, gw)
		}
		s.listener = gw + ":" + strconv.FormatUint(uint64(port), 10)
	}
	u := &url.URL{Scheme: "http", Host: host, Path: path, RawQuery: q.Encode()}
	if port != 0 && s.listener == scenarios.MeshGateway {
		u.Host = net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
	}
	h := http.Header{}
	for k, v := range s.headers {
		h.Set(k, v)
	}
	s.req = originRequest(method, u, h)
	s.url = u.String()
	if len(s.headers) == 0 {
		s.headers = nil
	}
	return s
}

// stringMatchSample is a value a StringMatch holds for: the exact value,
// the prefix; "" for a regex (or a presence match).
func stringMatchSample(m scenarios.StringMatch) string {
	switch {
	case m.Exact != nil:
		return *m.Exact
	case m.Prefix != nil:
		return *m.Prefix
	}
	return ""
}

// gatewayPort is the first server port of the named Gateway, 80 when the
// document has none.
func gatewayPort(doc *scenarios.Document, name string) uint32 {
	for _, gw := range doc.Gateways {
		if gw.Metadata.Name == name && len(gw.Spec.Servers) > 0 {
			return gw.Spec.Servers[0].Port.Number
		}
	}
	return 80
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
