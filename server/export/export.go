// Package export writes an experiment as a real mesh takes it: its Istio
// resources as written, each in a Kubernetes namespace, and a batch/v1 Job
// that sends the experiment's load with fortio, as one YAML stream for
// `kubectl apply -f -`. What only Faultline acts on (the services bound to
// its own proxy, the hypothesis, the schedule…) is left out and named in a
// comment at the top of the stream. `faultline export` and GET
// /api/v1/experiments/{id}/export both write it with Stream.
package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/scenarios"
)

// Defaults of Options.
const (
	DefaultNamespace = "default"
	DefaultDomain    = "cluster.local"
)

// Options say where the stream goes.
type Options struct {
	// Namespace is the Kubernetes namespace of every resource that names
	// none, and of the Job; empty means DefaultNamespace.
	Namespace string
	// Domain is the cluster's DNS domain, used for the Job's target URL
	// only (short host names of the resources stay short: Kubernetes
	// resolves them in their namespace); empty means DefaultDomain.
	Domain string
}

// OptionError is a bad option; Field names it ("namespace", "domain").
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Reason }

// FieldPath names the option at fault.
func (e *OptionError) FieldPath() string { return e.Field }

func (o Options) withDefaults() (Options, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	if !dnsLabel(o.Namespace) {
		return o, &OptionError{Field: "namespace", Reason: fmt.Sprintf("must be a Kubernetes namespace name (a DNS-1123 label: a-z, 0-9 and '-', at most 63), not %q", o.Namespace)}
	}
	if !dnsSubdomain(o.Domain) {
		return o, &OptionError{Field: "domain", Reason: fmt.Sprintf("must be a DNS domain such as cluster.local, not %q", o.Domain)}
	}
	return o, nil
}

// Stream returns doc as one YAML stream for `kubectl apply -f -`: a
// comment naming what was left out, the Istio resources doc holds itself
// (scenarios.Document.Objects: as written, in apply order, each given
// o.Namespace unless it names one), then the Job of its load.
func Stream(doc *scenarios.Document, o Options) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	objs, err := doc.Objects()
	if err != nil {
		return nil, err
	}
	var notes notes
	notes.experiment(doc.Experiment)
	var docs [][]byte
	for _, obj := range objs {
		b, err := resource(obj, o.Namespace, &notes)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	if l := doc.Experiment.Spec.Load; l != nil {
		b, err := job(doc, l, o)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}

	var out bytes.Buffer
	notes.header(&out, doc.Name(), o.Namespace)
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(d)
	}
	return out.Bytes(), nil
}

// resource renders one Istio resource in YAML, in namespace ns unless it
// names one, without the fields Kubernetes would refuse.
func resource(obj scenarios.Object, ns string, n *notes) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj.Source))
	dec.UseNumber() // numbers stay as written: 100, not 1e+02
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("export: %s %s: %w", obj.Kind, obj.Name, err)
	}
	label := obj.Kind + " " + obj.Name
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		m["metadata"] = md
	}
	if _, ok := md["description"]; ok {
		delete(md, "description")
		n.drop(label+": metadata.description", "Faultline's own note; Kubernetes metadata has no such field")
	}
	for _, f := range scenarios.ClusterSetMetadata {
		if _, ok := md[f]; ok {
			delete(md, f)
			n.drop(label+": metadata."+f, "set by the cluster itself")
		}
	}
	if _, ok := m["status"]; ok {
		delete(m, "status")
		n.drop(label+": status", "set by the cluster itself")
	}
	if obj.Namespace == "" {
		md["namespace"] = ns
	} else if obj.Namespace != ns {
		n.note(fmt.Sprintf("%s stays in namespace %s, as written.", label, obj.Namespace))
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("export: %s %s: %w", obj.Kind, obj.Name, err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return nil, fmt.Errorf("export: %s %s: %w", obj.Kind, obj.Name, err)
	}
	return y, nil
}

// notes collect what the header comment says.
type notes struct {
	dropped []string // "field: why"
	other   []string
}

func (n *notes) drop(field, why string) { n.dropped = append(n.dropped, field+": "+why) }
func (n *notes) note(s string)          { n.other = append(n.other, s) }

// experiment notes the Experiment's fields that only Faultline acts on.
// Its load becomes the Job; its spec.traffic resources are exported as
// documents of their own.
func (n *notes) experiment(e *scenarios.Experiment) {
	s := e.Spec
	if len(s.Services) > 0 {
		hosts := make([]string, len(s.Services))
		for i, svc := range s.Services {
			hosts[i] = svc.Host
		}
		n.drop("spec.services", "binds "+strings.Join(hosts, ", ")+" to endpoints and listeners of Faultline's own proxy; in the cluster the hosts are Services and ServiceEntries")
		for i, svc := range s.Services {
			for j, ep := range svc.Endpoints {
				if ep.Container != nil {
					n.drop(fmt.Sprintf("spec.services[%d].endpoints[%d].container", i, j), "a container Faultline starts on its own machine for the run")
				}
			}
		}
	}
	if s.IstioVersion != "" {
		n.drop("spec.istioVersion", "picks the Istio release whose defaults Faultline's proxy follows; the mesh runs its own")
	}
	if len(s.Hypothesis) > 0 {
		checks := make([]string, len(s.Hypothesis))
		for i, c := range s.Hypothesis {
			checks[i] = c.String()
		}
		n.drop("spec.hypothesis", "graded by Faultline from its own run ("+strings.Join(checks, "; ")+"); read the Job's fortio output instead")
	}
	if len(s.Abort) > 0 {
		n.drop("spec.abort", "Faultline stops its own run on these; nothing watches the Job")
	}
	if s.Schedule != nil {
		n.drop("spec.schedule", "Faultline's scheduler starts the runs; the Job runs once")
	}
	if s.Seed != 0 {
		n.drop("spec.seed", "fixes the fault and routing draws of Faultline's proxy; Envoy draws its own")
	}
	if len(s.Actions) > 0 {
		n.drop("spec.actions", "timed actions on Faultline's container endpoints")
	}
	if s.Load != nil && len(s.Load.Agents) > 0 {
		n.drop("spec.load.agents", "fortio agents Faultline drives; the Job sends the whole load from one pod")
	}
	if s.Environment != "" {
		n.drop("spec.environment", "names a Faultline environment ("+s.Environment+"); its baseline resources are not in this stream")
	}
	for _, w := range faultWarnings(s.Faults) {
		n.drop(w.field, w.why)
	}
}

// faultWarning is one fault of spec.faults and why it is left out.
type faultWarning struct{ field, why string }

// faultWarnings names each fault of spec.faults, which no Istio field
// expresses: Istio's fault filter runs before the router, so it can
// neither strike each attempt nor only the mirrored copies.
func faultWarnings(faults []scenarios.ExperimentFault) []faultWarning {
	var out []faultWarning
	for i, f := range faults {
		field := fmt.Sprintf("spec.faults[%d]", i)
		if f.Name != "" {
			field += " (" + f.Name + ")"
		}
		rules := "every http rule of VirtualService " + f.VirtualService
		if f.Route != "" {
			rules = fmt.Sprintf("route %q of VirtualService %s", f.Route, f.VirtualService)
		}
		what := "each upstream attempt, retries included,"
		if f.On == scenarios.FaultOnShadows {
			what = "the mirrored copies only"
		}
		out = append(out, faultWarning{field, fmt.Sprintf("a fault on %s of %s has no Istio equivalent (Istio's fault filter runs before the router); the VirtualService is exported without it", what, rules)})
	}
	return out
}

// Warnings lists what Stream leaves out of doc that changes how the
// experiment behaves in the mesh, one line each, for a caller to print
// beside the stream: each fault of spec.faults, which has no Istio
// equivalent.
func Warnings(doc *scenarios.Document) []string {
	var out []string
	for _, w := range faultWarnings(doc.Experiment.Spec.Faults) {
		out = append(out, w.field+": "+w.why)
	}
	return out
}

// header writes the comment at the top of the stream.
func (n *notes) header(b *bytes.Buffer, name, ns string) {
	fmt.Fprintf(b, "# Experiment %s, exported by Faultline for namespace %s: apply with\n", name, ns)
	b.WriteString("# kubectl apply -f -. Its Istio resources as written, in apply order,\n")
	b.WriteString("# then a Job that sends its load with fortio.\n")
	if len(n.dropped) > 0 {
		b.WriteString("#\n# Left out, as only Faultline acts on them:\n")
		for _, d := range n.dropped {
			b.WriteString("# - " + d + "\n")
		}
	}
	if len(n.other) > 0 {
		b.WriteString("#\n")
		for _, s := range n.other {
			b.WriteString("# " + s + "\n")
		}
	}
}

// dnsLabel reports whether s is a DNS-1123 label, as Kubernetes names
// namespaces.
func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

// dnsSubdomain reports whether s is dot-separated DNS-1123 labels.
func dnsSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !dnsLabel(l) {
			return false
		}
	}
	return true
}
