package experiment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// PreflightTimeout bounds the reachability check of each endpoint.
const PreflightTimeout = 2 * time.Second

// Preflight dials every address endpoint of the experiment once before the
// load starts, so a target that is down makes the run an error that says
// which one, instead of a run full of 503s that measured nothing.
// Endpoints reached through the proxy's own listeners (gateways) and demo
// targets started by the run are not dialled.
func Preflight(ctx context.Context, doc *scenarios.Document) error {
	var d net.Dialer
	var errs []error
	for i, svc := range doc.Experiment.Spec.Services {
		for j, ep := range svc.Endpoints {
			// Container endpoints are started (and readiness-checked) by the run.
			if ep.Address == "" || ep.Demo != "" || ep.Container != nil {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, PreflightTimeout)
			conn, err := d.DialContext(dctx, "tcp", ep.Address)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("spec.services[%d].endpoints[%d]: target %s of %s is unreachable: %w", i, j, ep.Address, svc.Host, err))
				continue
			}
			conn.Close()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: preflight: %w", errors.Join(errs...))
	}
	return nil
}
