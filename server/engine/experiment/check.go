package experiment

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/safety"
)

// Check finds every problem a run of doc meets before its load is sent,
// without opening, starting or dialling anything: the safety policy (the
// load within opts.Limits, every endpoint on opts.AllowTarget, container
// endpoints allowed by opts.Containers), the proxy's compilation with
// opts.AllowTarget and opts.Credentials (its errors, and its warnings:
// what the proxy does instead, such as 503 UH for a host it cannot
// reach), and the destinations the load's own request would be sent to
// that cannot take it (an error: the run could not do what it says). An
// environment's document (scenarios.ParseEnvironment) gets the safety
// policy of environments and the compilation. An experiment on a mesh
// environment is routed by Istio, not by the proxy: it gets the safety
// policy only.
//
// `faultline validate`, POST /api/v1/validate, DryRun, the server's start
// of a run and Execute call it, so a document validate accepts is not
// refused by a run for a reason validate could have known. Problems carry
// their document, field path and line, and come in the order of Order.
// The document's own warnings (doc.Warnings) are not repeated, nor is a
// compiler warning about a field one of them names.
func Check(doc *scenarios.Document, opts Options) scenarios.Problems {
	problems, _ := check(doc, opts)
	return problems
}

// check is Check, and the routes it compiled: nil on a mesh environment,
// or when they did not compile.
func check(doc *scenarios.Document, opts Options) (scenarios.Problems, *proxy.RoutePlan) {
	var problems scenarios.Problems
	label := "Experiment " + doc.Name()
	if doc.Environment != nil {
		label = scenarios.KindEnvironment + " " + doc.Name()
		if err := safety.AdmitEnvironment(doc, opts.AllowTarget); err != nil {
			problems = append(problems, fieldProblem(label, err))
		}
	} else {
		lim := opts.Limits
		if err := safety.CheckLimits(doc.Experiment.Spec.Load, lim); err != nil {
			problems = append(problems, fieldProblem(label, err))
		}
		if err := safety.CheckTargets(doc, opts.AllowTarget); err != nil {
			problems = append(problems, fieldProblem(label, err))
		}
		if err := safety.CheckContainers(doc, opts.Containers); err != nil {
			problems = append(problems, fieldProblem(label, err))
		}
	}
	problems = doc.Locate(problems)
	if doc.OnMesh() {
		return problems, nil
	}
	plan, err := proxy.Plan(doc, proxy.Options{AllowTarget: opts.AllowTarget, Credentials: opts.Credentials, Logger: opts.Logger})
	var compiled scenarios.Problems
	var ce *proxy.CompileError
	switch {
	case errors.As(err, &ce):
		compiled = append(append(compiled, ce.Problems...), ce.Warnings...)
	case err != nil:
		compiled = append(compiled, scenarios.Problem{Severity: scenarios.SeverityError, Document: label, Message: err.Error()})
	default:
		compiled = plan.Warnings()
	}
	problems = append(problems, Order(doc.Locate(unsaid(doc, compiled)))...)
	if plan != nil && doc.Environment == nil && doc.Experiment.Spec.Load != nil {
		problems = append(problems, doc.Locate(loadProblems(doc, plan))...)
	}
	return dedupe(problems), plan
}

// loadProblems are the errors of a load whose own request would go to a
// destination that cannot take it here (proxy.RoutePlan.Unusable).
func loadProblems(doc *scenarios.Document, plan *proxy.RoutePlan) scenarios.Problems {
	listener, req, err := loadRequest(doc.Experiment.Spec.Load)
	if err != nil {
		return nil // scenarios validated the URL
	}
	m, unusable := plan.Unusable(listener, req)
	var out scenarios.Problems
	for _, u := range unusable {
		why := doc.Locate(scenarios.Problems{u.Why})[0]
		share := ""
		if u.Share < 1 {
			share = fmt.Sprintf(" (%.4g%% of them)", 100*u.Share)
		}
		out = append(out, scenarios.Problem{Severity: scenarios.SeverityError, Document: "Experiment " + doc.Name(), Path: "spec.load.url",
			Message: fmt.Sprintf("the load's requests (%s %s on listener %s, route %s) go to %s%s, which cannot take them here: %s",
				req.Method, req.Host+req.RequestURI, listener, m, u.Cluster, share, why)})
	}
	return out
}

// CheckError is the error of Execute for a document Check finds errors
// in: an *scenarios.InvalidError with the errors and warnings.
func CheckError(problems scenarios.Problems) error {
	err := problems.Err()
	if err == nil {
		return nil
	}
	invalid := err.(*scenarios.InvalidError)
	invalid.Problems = Order(problems.Errors())
	invalid.Warnings = problems.Warnings()
	return invalid
}

// Order sorts problems found after parsing so a cause comes before the
// symptoms it produces: the problems of the resources that make clusters
// (the Experiment's spec.services, ServiceEntries, DestinationRules) come
// before those of the resources that route to them (Gateways,
// VirtualServices), each group in source order. A ServiceEntry whose
// host the proxy cannot reach is thus listed before the route to it.
func Order(ps scenarios.Problems) scenarios.Problems {
	rank := func(p scenarios.Problem) int {
		kind, _, _ := strings.Cut(p.Document, " ")
		switch kind {
		case "Experiment", scenarios.KindEnvironment, "ServiceEntry", "DestinationRule":
			return 0
		case "":
			return 2
		}
		return 1
	}
	out := append(scenarios.Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// dedupe drops repeated problems, keeping the first: a warning said
// twice, or a second error at a field already refused (the safety policy
// and the proxy both refuse an endpoint off the allow-list).
func dedupe(ps scenarios.Problems) scenarios.Problems {
	seen := map[string]bool{}
	var out scenarios.Problems
	for _, p := range ps {
		k := string(p.Severity) + p.String()
		if p.Severity == scenarios.SeverityError && p.Path != "" {
			k = string(p.Severity) + p.Document + "\x00" + p.Path
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// unsaid drops the compiler's warnings about a field the document's own
// validation warned about already (a tcp route's unbound host, say): one
// warning a field is enough.
func unsaid(doc *scenarios.Document, compiled scenarios.Problems) scenarios.Problems {
	said := map[string]bool{}
	for _, w := range doc.Warnings {
		if w.Path != "" {
			said[w.Document+"\x00"+w.Path] = true
		}
	}
	out := compiled[:0:0]
	for _, p := range compiled {
		if p.Severity != scenarios.SeverityWarning || !said[p.Document+"\x00"+p.Path] {
			out = append(out, p)
		}
	}
	return out
}

// fieldProblem is an error of the safety policy, placed at the field it
// names ("spec.load.qps", or "ServiceEntry x: spec.endpoints[0].address"
// for a resource other than the document's own).
func fieldProblem(label string, err error) scenarios.Problem {
	p := scenarios.Problem{Severity: scenarios.SeverityError, Document: label, Message: err.Error()}
	var fielded interface{ FieldPath() string }
	if !errors.As(err, &fielded) {
		return p
	}
	p.Path = fielded.FieldPath()
	p.Message = strings.TrimPrefix(p.Message, p.Path+": ")
	if doc, path, ok := strings.Cut(p.Path, ": "); ok {
		p.Document, p.Path = doc, path
	}
	return p
}
