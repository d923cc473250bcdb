package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Codes the API puts in error.code: a refusal a client may act on.
const (
	// CodeLever: the safety lever is engaged; nothing starts until it is
	// released.
	CodeLever = "lever"
	// CodeBlackout: a blackout window of the game day's schedule holds.
	CodeBlackout = "blackout"
	// CodeRunning: the game day runs already.
	CodeRunning = "running"
	// CodeBusy: a run or an overlay holds the environment.
	CodeBusy = "busy"
	// CodeQueueFull: the run queue is full; retry after Error.RetryAfter.
	CodeQueueFull = "queue_full"
	// CodeAddressInUse: an environment's listener address is taken.
	CodeAddressInUse = "address_in_use"
	// CodeRole: the token's role may not do this (403).
	CodeRole = "role"
	// CodeHost: the server does not answer to the Host the request named
	// (403; serve --allow-host).
	CodeHost = "host"
	// CodeCrossSite: a write from another site's page (403).
	CodeCrossSite = "cross-site"
)

// Error is an answer of the API other than 2xx: its HTTP status and the
// body's {"error": {"message", "field", "code"}, "problems", "warnings"}.
type Error struct {
	// Method and Path name the request, such as POST /api/v1/experiments.
	Method, Path string
	// StatusCode is the answer's HTTP status: 400, 401, 403, 404, 408,
	// 409, 413, 415, 422, 429 or 503 from the API itself.
	StatusCode int
	// Message says what was refused and why, in the API's words (the
	// status text when the body is not the API's).
	Message string
	// Field is the input at fault: a document's field path
	// ("spec.http[0].fault.abort.httpStatus"), a query parameter
	// ("status", "limit") or a header; empty when none is.
	Field string
	// Code names a refusal a client may act on (Code* constants); empty
	// for the others.
	Code string
	// Problems are every error and warning of a refused document (422),
	// each at its field and line; Warnings its warnings alone.
	Problems []Problem
	Warnings []Problem
	// RetryAfter is how long a 429 (CodeQueueFull) asks to wait; zero
	// otherwise.
	RetryAfter time.Duration
}

// Error renders the refusal as "faultline: POST /api/v1/…: 409: message
// (field f, code c)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faultline: %s %s: %d: %s", e.Method, e.Path, e.StatusCode, e.Message)
	var notes []string
	if e.Field != "" {
		notes = append(notes, "field "+e.Field)
	}
	if e.Code != "" {
		notes = append(notes, "code "+e.Code)
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return b.String()
}

// IsNotFound reports whether err is the API's 404: no such experiment,
// run, game day, environment, overlay or report.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsConflict reports whether err is the API's 409: a name taken, a start
// refused (see Code for why), a run that is not running.
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

// Code returns the API's error.code of err (Code* constants), or "" when
// err is not an *Error or names no code.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// maxErrorBody bounds how much of an error's body is read.
const maxErrorBody = 1 << 20

// readError turns a non-2xx answer into an *Error.
func readError(method, path string, resp *http.Response) *Error {
	e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var parsed struct {
		Error *struct {
			Message string `json:"message"`
			Field   string `json:"field"`
			Code    string `json:"code"`
		} `json:"error"`
		Problems []Problem `json:"problems"`
		Warnings []Problem `json:"warnings"`
	}
	if json.Unmarshal(body, &parsed) == nil && parsed.Error != nil {
		e.Message, e.Field, e.Code = parsed.Error.Message, parsed.Error.Field, parsed.Error.Code
		e.Problems, e.Warnings = parsed.Problems, parsed.Warnings
	} else {
		// Not the API's own answer (a proxy in front of it, say).
		e.Message = http.StatusText(resp.StatusCode)
		if text := strings.TrimSpace(string(body)); text != "" && len(text) <= 200 {
			e.Message += ": " + text
		}
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}
