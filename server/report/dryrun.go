package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// DryRun is what a dry run resolved without sending load: the targets
// and whether they can be reached, the routes sample requests would take,
// and the predictions of the configuration. Nothing was started: no
// listener opened, no demo target or container started, no run stored.
type DryRun struct {
	Experiment string `json:"experiment"`
	// DryRun is always true: it tells a dry run's JSON from a report's.
	DryRun  bool           `json:"dryRun"`
	Targets []DryRunTarget `json:"targets"`
	// Routes are the load's own request first, then one sample request
	// per http rule of each VirtualService.
	Routes      []DryRunRoute `json:"routes"`
	Predictions []Prediction  `json:"predictions"`
	Warnings    []string      `json:"warnings"`
}

// Target kinds of a DryRunTarget.
const (
	TargetAddress   = "address"
	TargetDemo      = "demo"
	TargetContainer = "container"
	TargetGateway   = "gateway"
)

// DryRunTarget is one endpoint of spec.services and what the preflight
// found of it.
type DryRunTarget struct {
	Service string `json:"service"`
	Port    uint32 `json:"port"`
	// Endpoint is the endpoint's index in the service's endpoints; -1 for
	// a service bound to a gateway.
	Endpoint int `json:"endpoint"`
	// Kind is TargetAddress, TargetDemo, TargetContainer or TargetGateway.
	Kind string `json:"kind"`
	// Address is the endpoint's address, the demo's name, the
	// container's image or the gateway's name.
	Address string `json:"address"`
	// Status is "reachable", "unreachable", "demo, started by the run",
	// "container, started by the run" or "gateway listener, opened by the
	// run".
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Target statuses of a DryRunTarget.
const (
	TargetReachable   = "reachable"
	TargetUnreachable = "unreachable"
	TargetDemoStarted = "demo, started by the run"
	TargetCtrStarted  = "container, started by the run"
	TargetGWOpened    = "gateway listener, opened by the run"
)

// DryRunRequest is a request of the route table: the load's own, or one
// synthesised from a rule's first match.
type DryRunRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Headers are the request's notable headers (the load's, or those a
	// match requires).
	Headers map[string]string `json:"headers,omitempty"`
}

// DryRunRoute is one row of the route table: a request, where it enters
// and which rule it hits.
type DryRunRoute struct {
	// Source is "load" for the load's own request, else the rule it was
	// synthesised from: "<virtualService>/<rule>".
	Source string `json:"source"`
	// SourceName is the name of the rule it was synthesised from.
	SourceName string        `json:"sourceName,omitempty"`
	Listener   string        `json:"listener"`
	Request    DryRunRequest `json:"request"`
	// Hit is the rule the request hits, or why it hits none.
	Hit proxy.RouteMatch `json:"hit"`
	// Action is what the rule hit does: "route", "redirect" or
	// "directResponse"; empty without a rule.
	Action       string                      `json:"action,omitempty"`
	Destinations []proxy.WeightedClusterDump `json:"destinations,omitempty"`
	Fault        *proxy.FaultDump            `json:"fault,omitempty"`
	// ExperimentFaults are the spec.faults that act on the rule hit
	// (attempts or shadows).
	ExperimentFaults []scenarios.ExperimentFault `json:"experimentFaults,omitempty"`
	Retry            *proxy.RetryDump            `json:"retry,omitempty"`
	Timeout          string                      `json:"timeout,omitempty"`
	// Shadowed is set on a rule's sample that an earlier rule of the same
	// VirtualService takes: the rule can never match (as sampled).
	Shadowed bool `json:"shadowed,omitempty"`
	// Note says what the sample could not express (a regex match, a
	// withoutHeaders, sourceLabels), or why the row hits another rule.
	Note string `json:"note,omitempty"`
}

// WriteDryRunText prints a dry run as a readable table.
func WriteDryRunText(w io.Writer, d *DryRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dry run of %s: nothing started, no load sent\n\n", d.Experiment)
	b.WriteString("targets\n")
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tPORT\tENDPOINT\tKIND\tADDRESS\tSTATUS")
	for _, t := range d.Targets {
		status := t.Status
		if t.Error != "" {
			status += ": " + t.Error
		}
		ep := fmt.Sprint(t.Endpoint)
		if t.Endpoint < 0 {
			ep = "-"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", t.Service, t.Port, ep, t.Kind, t.Address, status)
	}
	tw.Flush()
	b.WriteString("\nroutes\n")
	tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FROM\tLISTENER\tREQUEST\tHITS\tDESTINATIONS\tFAULTS\tRETRIES\tTIMEOUT")
	for _, r := range d.Routes {
		req := r.Request.Method + " " + r.Request.URL
		for _, k := range slices.Sorted(maps.Keys(r.Request.Headers)) {
			req += fmt.Sprintf(" %s=%s", k, r.Request.Headers[k])
		}
		hit := r.Hit.String()
		if r.Hit.Name != "" {
			hit += " (" + r.Hit.Name + ")"
		}
		if r.Shadowed {
			hit += " SHADOWED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Source, r.Listener, req, hit,
			destText(r), faultText(r), retryText(r.Retry), dash(r.Timeout))
	}
	tw.Flush()
	if len(d.Predictions) > 0 {
		b.WriteString("\npredictions\n")
		tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tROUTE\tPREDICTED\t95 % INTERVAL\tBASIS")
		for _, p := range d.Predictions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t[%s, %s]\t%s\n", p.Metric, routeLabel(p.Route), fmtNum(p.Predicted), fmtNum(p.Low), fmtNum(p.High), p.Basis)
		}
		tw.Flush()
	}
	if len(d.Warnings) > 0 {
		b.WriteString("\nwarnings\n")
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "  - %s\n", w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func destText(r DryRunRoute) string {
	switch r.Action {
	case "":
		return "-"
	case "route":
	default:
		return r.Action
	}
	var parts []string
	for _, d := range r.Destinations {
		s := d.Name
		if len(r.Destinations) > 1 {
			s += fmt.Sprintf(" (%d)", d.Weight)
		}
		if d.Missing {
			s += fmt.Sprintf(" [no such cluster: %d NC]", d.NotFoundStatus)
		}
		parts = append(parts, s)
	}
	return dash(strings.Join(parts, ", "))
}

func faultText(r DryRunRoute) string {
	var parts []string
	if f := r.Fault; f != nil {
		if f.Delay != "" {
			parts = append(parts, fmt.Sprintf("delay %s %g%%", f.Delay, f.DelayPercent))
		}
		if f.AbortPercent != nil {
			parts = append(parts, fmt.Sprintf("abort %d %g%%", f.AbortStatus, *f.AbortPercent))
		}
	}
	for _, f := range r.ExperimentFaults {
		if f.Delay != nil && f.Delay.FixedDelay != nil {
			parts = append(parts, fmt.Sprintf("%s: delay %s %g%%", f.On, f.Delay.FixedDelay, faultDelayPercent(f.Delay)))
		}
		if f.Abort != nil {
			status := int32(0)
			if f.Abort.HTTPStatus != nil {
				status = *f.Abort.HTTPStatus
			}
			pct := 0.0
			if f.Abort.Percentage != nil {
				pct = f.Abort.Percentage.Value
			}
			parts = append(parts, fmt.Sprintf("%s: abort %d %g%%", f.On, status, pct))
		}
	}
	return dash(strings.Join(parts, "; "))
}

func faultDelayPercent(d *scenarios.FaultDelay) float64 { return delayPercent(d) }

func retryText(r *proxy.RetryDump) string {
	if r == nil {
		return "none"
	}
	s := fmt.Sprintf("%d on %s", r.NumRetries, strings.Join(r.RetryOn, ","))
	if len(r.RetriableStatusCodes) > 0 {
		s += fmt.Sprintf(" %v", r.RetriableStatusCodes)
	}
	if r.PerTryTimeout != "" {
		s += ", per try " + r.PerTryTimeout
	}
	return s
}
