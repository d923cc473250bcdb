package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a Problem rejects the document or only informs.
type Severity string

const (
	// SeverityError rejects the document: Istio would reject it, or Faultline
	// cannot honour it.
	SeverityError Severity = "error"
	// SeverityWarning accepts the document: Istio accepts the field but
	// ignores or deprecates it, and the message says so.
	SeverityWarning Severity = "warning"
)

// Problem is one finding about an experiment document: which document, which
// field, where in the source, and why.
type Problem struct {
	Severity Severity `json:"severity"`
	// Document names the document the way a user reads it:
	// "VirtualService reviews" or "Experiment httpbin-circuit-breaker".
	Document string `json:"document"`
	// Path is the field path inside the document, e.g. "spec.http[0].retries.attempts".
	Path string `json:"path"`
	// Line is the 1-based line in the source stream, 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as "Document: path: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Document != "" {
		b.WriteString(p.Document)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Problems is a list of findings. It implements error when it holds at least
// one error-severity problem (see Err).
type Problems []Problem

// Errors returns only the error-severity problems.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns only the warning-severity problems.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err returns a *InvalidError holding every error-severity problem, or nil.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs.sorted()}
}

// sorted orders problems root cause first: what stops a resource from
// being read as written (a YAML syntax error, an unknown field, a value of
// the wrong type, a key set twice; see readingProblem) comes before what
// validation finds in the resources and between them, since a resource
// read in part causes problems elsewhere (a Gateway whose misspelt
// "severs" leaves it without servers, and the VirtualService that binds
// it). Within each stage problems are in source order: by line, then
// document and path, keeping the output stable for users and tests.
func (ps Problems) sorted() Problems {
	out := append(Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := readingProblem(out[i]), readingProblem(out[j]); ri != rj {
			return ri
		}
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		if out[i].Document != out[j].Document {
			return out[i].Document < out[j].Document
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// InvalidError reports a document that cannot be accepted.
type InvalidError struct {
	// Problems are the errors, in source order.
	Problems Problems
	// Warnings are reported beside the errors.
	Warnings Problems
}

// Error lists every problem on its own line.
func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid document: " + strings.Join(lines, "; ")
}

// First returns the first problem, the one an API error names as its field.
func (e *InvalidError) First() Problem {
	if len(e.Problems) == 0 {
		return Problem{}
	}
	return e.Problems[0]
}

// reporter collects problems for one document.
type reporter struct {
	doc      string
	problems *Problems
	lines    map[string]int // field path -> source line
}

func (r *reporter) errorf(path, format string, args ...any) {
	r.add(SeverityError, path, fmt.Sprintf(format, args...))
}

func (r *reporter) warnf(path, format string, args ...any) {
	r.add(SeverityWarning, path, fmt.Sprintf(format, args...))
}

func (r *reporter) add(s Severity, path, msg string) {
	*r.problems = append(*r.problems, Problem{Severity: s, Document: r.doc, Path: path, Line: r.line(path), Message: msg})
}

// line finds the source line of path, or of its nearest known parent.
func (r *reporter) line(path string) int {
	for p := path; p != ""; {
		if l, ok := r.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return r.lines[""]
}
