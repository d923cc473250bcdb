package demo_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/demo"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestServeShutsDownGracefully(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- demo.Serve(ctx, ln, h) }()

	type reply struct {
		body string
		err  error
	}
	replied := make(chan reply, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			replied <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		replied <- reply{body: string(b), err: err}
	}()
	<-started
	cancel()
	// Shutdown closes the listener first: wait for that, then let the
	// in-flight request finish.
	wait.For(t, 3*time.Second, "the listener to stop accepting after ctx was cancelled", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	close(release)

	if r := <-replied; r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: got (%q, %v), want it to finish", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: got %v, want nil after ctx cancel", err)
	}
}

func TestServeServesHTTPBin(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- demo.Serve(ctx, ln, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"})) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(demo.VersionHeader) != "v1" {
		t.Errorf("got %d, version %q", resp.StatusCode, resp.Header.Get(demo.VersionHeader))
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: got %v, want nil", err)
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	ln := listen(t)
	ln.Close()
	err := demo.Serve(t.Context(), ln, http.NotFoundHandler())
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed listener: got %v, want net.ErrClosed", err)
	}
}
