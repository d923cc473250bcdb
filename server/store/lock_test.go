//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLockIsHeldByOneAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faultline.db")
	release, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: got %v, want ErrLocked", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	again()
}

// A PostgreSQL URL takes no lock, and makes no file.
func TestLockTakesNoneForPostgres(t *testing.T) {
	t.Chdir(t.TempDir())
	const url = "postgres://faultline@127.0.0.1:5432/faultline?sslmode=disable"
	release, err := Lock(url)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if _, err := Lock(url); err != nil {
		t.Errorf("second Lock: %v; want none taken", err)
	}
	if err := release(); err != nil {
		t.Error(err)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("Lock made %v", entries)
	}
}
