// Package proxyrun runs the proxy alone with the routes of a file until
// its context ends: the command `faultline proxy` and the faultline-proxy
// binary are this package. It links the proxy, the document and the
// target allow-list and nothing of the server (no database, no
// containers, no load generator), so that faultline-proxy, the binary to
// wire a team's own services through, stays small on disk and in memory.
// Endpoints that need more than that (demo targets, containers) are
// started by a hook the caller passes.
package proxyrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/safety"
)

// DefaultListen is where the mesh listener listens unless told.
const DefaultListen = "127.0.0.1:15001"

// Endpoints starts the demo and container endpoints of doc, read from
// path, before the proxy listens, writing their addresses into doc and
// printing what it started to stdout. setMesh then receives the mesh
// listener's address (for targets that call each other through the
// proxy), and stop ends them all when the proxy has stopped.
type Endpoints func(ctx context.Context, doc *scenarios.Document, path string, stdout io.Writer) (setMesh func(meshAddr string), stop func() error, err error)

// Options configure a proxy run.
type Options struct {
	// Name prefixes every message: "faultline proxy" or
	// "faultline-proxy".
	Name     string
	Listen   string            // mesh listener; "" = DefaultListen
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
	// Endpoints starts demo and container endpoints; nil refuses a
	// document that has any, naming the field.
	Endpoints Endpoints
}

// Command is the command that runs the proxy with its flags: use is its
// usage line ("proxy FILE" under faultline, "faultline-proxy FILE" as a
// binary of its own) and name prefixes its messages.
func Command(use, name string, endpoints Endpoints) *cobra.Command {
	o := Options{Name: name, Endpoints: endpoints}
	var gateways, binds []string
	var accessLog bool
	long := "Start the mesh listener and one listener per Gateway server with the routes of FILE, print each\n" +
		"listener's address, and serve until SIGINT or SIGTERM. FILE is an Experiment (spec.load may be left\n" +
		"out: the proxy sends no load), or plain Istio YAML whose service hosts --bind binds to upstreams.\n"
	if endpoints != nil {
		long += "Demo and container endpoints in FILE are started too.\n"
	} else {
		long += "Endpoints must be addresses: demo and container endpoints are started by `faultline proxy`.\n"
	}
	long += "--admin serves Envoy's admin views, read-only: /stats, /stats/prometheus, /clusters and /config_dump."
	cmd := &cobra.Command{
		Use:   use,
		Short: "Run the proxy alone with the routes of FILE until interrupted",
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout, o.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if accessLog {
				o.AccessLog = cmd.OutOrStdout()
			}
			o.Gateways = map[string]string{}
			for _, g := range gateways {
				gw, addr, ok := strings.Cut(g, "=")
				if !ok || gw == "" || addr == "" {
					fmt.Fprintf(o.Stderr, "%s: --gateway %q: want NAME=ADDR\n", name, g)
					return exitcode.Of(exitcode.Invalid)
				}
				o.Gateways[gw] = addr
			}
			for _, raw := range binds {
				b, err := scenarios.ParseBind(raw)
				if err != nil {
					fmt.Fprintf(o.Stderr, "%s: --bind %v\n", name, err)
					return exitcode.Of(exitcode.Invalid)
				}
				o.Binds = append(o.Binds, b)
			}
			return exitcode.Of(Serve(cmd.Context(), args[0], o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", DefaultListen, "address of the mesh listener")
	f.StringArrayVar(&gateways, "gateway", nil, "NAME=ADDR (or NAME:PORT=ADDR) address of a gateway listener; repeatable")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.StringArrayVar(&binds, "bind", nil, "HOST=ADDR (or HOST:PORT=ADDR) binds a service host of plain Istio YAML to an upstream address; repeatable")
	f.StringVar(&o.Admin, "admin", "", "serve Envoy's admin views (/stats, /stats/prometheus, /clusters, /config_dump) on ADDR; loopback unless --allow widens it")
	f.BoolVar(&accessLog, "access-log", false, "print the access log (Istio format) to standard output")
	f.StringVar(&o.CredentialsDir, "credentials-dir", "", input.CredentialsDirHelp)
	return cmd
}

// Serve runs the proxy alone with the routes of the experiment in path
// (and its demo and container endpoints, through o.Endpoints), or of the
// plain Istio resources there with o.Binds, until ctx ends; it returns
// the exit code. spec.actions, timed from a run's load, are not taken.
func Serve(ctx context.Context, path string, o Options) int {
	doc, allow, code := admit(path, o)
	if doc == nil {
		return code
	}
	setMesh := func(string) {}
	if o.Endpoints != nil {
		set, stop, err := o.Endpoints(ctx, doc, path, o.Stdout)
		if err != nil {
			fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
			return exitcode.RunError
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
			}
		}()
		if ctx.Err() != nil { // stopped while the endpoints started
			return exitcode.Pass
		}
		setMesh = set
	}
	if n := len(doc.Experiment.Spec.Actions); n > 0 {
		fmt.Fprintf(o.Stderr, "%s: %d spec.actions not taken: they are timed from a run's load\n", o.Name, n)
	}
	listen := o.Listen
	if listen == "" {
		listen = DefaultListen
	}
	creds, err := input.CredentialsFS(o.CredentialsDir)
	if err != nil {
		fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
		return exitcode.Invalid
	}
	ca, err := proxy.NewCA()
	if err != nil {
		fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
		return exitcode.RunError
	}
	px, err := proxy.Start(ctx, doc, listen, o.Gateways, proxy.Options{Seed: doc.Experiment.Spec.Seed, AccessLog: o.AccessLog, AllowTarget: allow, Logger: o.Logger,
		Credentials: creds, CA: ca})
	if err != nil {
		fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
		return exitcode.RunError
	}
	defer px.Close()
	setMesh(px.MeshAddr())
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
			fmt.Fprintf(o.Stderr, "%s: --admin: %v\n", o.Name, err)
			return exitcode.RunError
		}
		defer stop()
	}
	<-ctx.Done()
	return exitcode.Pass
}

// admit reads and parses path (scenarios.ParseStandalone), prints its
// problems and warnings, refuses demo and container endpoints when there
// is no o.Endpoints to start them, and applies the target allow-list to
// the endpoints and to the --admin address; a nil document comes with the
// exit code to return.
func admit(path string, o Options) (*scenarios.Document, func(string) error, int) {
	src, err := input.ReadSource(path)
	if err != nil {
		fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
		return nil, nil, exitcode.Invalid
	}
	doc, err := scenarios.ParseStandalone(src, o.Binds)
	if err != nil {
		input.PrintInvalid(o.Stderr, err)
		return nil, nil, exitcode.Invalid
	}
	for _, w := range doc.Warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	if o.Endpoints == nil {
		if field := startedEndpoint(doc); field != "" {
			fmt.Fprintf(o.Stderr, "%s: %s: this binary starts no demo or container endpoints; give the endpoint an address, or run `faultline proxy`\n", o.Name, field)
			return nil, nil, exitcode.Invalid
		}
	}
	allow, err := safety.AllowList(o.Allow)
	if err != nil {
		fmt.Fprintf(o.Stderr, "%s: --allow: %v\n", o.Name, err)
		return nil, nil, exitcode.Invalid
	}
	if err := safety.CheckTargets(doc, allow); err != nil {
		fmt.Fprintf(o.Stderr, "%s: %v\n", o.Name, err)
		return nil, nil, exitcode.Invalid
	}
	// The admin views serve whoever reaches them: their address must be
	// allowed as a target would be.
	if o.Admin != "" {
		if err := allow(o.Admin); err != nil {
			fmt.Fprintf(o.Stderr, "%s: --admin: %v\n", o.Name, err)
			return nil, nil, exitcode.Invalid
		}
	}
	return doc, allow, exitcode.Pass
}

// startedEndpoint is the field of doc's first endpoint that must be
// started (a demo target or a container), or "" when every endpoint is
// an address.
func startedEndpoint(doc *scenarios.Document) string {
	for i, svc := range doc.Experiment.Spec.Services {
		for j, ep := range svc.Endpoints {
			switch {
			case ep.Demo != "":
				return fmt.Sprintf("spec.services[%d].endpoints[%d].demo", i, j)
			case ep.Container != nil:
				return fmt.Sprintf("spec.services[%d].endpoints[%d].container", i, j)
			}
		}
	}
	return ""
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
