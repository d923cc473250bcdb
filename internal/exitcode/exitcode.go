// Package exitcode is the exit codes of Faultline's binaries, faultline
// and faultline-proxy (docs/architecture.md, Exit codes), and the error
// that carries one out of a command.
package exitcode

import "fmt"

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
