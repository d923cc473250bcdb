// Package errkind names the kinds of failure the server's layers share:
// a store's error, a manager's refusal and the API's HTTP status agree on
// them without one layer borrowing another's errors. An error is of a
// kind when it wraps it: errors.Is(err, errkind.Conflict).
package errkind

import "errors"

var (
	// NotFound is something asked for by name or ID that does not exist
	// (the API answers 404).
	NotFound = errors.New("not found")
	// Conflict is a request that clashes with the state things are in: a
	// duplicate name, a run already ended, the safety lever engaged, an
	// environment held by another run (409).
	Conflict = errors.New("conflict")
	// Invalid is an argument refused before anything is done.
	Invalid = errors.New("invalid argument")
)
