package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// APIVersion is the apiVersion of Faultline's own Experiment document.
const APIVersion = "faultline.dev/v1alpha1"

// istioAPIVersions are the networking.istio.io versions accepted; they share
// one schema.
var istioAPIVersions = map[string]bool{
	"networking.istio.io/v1alpha3": true,
	"networking.istio.io/v1beta1":  true,
	"networking.istio.io/v1":       true,
}

// MaxSourceBytes bounds a document stream.
const MaxSourceBytes = 1 << 20

// Document is a parsed, validated experiment stream: the Experiment and the
// Istio resources beside it (or inside spec.traffic), in stream order.
type Document struct {
	Experiment       *Experiment
	VirtualServices  []*VirtualService
	DestinationRules []*DestinationRule
	Gateways         []*Gateway
	ServiceEntries   []*ServiceEntry
	// Istio is the release whose defaults apply.
	Istio IstioVersion
	// Warnings are problems that do not reject the document.
	Warnings Problems

	// lines maps each decoded resource to its field-path line index.
	lines map[any]map[string]int
}

// Name is the experiment's name.
func (d *Document) Name() string { return d.Experiment.Metadata.Name }

// Parse reads a YAML or JSON stream (see DESIGN.md "The experiment
// document"), decodes it strictly and validates it. On any error it returns
// an *InvalidError listing every problem; warnings of an accepted document
// are in Document.Warnings.
func Parse(src []byte) (*Document, error) {
	doc, problems := parse(src)
	if err := problems.Err(); err != nil {
		err.(*InvalidError).Warnings = problems.Warnings()
		return nil, err
	}
	doc.Warnings = problems.Warnings()
	return doc, nil
}

// Lint parses and validates src and returns every problem, errors and
// warnings, in source order. It is what `faultline validate` prints.
func Lint(src []byte) Problems {
	_, problems := parse(src)
	return problems.sorted()
}

func parse(src []byte) (*Document, Problems) {
	var problems Problems
	doc := &Document{lines: map[any]map[string]int{}}
	for _, d := range documents(src, &problems) {
		doc.add(d.node, d.index, "", &problems)
	}
	if doc.Experiment == nil {
		if !problems.hasErrors() {
			problems = append(problems, Problem{Severity: SeverityError, Message: "the stream holds no document of kind Experiment (apiVersion " + APIVersion + ")"})
		}
		return doc, problems
	}
	for i, raw := range doc.Experiment.Spec.Traffic {
		doc.add(raw.node, i, fmt.Sprintf("Experiment %s: spec.traffic[%d]", doc.Name(), i), &problems)
	}
	doc.validate(&problems)
	return doc, problems
}

// notAnObject is the problem of a stream document that is not a mapping.
const notAnObject = "must be an object with apiVersion, kind, metadata and spec"

// streamDoc is one non-empty document of a stream and its position there.
type streamDoc struct {
	index int // 0-based, counting empty documents too
	node  *yaml.Node
}

// documents splits a YAML (or JSON) stream into its document nodes,
// skipping empty documents (between separators, or after a trailing ---).
// A stream that is not valid YAML is a problem; the documents before the
// syntax error are still returned.
func documents(src []byte, problems *Problems) []streamDoc {
	var out []streamDoc
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			*problems = append(*problems, Problem{Severity: SeverityError, Document: fmt.Sprintf("document %d", i+1), Line: yamlErrorLine(err), Message: "not valid YAML or JSON: " + err.Error()})
			return out
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue
		}
		out = append(out, streamDoc{index: i, node: n.Content[0]})
	}
}

// headOf reads kind, apiVersion and metadata.name of a resource node.
func headOf(n *yaml.Node) (kind, apiVersion, name string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "apiVersion":
			apiVersion = n.Content[i+1].Value
		case "kind":
			kind = n.Content[i+1].Value
		case "metadata":
			md := n.Content[i+1]
			for j := 0; j+1 < len(md.Content); j += 2 {
				if md.Content[j].Value == "name" {
					name = md.Content[j+1].Value
				}
			}
		}
	}
	return kind, apiVersion, name
}

// add decodes one resource node of the stream into the document. where
// prefixes the document name of resources found inside spec.traffic.
func (d *Document) add(n *yaml.Node, index int, where string, problems *Problems) {
	if n.Kind != yaml.MappingNode {
		*problems = append(*problems, Problem{Severity: SeverityError, Document: docLabel(where, fmt.Sprintf("document %d", index+1)), Line: n.Line, Message: notAnObject})
		return
	}
	var head struct{ APIVersion, Kind, Name string }
	head.Kind, head.APIVersion, head.Name = headOf(n)
	label := strings.TrimSpace(head.Kind + " " + head.Name)
	if head.Kind == "" {
		label = fmt.Sprintf("document %d", index+1)
	}
	rep := &reporter{doc: docLabel(where, label), problems: problems, lines: map[string]int{"": n.Line}}
	var target any
	switch {
	case head.Kind == "Experiment" && head.APIVersion == APIVersion:
		if d.Experiment != nil || where != "" {
			rep.errorf("kind", "a stream holds exactly one Experiment")
			return
		}
		d.Experiment = &Experiment{}
		target = d.Experiment
	case head.Kind == "Experiment":
		rep.errorf("apiVersion", "must be %s, not %q", APIVersion, head.APIVersion)
		return
	case !istioAPIVersions[head.APIVersion]:
		if head.Kind == "" {
			rep.errorf("kind", "is required")
			return
		}
		rep.errorf("apiVersion", "must be one of networking.istio.io/v1alpha3, v1beta1 or v1, not %q", head.APIVersion)
		return
	case head.Kind == "VirtualService":
		vs := &VirtualService{}
		d.VirtualServices = append(d.VirtualServices, vs)
		target = vs
	case head.Kind == "DestinationRule":
		dr := &DestinationRule{}
		d.DestinationRules = append(d.DestinationRules, dr)
		target = dr
	case head.Kind == "Gateway":
		gw := &Gateway{}
		d.Gateways = append(d.Gateways, gw)
		target = gw
	case head.Kind == "ServiceEntry":
		se := &ServiceEntry{}
		d.ServiceEntries = append(d.ServiceEntries, se)
		target = se
	default:
		rep.errorf("kind", "must be one of Experiment, VirtualService, DestinationRule, Gateway, ServiceEntry, not %q", head.Kind)
		return
	}
	(&decoder{rep: rep}).decode(n, reflect.ValueOf(target).Elem(), "")
	d.lines[target] = rep.lines
}

// reporter returns the problem reporter of a decoded resource.
func (d *Document) reporter(res any, label string, problems *Problems) *reporter {
	lines := d.lines[res]
	if lines == nil {
		lines = map[string]int{}
	}
	return &reporter{doc: label, problems: problems, lines: lines}
}

func docLabel(where, label string) string {
	if where == "" {
		return label
	}
	return where + " (" + label + ")"
}

func (ps Problems) hasErrors() bool { return len(ps.Errors()) > 0 }

func yamlErrorLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); scanErr == nil {
		return line
	}
	return 0
}
