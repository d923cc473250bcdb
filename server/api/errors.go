package api

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
)

// Error is an API error that carries its HTTP status and the field at fault.
type Error struct {
	Status  int
	Message string
	Field   string
	// Code names the kind of refusal in error.code ("role", "host",
	// "cross-site"); empty leaves it out.
	Code string
}

func (e *Error) Error() string { return e.Message }

// fieldError is an error that names the input field at fault (the
// engine's load ceilings and target allow-list errors are).
type fieldError interface {
	error
	FieldPath() string
}

// unavailableError is a temporary refusal (the server is shutting down):
// 503.
type unavailableError interface {
	error
	Unavailable() bool
}

// throttledError is a refusal to try again later (a full run queue):
// 429 with Retry-After.
type throttledError interface {
	error
	RetryAfter() time.Duration
}

// codedError names its kind of refusal (the lever, a blackout window, a
// run already running) in error.code, so clients need not read messages.
type codedError interface {
	error
	Code() string
}

// errorBody is the JSON shape of every error (docs/architecture.md, Errors).
type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		// Code names a refusal clients may act on: lever, blackout,
		// running, role, host, cross-site, queue_full.
		Code string `json:"code,omitempty"`
	} `json:"error"`
	// Problems lists every validation problem of a refused document.
	Problems []scenarios.Problem `json:"problems,omitempty"`
	Warnings []scenarios.Problem `json:"warnings,omitempty"`
}

// writeError is the one place errors become HTTP statuses.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	var body errorBody
	status := http.StatusInternalServerError
	var (
		apiErr   *Error
		invalid  *scenarios.InvalidError
		tooLarge *http.MaxBytesError
		fielded  fieldError
		busy     unavailableError
		later    throttledError
	)
	switch {
	case errors.As(err, &apiErr):
		status, body.Error.Message, body.Error.Field, body.Error.Code = apiErr.Status, apiErr.Message, apiErr.Field, apiErr.Code
	case errors.As(err, &invalid):
		status = http.StatusUnprocessableEntity
		first := invalid.First()
		body.Error.Message = first.String()
		body.Error.Field = first.Path
		body.Problems, body.Warnings = invalid.Problems, invalid.Warnings
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
		body.Error.Message = "request body is larger than the limit of " + itoa(tooLarge.Limit) + " bytes"
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only the connection's deadlines (deadlines in guard.go) end a
		// read this way: the body did not arrive in time.
		status, body.Error.Message = http.StatusRequestTimeout, "the request body did not arrive in time"
		c.Header("Connection", "close")
	case errors.As(err, &fielded):
		status = http.StatusUnprocessableEntity
		body.Error.Message, body.Error.Field = fielded.Error(), fielded.FieldPath()
	case errors.As(err, &busy) && busy.Unavailable():
		status, body.Error.Message = http.StatusServiceUnavailable, busy.Error()
	case errors.As(err, &later):
		status, body.Error.Message = http.StatusTooManyRequests, later.Error()
		c.Header("Retry-After", itoa(int64(later.RetryAfter()/time.Second)))
	case errors.Is(err, errkind.NotFound):
		status, body.Error.Message = http.StatusNotFound, "not found"
	case errors.Is(err, errkind.Conflict):
		status, body.Error.Message = http.StatusConflict, err.Error()
	case errors.Is(err, errkind.Invalid):
		status, body.Error.Message = http.StatusBadRequest, err.Error()
	default:
		log.Error("api: request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		body.Error.Message = "internal error"
	}
	var coded codedError
	if errors.As(err, &coded) {
		body.Error.Code = coded.Code()
	}
	c.AbortWithStatusJSON(status, body)
}
