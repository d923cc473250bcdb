// Package testserver runs the real things that tests in several packages
// stand Faultline up against: the server on a loopback port with a fresh
// database, and the Docker engine and demo-target image that container
// targets need. Only tests import it.
package testserver

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/server"
)

// Start runs server.Serve on a loopback port (whatever cfg.Addr says) with
// the database cfg.DB, a fresh one under t.TempDir() when it is empty, and
// returns the server's base URL. The server stops when the test ends, or
// when stop is called before that; stopping waits for Serve to return and
// fails the test if it returned an error or took longer than 15 s.
func Start(t testing.TB, cfg server.Config) (base string, stop func()) {
	t.Helper()
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "faultline.db")
	}
	cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Serve(ctx, cfg, slog.New(slog.DiscardHandler), func(addr string) { ready <- addr })
	}()
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	}
	t.Cleanup(stop)
	return base, stop
}
