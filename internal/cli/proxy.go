package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
)

// defaultProxyListen is where `faultline proxy`'s mesh listener listens
// unless told.
const defaultProxyListen = "127.0.0.1:15001"

func proxyCommand() *cobra.Command {
	var o proxyOptions
	var gateways []string
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "proxy FILE",
		Short: "Run the proxy alone with the routes of FILE until interrupted",
		Long:  "Start the mesh listener and one listener per Gateway server with the routes of FILE, print each\nlistener's address, and serve until SIGINT or SIGTERM. Demo endpoints in FILE are started too.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout, o.Stderr, o.Logger = cmd.OutOrStdout(), cmd.ErrOrStderr(), logger(false)
			if accessLog {
				o.AccessLog = cmd.OutOrStdout()
			}
			o.Gateways = map[string]string{}
			for _, g := range gateways {
				name, addr, ok := strings.Cut(g, "=")
				if !ok || name == "" || addr == "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "faultline proxy: --gateway %q: want NAME=ADDR\n", g)
					return exitError{ExitInvalid}
				}
				o.Gateways[name] = addr
			}
			return exit(serveProxy(cmd.Context(), args[0], o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", defaultProxyListen, "address of the mesh listener")
	f.StringArrayVar(&gateways, "gateway", nil, "NAME=ADDR (or NAME:PORT=ADDR) address of a gateway listener; repeatable")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.BoolVar(&accessLog, "access-log", false, "print the access log (Istio format) to standard output")
	return cmd
}

// proxyOptions configure `faultline proxy`.
type proxyOptions struct {
	Listen    string            // mesh listener; "" = defaultProxyListen
	Gateways  map[string]string // gateway name (or name:port) → address
	Allow     []string
	AccessLog io.Writer
	Stdout    io.Writer
	Stderr    io.Writer
	Logger    *slog.Logger
}

// serveProxy runs the proxy alone with the routes of the experiment in
// path (and its demo and container targets) until ctx ends; it returns
// the exit code. Container endpoints are started before the proxy listens
// and removed when it stops; spec.actions, timed from a run's load, are
// not taken.
func serveProxy(ctx context.Context, path string, o proxyOptions) int {
	doc, allow, code := admitFile("proxy", path, o.Allow, o.Stderr)
	if doc == nil {
		return code
	}
	targets, err := experiment.StartDemoTargets(ctx, doc)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer targets.Close()
	ctrs, err := containers.StartAll(ctx, doc, baseDir(path))
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer func() {
		if err := ctrs.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		}
	}()
	if ctx.Err() != nil { // stopped while the containers started
		return ExitPass
	}
	for _, c := range ctrs.List() {
		fmt.Fprintf(o.Stdout, "container %s/%d (%s, id %.12s) on %s\n", c.Host, c.Endpoint, c.Container.Image, c.Container.ID, c.Container.Addr)
	}
	if n := len(doc.Experiment.Spec.Actions); n > 0 {
		fmt.Fprintf(o.Stderr, "faultline proxy: %d spec.actions not taken: they are timed from a run's load\n", n)
	}
	listen := o.Listen
	if listen == "" {
		listen = defaultProxyListen
	}
	px, err := proxy.Start(ctx, doc, listen, o.Gateways, proxy.Options{Seed: doc.Experiment.Spec.Seed, AccessLog: o.AccessLog, AllowTarget: allow, Logger: o.Logger})
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer px.Close()
	targets.SetMesh(px.MeshAddr())
	for _, l := range px.Listeners() {
		fmt.Fprintf(o.Stdout, "listener %s on %s\n", l.Name, listenerURL(l))
	}
	<-ctx.Done()
	return ExitPass
}

// listenerURL is how a client reaches l: http:// for an HTTP listener,
// tcp:// for one that proxies connections (TCP, or TLS passed through).
func listenerURL(l proxy.Listener) string {
	if l.Protocol == proxy.ProtocolHTTP {
		return "http://" + l.Addr
	}
	return "tcp://" + l.Addr
}
