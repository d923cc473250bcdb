// Package exitcode is the exit codes of Faultline's binaries, faultline
// and faultline-proxy (docs/architecture.md, Exit codes), and the error
// that carries one out of a command.
package exitcode

import (
	"errors"
	"fmt"
	"io"
)

// The exit codes.
const (
	// Pass: the command did what it was asked; a run's hypothesis held, or
	// it had none.
	Pass = 0
	// Fail: a run's (or game day's) hypothesis did not hold.
	Fail = 1
	// Invalid: invalid input, such as a document, a flag or a token.
	Invalid = 2
	// RunError: the run could not happen, or was stopped before its end.
	RunError = 3
)

// Error carries a process exit code out of a command.
type Error struct{ Code int }

func (e Error) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Of is the error a command returns for code: nil for Pass.
func Of(code int) error {
	if code != Pass {
		return Error{code}
	}
	return nil
}

// FromError is the exit code a command's error stands for: Pass for nil,
// the code an Error carries, and Invalid for any other error (a flag or
// an argument the command line refused), which it prints to stderr after
// name.
func FromError(err error, stderr io.Writer, name string) int {
	var e Error
	switch {
	case err == nil:
		return Pass
	case errors.As(err, &e):
		return e.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return Invalid
}
