package experiment

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
)

// DemoTargets are the built-in targets a run started for its `demo`
// endpoints, each on its own loopback port.
type DemoTargets struct {
	cancel  context.CancelFunc
	done    []chan error
	started []DemoTarget
}

// DemoTarget is one started demo endpoint.
type DemoTarget struct {
	// Host is the service host as spec.services names it.
	Host string
	// Index is the endpoint's index in the service's endpoints.
	Index int
	// Demo is the target's name: httpbin, productpage, reviews or ratings.
	Demo string
	// Addr is the loopback address it listens on.
	Addr string
	// Target counts and remembers what reached it.
	Target demo.Target
}

// StartDemoTargets starts one demo server per `demo` endpoint of doc and
// writes its loopback address into the endpoint. The version label, if any,
// becomes the target's version (for reviews it picks the behaviour). The
// Bookinfo targets call each other through a proxy listener set later with
// SetMesh.
func StartDemoTargets(ctx context.Context, doc *scenarios.Document) (*DemoTargets, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &DemoTargets{cancel: cancel}
	for i := range doc.Experiment.Spec.Services {
		svc := &doc.Experiment.Spec.Services[i]
		for j := range svc.Endpoints {
			ep := &svc.Endpoints[j]
			if ep.Demo == "" {
				continue
			}
			h, err := demo.New(ep.Demo, demo.Options{Version: ep.Labels["version"]})
			if err != nil {
				t.Close()
				return nil, fmt.Errorf("engine: spec.services[%d].endpoints[%d]: %w", i, j, err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Close()
				return nil, fmt.Errorf("engine: start demo %s for %s: %w", ep.Demo, svc.Host, err)
			}
			done := make(chan error, 1)
			go func() { done <- demo.Serve(ctx, ln, h) }()
			t.done = append(t.done, done)
			ep.Address = ln.Addr().String()
			t.started = append(t.started, DemoTarget{Host: svc.Host, Index: j, Demo: ep.Demo, Addr: ep.Address, Target: h})
		}
	}
	return t, nil
}

// SetMesh points every Bookinfo target's outbound calls at the proxy
// listener addr (the run's mesh listener), once the proxy has started.
func (t *DemoTargets) SetMesh(addr string) {
	for _, s := range t.started {
		if m, ok := s.Target.(demo.MeshCaller); ok {
			m.SetMesh(addr)
		}
	}
}

// Target returns the demo target started for endpoint index of the service
// host ("reviews", or its FQDN), so tests can read what reached it.
func (t *DemoTargets) Target(host string, index int) (demo.Target, bool) {
	for _, s := range t.started {
		if s.Index == index && scenarios.SameHost(s.Host, host) {
			return s.Target, true
		}
	}
	return nil, false
}

// All lists the started targets in endpoint order.
func (t *DemoTargets) All() []DemoTarget { return append([]DemoTarget(nil), t.started...) }

// HangUp drops the idle connections the Bookinfo targets hold to the
// proxy listener. The engine calls it when the load is done, before the
// proxy drains: a client's transport can hold a connection it dialled for
// a call that another connection served first, on which no request was
// ever sent, and the proxy's graceful shutdown (http.Server.Shutdown)
// waits up to 5 s for such a connection to send its first request
// (golang.org/issue/22682). A caller hangs up before its sidecar drains,
// so the drain waits only for requests really in flight.
func (t *DemoTargets) HangUp() {
	for _, s := range t.started {
		if m, ok := s.Target.(demo.MeshCaller); ok {
			m.CloseIdleConnections()
		}
	}
}

// Close stops every target and waits for them.
func (t *DemoTargets) Close() error {
	t.cancel()
	var errs []error
	for _, d := range t.done {
		errs = append(errs, <-d)
	}
	t.done = nil
	t.HangUp()
	return errors.Join(errs...)
}
