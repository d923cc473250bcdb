//go:build !unix

package store

// Lock is a no-op where flock is not available: one server per database
// is then the operator's to keep.
func Lock(path string) (release func() error, err error) {
	return func() error { return nil }, nil
}
