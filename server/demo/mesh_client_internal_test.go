package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// connStates follows a server's connections through http.ConnState.
type connStates struct {
	mu sync.Mutex
	m  map[net.Conn]http.ConnState
}

func (c *connStates) track(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		delete(c.m, conn)
		return
	}
	c.m[conn] = s
}

// count returns how many connections are open, and how many of them have
// never carried a request (StateNew).
func (c *connStates) count() (open, unused int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		if s == http.StateNew {
			unused++
		}
	}
	return len(c.m), unused
}

// spareConnection makes pp's transport dial a connection that no request
// ever uses, the way it happens by chance under load: a call waits for a
// connection, dials one, and is served first by one another call frees.
// It returns the listener's server, whose connections states tracks.
func spareConnection(t *testing.T, pp *Productpage) (*httptest.Server, *connStates) {
	t.Helper()
	arrived, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			close(arrived)
			<-release
		}
		writeJSON(w, http.StatusOK, ReviewsReply{ID: "0"})
	}))
	states := &connStates{m: map[net.Conn]http.ConnState{}}
	srv.Config.ConnState = states.track
	srv.Start()
	t.Cleanup(srv.Close)
	pp.SetMesh(srv.Listener.Addr().String())

	// The second dial waits until the test lets it through.
	secondDial, letDial := make(chan struct{}), make(chan struct{})
	var dials atomic.Int32
	dial := pp.mesh.transport.DialContext
	pp.mesh.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 2 {
			close(secondDial)
			<-letDial
			ctx = context.WithoutCancel(ctx)
		}
		return dial(ctx, network, addr)
	}
	call := func() chan error {
		done := make(chan error, 1)
		go func() {
			_, err := pp.mesh.get(context.Background(), reviewsURL+"0", http.Header{}, 10*time.Second)
			done <- err
		}()
		return done
	}
	a := call()
	<-arrived // a holds the first connection
	b := call()
	<-secondDial // b dials a second one, and waits for either
	close(release)
	for _, done := range []chan error{a, b} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	close(letDial) // b was served on a's connection: this one is spare
	wait.For(t, 10*time.Second, "the spare connection reaches the listener", func() bool {
		open, unused := states.count()
		return open == 2 && unused == 1
	})
	return srv, states
}

// A connection the caller dialled and never used holds the listener's
// graceful shutdown: net/http waits up to 5 s for its first request
// (golang.org/issue/22682). The run's proxy drained that way after
// Bookinfo runs, 5 s after their report was done, about one run in six.
// Once the caller hangs up (MeshCaller.CloseIdleConnections) nothing is
// left to wait for.
func TestASpareConnectionHoldsShutdownUntilTheCallerHangsUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hangUp bool
	}{
		{"the caller keeps its spare connection: the drain waits", false},
		{"the caller hangs up first: nothing to drain", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pp := NewProductpage(BookinfoOptions{})
			srv, states := spareConnection(t, pp)
			if tc.hangUp {
				var caller MeshCaller = pp
				caller.CloseIdleConnections()
				wait.For(t, 10*time.Second, "the caller's connections are closed", func() bool {
					open, _ := states.count()
					return open == 0
				})
			}
			// Well under the 5 s net/http grants a connection that has not
			// sent its first request: a drain that had to wait for one fails.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := srv.Config.Shutdown(ctx)
			if tc.hangUp && err != nil {
				t.Errorf("shutdown after the caller hung up: %v, want nil", err)
			}
			if !tc.hangUp && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("shutdown with a spare connection open: %v, want %v", err, context.DeadlineExceeded)
			}
		})
	}
}
