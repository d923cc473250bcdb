package safety

import (
	"errors"
	"fmt"

	"github.com/faultline/faultline/server/errkind"
)

// LeverError refuses what the engaged safety lever holds back: a run, a
// game day, an overlay. It is an errkind.Conflict, so the API answers 409
// with the code "lever".
type LeverError struct {
	// Reason is the reason the lever was engaged with.
	Reason string
	// Refused says what may not start until the lever is released: "no
	// run may start", "no overlay is applied".
	Refused string
}

func (e *LeverError) Error() string {
	return fmt.Sprintf("the safety lever is engaged (%s): %s until it is released", e.Reason, e.Refused)
}

// Unwrap makes a LeverError an errkind.Conflict.
func (e *LeverError) Unwrap() error { return errkind.Conflict }

// Code names the refusal for API clients: "lever".
func (e *LeverError) Code() string { return "lever" }

// IsLeverError reports whether err is a refusal by the safety lever.
func IsLeverError(err error) bool {
	var le *LeverError
	return errors.As(err, &le)
}
