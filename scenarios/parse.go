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

// Document is a parsed, validated stream: an Experiment and the Istio
// resources beside it (or inside spec.traffic), in stream order; or an
// Environment and its baseline resources (ParseEnvironment).
type Document struct {
	// Experiment is the experiment. In an environment's document it is a
	// stand-in (kind Environment, no load) that binds the environment's
	// services, so the baseline compiles as an experiment's routes do.
	Experiment *Experiment
	// Environment is set in an environment's document only.
	Environment      *Environment
	VirtualServices  []*VirtualService
	DestinationRules []*DestinationRule
	Gateways         []*Gateway
	ServiceEntries   []*ServiceEntry
	// KubeGateways and HTTPRoutes are the Gateway API resources, as
	// written; translateGatewayAPI adds the Istio Gateways and
	// VirtualServices istiod makes of them to the lists above.
	KubeGateways []*KubeGateway
	HTTPRoutes   []*KubeHTTPRoute
	// Istio is the release whose defaults apply.
	Istio IstioVersion
	// Warnings are problems that do not reject the document.
	Warnings Problems

	// lines maps each decoded resource to its field-path line index.
	lines map[any]map[string]int
	// nodes maps each decoded Istio resource to its node, as written.
	nodes map[any]*yaml.Node
	// env is the environment an experiment is laid over (ParseOn); base
	// marks the resources taken from its baseline, which were validated
	// with it.
	env  *Document
	base map[any]bool
}

// Name is the experiment's (or the environment's) name.
func (d *Document) Name() string { return d.Experiment.Metadata.Name }

// Parse reads an experiment's YAML or JSON stream (see
// docs/architecture.md, The document), decodes it strictly and validates
// it. On any error it returns an *InvalidError listing every problem;
// warnings of an accepted document are in Document.Warnings. An experiment
// that names an environment (spec.environment) is checked alone: what its
// resources name is resolved against the environment by ParseOn.
func Parse(src []byte) (*Document, error) {
	return accept(parseExperiment(src, nil))
}

// ParseOn is Parse for an experiment that runs on env, an environment's
// document (ParseEnvironment): the experiment's resources are laid over
// the environment's baseline (the same kind, namespace and name replaces
// a baseline resource, others are added), its services are added to the
// environment's, and hosts, gateways and subsets resolve against the
// result. The returned document is what the run's data plane compiles.
func ParseOn(src []byte, env *Document) (*Document, error) {
	return accept(parseExperiment(src, env))
}

// ParseEnvironment reads an environment's stream: one Environment
// document and the Istio resources beside it, its baseline. The returned
// document compiles to the baseline's routes.
func ParseEnvironment(src []byte) (*Document, error) {
	return accept(parseEnvironment(src))
}

func accept(doc *Document, problems Problems) (*Document, error) {
	if err := problems.Err(); err != nil {
		err.(*InvalidError).Warnings = problems.Warnings()
		return nil, err
	}
	doc.Warnings = problems.Warnings()
	return doc, nil
}

// Lint parses and validates src and returns every problem, errors and
// warnings, in source order. It is what `faultline validate` prints. A
// stream holding an Environment is linted as an environment, any other as
// an experiment.
func Lint(src []byte) Problems {
	var problems Problems
	if IsEnvironment(src) {
		_, problems = parseEnvironment(src)
	} else {
		_, problems = parseExperiment(src, nil)
	}
	return problems.sorted()
}

// LintOn is Lint for an experiment that runs on env.
func LintOn(src []byte, env *Document) Problems {
	_, problems := parseExperiment(src, env)
	return problems.sorted()
}

// Examine parses and validates an experiment's source once, laid over env
// when it is set: every problem, as LintOn (or Lint) gives them, and the
// document when none of them is an error (nil otherwise).
func Examine(src []byte, env *Document) (*Document, Problems) {
	doc, problems := parseExperiment(src, env)
	problems = problems.sorted()
	if len(problems.Errors()) > 0 {
		return nil, problems
	}
	doc.Warnings = problems.Warnings()
	return doc, problems
}

// IsEnvironment reports whether the stream holds a document of kind
// Environment.
func IsEnvironment(src []byte) bool {
	var ignored Problems
	for _, d := range documents(src, &ignored) {
		if kind, _, _ := headOf(d.node); kind == KindEnvironment {
			return true
		}
	}
	return false
}

// decodeStream decodes every document of the stream.
func decodeStream(src []byte) (*Document, Problems) {
	var problems Problems
	doc := &Document{lines: map[any]map[string]int{}, nodes: map[any]*yaml.Node{}}
	for _, d := range documents(src, &problems) {
		doc.add(d.node, d.index, "", &problems)
	}
	return doc, problems
}

func parseExperiment(src []byte, env *Document) (*Document, Problems) {
	doc, problems := decodeStream(src)
	if e := doc.Environment; e != nil {
		rep := doc.reporter(e, "Environment "+e.Metadata.Name, &problems)
		rep.errorf("kind", "an experiment's stream holds no Environment: store the environment on its own and name it in the Experiment's spec.environment")
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
	if env != nil {
		doc.layOver(env)
	}
	doc.translateGatewayAPI(&problems)
	doc.fillPhasedDuration()
	doc.validate(&problems)
	if env != nil {
		doc.Experiment.Spec.Services = append(cloneServices(env.Experiment.Spec.Services), doc.Experiment.Spec.Services...)
	}
	return doc, problems
}

func parseEnvironment(src []byte) (*Document, Problems) {
	doc, problems := decodeStream(src)
	if e := doc.Experiment; e != nil {
		rep := doc.reporter(e, "Experiment "+e.Metadata.Name, &problems)
		rep.errorf("kind", "an environment's stream holds no Experiment: store the experiment on its own, with spec.environment naming the environment")
		return doc, problems
	}
	if doc.Environment == nil {
		if !problems.hasErrors() {
			problems = append(problems, Problem{Severity: SeverityError, Message: "the stream holds no document of kind " + KindEnvironment + " (apiVersion " + APIVersion + ")"})
		}
		return doc, problems
	}
	doc.Experiment = doc.Environment.standIn()
	doc.refuseGatewayAPI(&problems)
	doc.validateEnvironment(&problems)
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
//
// A stream nested deeper than MaxDepth is refused before yaml.v3 builds a
// node tree of it where its bytes show it (flow collections), else as
// soon as the document's tree is built, and the document is skipped; a
// stream of more than maxStreamTokens values is refused unread.
func documents(src []byte, problems *Problems) []streamDoc {
	if line, msg := scanStream(src); line > 0 {
		*problems = append(*problems, Problem{Severity: SeverityError, Line: line, Message: msg})
		return nil
	}
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
		if path, line, deep := treeDepth(n.Content[0]); deep {
			*problems = append(*problems, Problem{Severity: SeverityError, Document: streamLabel(n.Content[0], i), Path: path, Line: line, Message: "the document " + depthProblem})
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

// streamLabel names the document at index of a stream as problems do:
// "VirtualService reviews", or "document 2" when it has no kind.
func streamLabel(n *yaml.Node, index int) string {
	kind, _, name := headOf(n)
	if kind == "" {
		return fmt.Sprintf("document %d", index+1)
	}
	return strings.TrimSpace(kind + " " + name)
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
	case head.Kind == KindEnvironment && head.APIVersion == APIVersion:
		if d.Environment != nil || where != "" {
			rep.errorf("kind", "a stream holds exactly one Environment")
			return
		}
		d.Environment = &Environment{}
		target = d.Environment
	case head.Kind == "Experiment" || head.Kind == KindEnvironment:
		rep.errorf("apiVersion", "must be %s, not %q", APIVersion, head.APIVersion)
		return
	case gatewayAPIVersions[head.APIVersion]:
		if target = d.addGatewayAPI(head.Kind, rep); target == nil {
			return
		}
	case !istioAPIVersions[head.APIVersion]:
		if head.Kind == "" {
			rep.errorf("kind", "is required")
			return
		}
		rep.errorf("apiVersion", "must be one of networking.istio.io/v1alpha3, v1beta1 or v1 (or gateway.networking.k8s.io/v1 or v1beta1 for a Gateway API Gateway or HTTPRoute), not %q", head.APIVersion)
		return
	case head.Kind == "VirtualService":
		target = appendNew(&d.VirtualServices)
	case head.Kind == "DestinationRule":
		target = appendNew(&d.DestinationRules)
	case head.Kind == "Gateway":
		target = appendNew(&d.Gateways)
	case head.Kind == "ServiceEntry":
		target = appendNew(&d.ServiceEntries)
	default:
		rep.errorf("kind", "must be one of Experiment, Environment, VirtualService, DestinationRule, Gateway, ServiceEntry, not %q", head.Kind)
		return
	}
	(&decoder{rep: rep}).decode(n, reflect.ValueOf(target).Elem(), "")
	d.lines[target] = rep.lines
	if target != any(d.Experiment) && target != any(d.Environment) {
		d.nodes[target] = n
	}
}

// appendNew appends a new, zero resource to list and returns it, for the
// decoder to fill.
func appendNew[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
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
