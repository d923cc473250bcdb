package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Severities of a Problem.
const (
	// SeverityError rejects the document.
	SeverityError = "error"
	// SeverityWarning accepts it: the field is ignored or deprecated.
	SeverityWarning = "warning"
)

// Problem is one finding about a document: which document of the stream,
// which field, which line, and why.
type Problem struct {
	// Severity is SeverityError or SeverityWarning.
	Severity string `json:"severity"`
	// Document names the document as a user reads it:
	// "VirtualService httpbin", "Experiment httpbin-abort".
	Document string `json:"document"`
	// Path is the field path inside it: "spec.http[0].fault.abort".
	Path string `json:"path"`
	// Line is the 1-based line in the source; 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as the CLI does: "Document: path: message
// (line N)".
func (p Problem) String() string {
	var b strings.Builder
	if p.Document != "" {
		b.WriteString(p.Document + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Validation is the server's verdict on a document it did not store.
type Validation struct {
	// Valid is true when no problem is an error (warnings allowed).
	Valid bool `json:"valid"`
	// Problems are every error and warning, in source order.
	Problems []Problem `json:"problems"`
}

// Errors returns the problems that reject the document.
func (v *Validation) Errors() []Problem { return v.filter(SeverityError) }

// Warnings returns the problems that do not.
func (v *Validation) Warnings() []Problem { return v.filter(SeverityWarning) }

func (v *Validation) filter(severity string) []Problem {
	var out []Problem
	for _, p := range v.Problems {
		if p.Severity == severity {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks a document (YAML or JSON: an experiment stream, an
// environment, or a game day) as saving it would, without storing it:
// the server's safety policy, and for a game day the stored experiments
// it names. A bad document is a Validation with Valid false, not an
// error.
func (c *Client) Validate(ctx context.Context, src []byte) (*Validation, error) {
	var v Validation
	if err := c.sendDocument(ctx, http.MethodPost, "/api/v1/validate", src, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
