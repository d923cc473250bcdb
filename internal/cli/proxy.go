package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/proxyrun"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
)

// proxyCommand is `faultline proxy`: package proxyrun's command, with the
// demo and container endpoints started here.
func proxyCommand() *cobra.Command {
	return proxyrun.Command("proxy FILE", "faultline proxy", startEndpoints)
}

// startEndpoints starts doc's demo targets and containers (proxyrun.Endpoints);
// stop removes the containers and stops the targets.
func startEndpoints(ctx context.Context, doc *scenarios.Document, path string, stdout io.Writer) (setMesh func(string), stop func() error, err error) {
	targets, err := experiment.StartDemoTargets(ctx, doc)
	if err != nil {
		return nil, nil, err
	}
	ctrs, err := containers.StartAll(ctx, doc, baseDir(path))
	if err != nil {
		targets.Close()
		return nil, nil, err
	}
	for _, c := range ctrs.List() {
		fmt.Fprintf(stdout, "container %s/%d (%s, id %.12s) on %s\n", c.Host, c.Endpoint, c.Container.Image, c.Container.ID, c.Container.Addr)
	}
	stop = func() error {
		err := ctrs.Close(context.WithoutCancel(ctx))
		targets.Close()
		return err
	}
	return targets.SetMesh, stop, nil
}
