package experiment_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/engine/experiment"
)

const bookinfoChain = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: chain}
spec:
  services:
  - host: productpage
    port: 9080
    endpoints: [{demo: productpage, labels: {version: v1}}]
  - host: reviews
    port: 9080
    endpoints: [{demo: reviews, labels: {version: v2}}]
  - host: ratings
    port: 9080
    endpoints: [{demo: ratings, labels: {version: v1}}]
  load: {url: "http://productpage:9080/productpage", connections: 2, requests: 2}
`

// openConns counts a server's open connections through http.ConnState.
type openConns struct {
	mu sync.Mutex
	m  map[net.Conn]bool
}

func (o *openConns) track(c net.Conn, s http.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		delete(o.m, c)
	} else {
		o.m[c] = true
	}
}

func (o *openConns) n() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// The engine hangs up the Bookinfo services' connections to the run's mesh
// listener before the proxy drains (server/demo's
// TestASpareConnectionHoldsShutdownUntilTheCallerHangsUp shows why): after
// HangUp no service keeps any connection to the mesh, used or spare, so
// the drain waits only for requests in flight.
func TestDemoTargetsHangUpLeaveNothingOnTheMesh(t *testing.T) {
	doc := parse(t, bookinfoChain)
	targets, err := experiment.StartDemoTargets(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = targets.Close() })

	// A stand-in for the mesh listener that routes by Host to the targets.
	conns := &openConns{m: map[net.Conn]bool{}}
	mesh := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		h, ok := targets.Target(host, 0)
		if !ok {
			http.Error(w, "no route", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	}))
	mesh.Config.ConnState = conns.track
	mesh.Start()
	t.Cleanup(mesh.Close)
	targets.SetMesh(mesh.Listener.Addr().String())

	productpage, _ := targets.Target("productpage", 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			productpage.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://productpage:9080/productpage", nil))
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "unavailable") {
				t.Errorf("page: %d %.200s", rec.Code, rec.Body.String())
			}
		})
	}
	wg.Wait()
	if conns.n() == 0 {
		t.Fatal("the services called through the mesh on no connection")
	}

	targets.HangUp()
	wait.Until(10*time.Second, func() bool { return conns.n() == 0 })
	if n := conns.n(); n > 0 {
		t.Fatalf("%d connections to the mesh still open after HangUp", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := mesh.Config.Shutdown(ctx); err != nil {
		t.Errorf("the mesh's drain after HangUp: %v, want nil", err)
	}
}
