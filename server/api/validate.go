package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"

	"github.com/faultline/faultline/scenarios"
)

// validateJSON is the answer of POST /validate: every problem of the
// document, errors and warnings, in source order.
type validateJSON struct {
	Valid    bool               `json:"valid"`
	Problems scenarios.Problems `json:"problems"`
}

// validate checks a document the way saving it would, without storing
// it. An experiment stream gets scenarios.Lint, then what a run would
// find before its load (Config.Check: the server's safety policy, the
// proxy's compilation, the load's own request); a stream holding a GameDay is parsed as a game day and
// the experiments it names are resolved against the stored ones (see
// checkGameDay). A bad document is still a 200; only a bad request (too
// large, wrong media type, no token) is an error. The dashboard's editors
// call it as the user types.
func (h *handlers) validate(c *gin.Context) {
	src, err := readSource(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if holdsGameDay(src) {
		h.validateGameDay(c, src)
		return
	}
	var problems scenarios.Problems
	if scenarios.IsEnvironment(src) {
		problems = h.lintEnvironment(c.Request.Context(), src)
	} else {
		problems = h.lintExperiment(src)
	}
	if problems == nil {
		problems = scenarios.Problems{}
	}
	c.JSON(http.StatusOK, validateJSON{Valid: len(problems.Errors()) == 0, Problems: problems})
}

// lintExperiment finds every problem of an experiment that saving it
// would: one on an environment is checked laid over that environment's
// baseline, then the safety policy applies.
func (h *handlers) lintExperiment(src []byte) scenarios.Problems {
	doc, problems := scenarios.Examine(src, nil)
	if doc == nil {
		return problems
	}
	if doc.Experiment.Spec.Environment != "" && h.cfg.Environments != nil {
		base, err := h.environmentOf(doc)
		if err != nil {
			return append(problems, admitProblem(src, "Experiment", doc.Name(), err))
		}
		if doc, problems = scenarios.Examine(src, base); doc == nil {
			return problems
		}
	}
	if h.cfg.Check != nil {
		return append(problems, h.cfg.Check(doc)...)
	}
	if h.cfg.Admit != nil {
		if err := h.cfg.Admit(doc); err != nil {
			problems = append(problems, admitProblem(src, "Experiment", doc.Name(), err))
		}
	}
	return problems
}

// lintEnvironment finds every problem of an environment that saving it
// would: the document, the safety policy, addresses it cannot listen on.
func (h *handlers) lintEnvironment(ctx context.Context, src []byte) scenarios.Problems {
	problems := scenarios.Lint(src)
	if len(problems.Errors()) > 0 || h.cfg.Environments == nil {
		return problems
	}
	doc, err := scenarios.ParseEnvironment(src)
	if err != nil {
		return problems
	}
	var id int64
	if h.cfg.EnvironmentStore != nil {
		if e, err := h.cfg.EnvironmentStore.GetEnvironmentByName(ctx, doc.Name()); err == nil {
			id = e.ID
		}
	}
	if _, err := h.checkEnvironment(ctx, id, src); err != nil {
		problems = append(problems, admitProblem(src, scenarios.KindEnvironment, doc.Name(), err))
	}
	if h.cfg.Check != nil {
		// The compilation's warnings and errors; the safety policy's
		// refusal, reported above, is not repeated.
		for _, p := range h.cfg.Check(doc) {
			if !slices.ContainsFunc(problems, func(q scenarios.Problem) bool { return q.Message == p.Message && q.Path == p.Path }) {
				problems = append(problems, p)
			}
		}
	}
	return problems
}

// validateGameDay answers POST /validate for a game-day document: every
// problem saving it would meet, each at its line.
func (h *handlers) validateGameDay(c *gin.Context, src []byte) {
	_, warnings, err := h.checkGameDay(c.Request.Context(), src)
	var (
		invalid  *scenarios.InvalidError
		problems scenarios.Problems
	)
	switch {
	case errors.As(err, &invalid):
		problems = append(append(problems, invalid.Problems...), invalid.Warnings...)
	case err != nil:
		writeError(c, h.log, err)
		return
	default:
		problems = append(problems, warnings...)
	}
	for i, p := range problems {
		if p.Line == 0 && p.Path != "" {
			kind, name, _ := strings.Cut(p.Document, " ")
			problems[i].Line = fieldLine(src, kind, name, p.Path)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	if problems == nil {
		problems = scenarios.Problems{}
	}
	c.JSON(http.StatusOK, validateJSON{Valid: len(problems.Errors()) == 0, Problems: problems})
}

// holdsGameDay reports whether a stream holds a document of kind GameDay
// (as far as it reads: the documents before a syntax error count).
func holdsGameDay(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			return false
		}
		if len(n.Content) > 0 && scalar(lookup(n.Content[0], "kind")) == scenarios.KindGameDay {
			return true
		}
	}
}

// readSource reads the document in the body as POST /experiments takes it:
// YAML, JSON, or {"source": "…"} carrying the YAML text. JSON that does not
// decode is linted as it is, so its syntax error comes back as a problem
// with its line.
func readSource(c *gin.Context) ([]byte, error) {
	src, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, err
	}
	mediaType, _, _ := mime.ParseMediaType(c.ContentType())
	switch {
	case mediaType == "application/json":
		var envelope struct {
			Source     *string `json:"source"`
			APIVersion string  `json:"apiVersion"`
		}
		if json.Unmarshal(src, &envelope) == nil && envelope.Source != nil && envelope.APIVersion == "" {
			src = []byte(*envelope.Source)
		}
	case !readsAsYAML(mediaType):
		return nil, unsupportedMediaType(mediaType)
	}
	return src, nil
}

// admitProblem turns an admission error (a load ceiling, a target outside
// the allow-list, an address in use) of the document kind name into a
// problem placed at the field it names.
func admitProblem(src []byte, kind, name string, err error) scenarios.Problem {
	p := scenarios.Problem{Severity: scenarios.SeverityError, Document: kind + " " + name, Message: err.Error()}
	var fielded fieldError
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Field != "":
		p.Path = apiErr.Field
		p.Message = strings.TrimPrefix(p.Message, apiErr.Field+": ")
		p.Line = fieldLine(src, kind, name, p.Path)
		return p
	case !errors.As(err, &fielded):
		return p
	}
	// A field is "spec.load.qps", or "ServiceEntry name: spec.endpoints[0].address"
	// for a resource other than the Experiment.
	p.Path = fielded.FieldPath()
	if label, path, ok := strings.Cut(p.Path, ": "); ok {
		p.Document, p.Path = label, path
		kind, name, _ = strings.Cut(label, " ")
	}
	p.Message = strings.TrimPrefix(p.Message, fielded.FieldPath()+": ")
	p.Line = fieldLine(src, kind, name, p.Path)
	return p
}

// fieldLine finds the source line of a field path ("spec.services[0].endpoints[1].address")
// in the resource of that kind and name, at the top of the stream or inside
// the Experiment's spec.traffic; 0 when it is not found.
func fieldLine(src []byte, kind, name, path string) int {
	var resources []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			break
		}
		if len(n.Content) == 0 {
			continue
		}
		resources = append(resources, n.Content[0])
		if traffic := lookup(n.Content[0], "spec", "traffic"); traffic != nil && traffic.Kind == yaml.SequenceNode {
			resources = append(resources, traffic.Content...)
		}
	}
	for _, r := range resources {
		if scalar(lookup(r, "kind")) != kind || scalar(lookup(r, "metadata", "name")) != name {
			continue
		}
		n := r
		for _, seg := range pathSegments(path) {
			if n = step(n, seg); n == nil {
				return 0
			}
		}
		return n.Line
	}
	return 0
}

var segmentPattern = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// pathSegments splits "a.b[2].c" into "a", "b", "[2]", "c".
func pathSegments(path string) []string { return segmentPattern.FindAllString(path, -1) }

// step moves from a node to its child named by seg: a key of a mapping or
// an "[i]" index of a sequence. For a key it returns the key node, whose
// line is where the field is written.
func step(n *yaml.Node, seg string) *yaml.Node {
	if n.Kind == yaml.MappingNode && !strings.HasPrefix(seg, "[") {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return keyed(n.Content[i], n.Content[i+1])
			}
		}
		return nil
	}
	if n.Kind == yaml.SequenceNode && strings.HasPrefix(seg, "[") {
		i, err := strconv.Atoi(strings.Trim(seg, "[]"))
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	return nil
}

// keyed returns the value node with the key's line, so the walk goes on
// from the value but reports where the key stands.
func keyed(key, value *yaml.Node) *yaml.Node {
	if value.Kind == yaml.ScalarNode {
		v := *value
		v.Line = key.Line
		return &v
	}
	return value
}

// lookup follows mapping keys from n; nil when one is missing.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
