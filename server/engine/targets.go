package engine

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
	cancel context.CancelFunc
	done   []chan error
	// HTTPBins are the started httpbin targets, by "host/index" in
	// endpoint order, so tests can see what reached each one.
	HTTPBins []*demo.HTTPBin
}

// StartDemoTargets starts one demo server per `demo` endpoint of doc and
// writes its loopback address into the endpoint. The version label, if any,
// becomes the target's version.
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
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Close()
				return nil, fmt.Errorf("engine: start demo %s for %s: %w", ep.Demo, svc.Host, err)
			}
			h := demo.NewHTTPBin(demo.HTTPBinOptions{Version: ep.Labels["version"]})
			done := make(chan error, 1)
			go func() { done <- demo.Serve(ctx, ln, h) }()
			t.done = append(t.done, done)
			t.HTTPBins = append(t.HTTPBins, h)
			ep.Address = ln.Addr().String()
		}
	}
	return t, nil
}

// Close stops every target and waits for them.
func (t *DemoTargets) Close() error {
	t.cancel()
	var errs []error
	for _, d := range t.done {
		errs = append(errs, <-d)
	}
	t.done = nil
	return errors.Join(errs...)
}
