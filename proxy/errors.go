package proxy

import (
	"errors"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// CompileError reports a document the proxy cannot turn into a route table:
// a regex that does not compile, a dial target outside the allow-list, a
// host that would need DNS, a feature not implemented. Problems use the
// same shape as scenarios' validation findings so callers render both alike.
type CompileError struct {
	Problems scenarios.Problems
	// Warnings are the compilation's warnings (Table.Warnings), reported
	// beside the problems.
	Warnings scenarios.Problems
}

// Error lists every problem, separated by "; ".
func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "proxy: compile: " + strings.Join(lines, "; ")
}

// DialError is a failure to open a connection to an upstream endpoint. The
// transport stage classifies it as Envoy's connect failure (503, flag UF).
type DialError struct {
	Addr string
	Err  error
}

// Error names the address and the cause.
func (e *DialError) Error() string { return "proxy: dial " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("proxy: closed")

// errRouteTimeout is the context cause of an expired route timeout, told
// apart from a client that went away.
var errRouteTimeout = errors.New("proxy: upstream request timeout")
