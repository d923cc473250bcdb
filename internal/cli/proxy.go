package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/safety"
)

// defaultProxyListen is where `faultline proxy`'s mesh listener listens
// unless told.
const defaultProxyListen = "127.0.0.1:15001"

func proxyCommand() *cobra.Command {
	var o proxyOptions
	var gateways, binds []string
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "proxy FILE",
		Short: "Run the proxy alone with the routes of FILE until interrupted",
		Long: "Start the mesh listener and one listener per Gateway server with the routes of FILE, print each\n" +
			"listener's address, and serve until SIGINT or SIGTERM. FILE is an Experiment (spec.load may be left\n" +
			"out: the proxy sends no load), or plain Istio YAML whose service hosts --bind binds to upstreams.\n" +
			"Demo endpoints in FILE are started too. --admin serves Envoy's admin views, read-only: /stats,\n" +
			"/stats/prometheus, /clusters and /config_dump.",
		Args: cobra.ExactArgs(1),
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
			for _, raw := range binds {
				b, err := scenarios.ParseBind(raw)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "faultline proxy: --bind %v\n", err)
					return exitError{ExitInvalid}
				}
				o.Binds = append(o.Binds, b)
			}
			return exit(serveProxy(cmd.Context(), args[0], o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", defaultProxyListen, "address of the mesh listener")
	f.StringArrayVar(&gateways, "gateway", nil, "NAME=ADDR (or NAME:PORT=ADDR) address of a gateway listener; repeatable")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.StringArrayVar(&binds, "bind", nil, "HOST=ADDR (or HOST:PORT=ADDR) binds a service host of plain Istio YAML to an upstream address; repeatable")
	f.StringVar(&o.Admin, "admin", "", "serve Envoy's admin views (/stats, /stats/prometheus, /clusters, /config_dump) on ADDR; loopback unless --allow widens it")
	f.BoolVar(&accessLog, "access-log", false, "print the access log (Istio format) to standard output")
	f.StringVar(&o.CredentialsDir, "credentials-dir", "", credentialsDirHelp)
	return cmd
}

// proxyOptions configure `faultline proxy`.
type proxyOptions struct {
	Listen   string            // mesh listener; "" = defaultProxyListen
	Gateways map[string]string // gateway name (or name:port) → address
	// Binds bind the service hosts of plain Istio YAML to upstreams
	// (scenarios.ParseStandalone).
	Binds []scenarios.Bind
	// Admin is the address of Envoy's admin views; "" serves none.
	Admin     string
	Allow     []string
	AccessLog io.Writer
	Stdout    io.Writer
	Stderr    io.Writer
	Logger    *slog.Logger
	// CredentialsDir is the TLS credentials directory; "" is none.
	CredentialsDir string
}

// serveProxy runs the proxy alone with the routes of the experiment in
// path (and its demo and container targets), or of the plain Istio
// resources there with o.Binds, until ctx ends; it returns the exit code.
// Container endpoints are started before the proxy listens and removed
// when it stops; spec.actions, timed from a run's load, are not taken.
func serveProxy(ctx context.Context, path string, o proxyOptions) int {
	doc, allow, code := admitStandalone(path, o)
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
	creds, err := credentialsFS(o.CredentialsDir)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitInvalid
	}
	ca, err := proxy.NewCA()
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	px, err := proxy.Start(ctx, doc, listen, o.Gateways, proxy.Options{Seed: doc.Experiment.Spec.Seed, AccessLog: o.AccessLog, AllowTarget: allow, Logger: o.Logger,
		Credentials: creds, CA: ca})
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer px.Close()
	targets.SetMesh(px.MeshAddr())
	https := false
	for _, l := range px.Listeners() {
		fmt.Fprintf(o.Stdout, "listener %s on %s\n", l.Name, listenerURL(l))
		https = https || l.Protocol == proxy.ProtocolHTTPS
	}
	if https && creds == nil {
		fmt.Fprintf(o.Stdout, "https listeners present certificates of this CA:\n%s", ca.RootPEM())
	}
	if o.Admin != "" {
		stop, err := serveAdmin(o.Admin, px, o.Stdout, o.Logger)
		if err != nil {
			fmt.Fprintln(o.Stderr, "faultline proxy: --admin:", err)
			return ExitRunError
		}
		defer stop()
	}
	<-ctx.Done()
	return ExitPass
}

// admitStandalone reads and parses path as `faultline proxy` takes it
// (scenarios.ParseStandalone), prints its problems and warnings, and
// applies the target allow-list to its endpoints and to the --admin
// address; a nil document comes with the exit code to return.
func admitStandalone(path string, o proxyOptions) (*scenarios.Document, func(string) error, int) {
	src, err := readSource(path)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline:", err)
		return nil, nil, ExitInvalid
	}
	doc, err := scenarios.ParseStandalone(src, o.Binds)
	if err != nil {
		printInvalid(o.Stderr, err)
		return nil, nil, ExitInvalid
	}
	for _, w := range doc.Warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	allow, err := safety.AllowList(o.Allow)
	if err != nil {
		fmt.Fprintf(o.Stderr, "faultline proxy: --allow: %v\n", err)
		return nil, nil, ExitInvalid
	}
	if err := safety.CheckTargets(doc, allow); err != nil {
		fmt.Fprintf(o.Stderr, "faultline proxy: %v\n", err)
		return nil, nil, ExitInvalid
	}
	// The admin views serve whoever reaches them: their address must be
	// allowed as a target would be.
	if o.Admin != "" {
		if err := allow(o.Admin); err != nil {
			fmt.Fprintf(o.Stderr, "faultline proxy: --admin: %v\n", err)
			return nil, nil, ExitInvalid
		}
	}
	return doc, allow, ExitPass
}

// serveAdmin serves px's admin views on addr and prints where to
// stdout; stop closes the listener and waits for the server to return.
func serveAdmin(addr string, px *proxy.Proxy, stdout io.Writer, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{Handler: px.Admin(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin views stopped", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "admin on http://%s\n", ln.Addr())
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// listenerURL is how a client reaches l: http:// for an HTTP listener,
// https:// for one that terminates TLS, tcp:// for one that proxies
// connections (TCP, or TLS passed through).
func listenerURL(l proxy.Listener) string {
	switch l.Protocol {
	case proxy.ProtocolHTTP:
		return "http://" + l.Addr
	case proxy.ProtocolHTTPS:
		return "https://" + l.Addr
	}
	return "tcp://" + l.Addr
}
