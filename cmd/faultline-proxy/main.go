// Command faultline-proxy is Faultline's proxy alone, as a small static
// binary: what `faultline proxy` does, for wiring a team's own services
// through Faultline (a sidecar, a gateway, a fixed listener per service)
// without the server, the database, the load generator or the container
// client in the process. Its endpoints are addresses: demo and container
// endpoints are started by `faultline proxy`. Package proxyrun is the
// command; this hands it the arguments and a context that ends on SIGINT
// or SIGTERM.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/proxyrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd := proxyrun.Command("faultline-proxy FILE", "faultline-proxy", nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(os.Args[1:])
	err := cmd.ExecuteContext(ctx)
	stop()
	os.Exit(exitcode.FromError(err, os.Stderr, "faultline-proxy"))
}
