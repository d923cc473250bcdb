package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long Serve lets in-flight requests finish once ctx is
// done, before closing their connections.
const shutdownGrace = 5 * time.Second

// Serve serves h on ln until ctx is done, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish for up to 5s, then closes what is
// left. It returns nil after a ctx-triggered shutdown and the serve error
// otherwise. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr: // Serve only returns on failure here
		return fmt.Errorf("demo: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close() // grace period over: drop the stragglers
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo: serve %s: %w", ln.Addr(), err)
	}
	return nil
}
