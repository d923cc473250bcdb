//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes the exclusive lock that makes one process the database's
// server: an advisory lock (flock) on the file path+".lock", created if
// needed and held until release is called or the process ends (a killed
// process releases it with its file descriptors). A lock another process
// holds gives ErrLocked at once. It is separate from SQLite's own locks,
// which guard each transaction, not a server's lifetime.
//
// A PostgreSQL URL (see Open) takes no lock and gives a release that does
// nothing: the database is not a file of this machine.
func Lock(path string) (release func() error, err error) {
	if isPostgres(path) {
		return func() error { return nil }, nil
	}
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: lock %s: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return f.Close, nil
}
