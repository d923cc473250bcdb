// Command faultline is Faultline's single binary: the API server and
// dashboard, headless experiment runs, validation, the proxy alone and the
// built-in demo targets. The commands live in internal/cli; this only
// hands them the arguments and a context that ends on SIGINT or SIGTERM.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/faultline/faultline/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
