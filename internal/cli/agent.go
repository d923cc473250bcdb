package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"fortio.org/fortio/jrpc"
	"fortio.org/fortio/rapi"
	fortiolog "fortio.org/log"
	"github.com/spf13/cobra"

	"github.com/faultline/faultline/server/safety"
)

// defaultAgentListen is where `faultline agent` listens unless told:
// loopback, since fortio's REST API has no authentication.
const defaultAgentListen = "127.0.0.1:8089"

// agentAPIPath is where the agent serves fortio's REST API, as `fortio
// server` does.
const agentAPIPath = "/fortio/"

// maxAgentRunBody bounds the JSON body of a run request.
const maxAgentRunBody = 1 << 20

func agentCommand() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve fortio's REST API, so runs can send their load from this machine",
		Long: "Serve fortio's REST API (what `fortio server` serves) under /fortio/ on --listen until interrupted, so\n" +
			"experiments can send a share of their load from this machine: list http://ADDR in spec.load.agents.\n" +
			"The API has no authentication: it listens on loopback unless told otherwise, and sends load only to\n" +
			"the allow-list (loopback unless --allow widens it to the runs' entry listeners). It logs\n" +
			"\"faultline agent serving\" with its address once it listens.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Stderr, o.Logger = cmd.ErrOrStderr(), logger(true)
			return exit(serveAgent(cmd.Context(), o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", defaultAgentListen, "address of the REST API; beyond loopback, anyone who reaches it can start load")
	f.StringVar(&o.DataDir, "data-dir", "", "directory that keeps the runs' results (default: a temporary directory, removed on exit)")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the addresses load may be sent to beyond loopback (CIDRs, IPs, host names)")
	return cmd
}

// agentOptions configure `faultline agent`.
type agentOptions struct {
	// Listen is the REST API's address; "" means defaultAgentListen.
	Listen string
	// DataDir keeps the runs' results, which is how a run reads an agent's
	// share back; "" means a temporary directory, removed on exit.
	DataDir string
	// Allow widens the addresses the agent sends load to beyond loopback
	// (CIDRs, IPs, host names), as a run's --allow widens its targets.
	Allow  []string
	Stderr io.Writer
	Logger *slog.Logger
}

// serveAgent serves fortio's REST API (fortio.org/fortio/rapi, what `fortio
// server` serves) under /fortio/ until ctx ends, so that runs can send
// their load from this machine (spec.load.agents); it returns the exit
// code. It logs "faultline agent serving" with the address once it
// accepts connections. Fortio prints each run's text report on standard
// output, as `fortio server` does.
//
// The REST API has no authentication, so the run endpoint is guarded: it
// starts HTTP load only, and only to addresses on the allow-list (loopback
// unless Allow widens it). Runs still going when ctx ends are stopped.
func serveAgent(ctx context.Context, o agentOptions) int {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	allow, err := safety.AllowList(o.Allow)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline agent: --allow:", err)
		return ExitInvalid
	}
	dir := o.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "faultline-agent-"); err != nil {
			fmt.Fprintln(o.Stderr, "faultline agent:", err)
			return ExitRunError
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(o.Stderr, "faultline agent: --data-dir:", err)
		return ExitInvalid
	}
	listen := o.Listen
	if listen == "" {
		listen = defaultAgentListen
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline agent:", err)
		return ExitRunError
	}

	// fortio's logger is process-wide and logs every REST call at Info.
	fortiolog.SetLogLevelQuiet(fortiolog.Warning)
	api := http.NewServeMux()
	rapi.AddHandlers(api, "", agentAPIPath, dir)
	mux := http.NewServeMux()
	mux.Handle(agentAPIPath+rapi.RestRunURI, guardRun(api, allow))
	mux.Handle("/", api)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info("faultline agent serving", "addr", addr, "api", "http://"+addr+agentAPIPath, "data", dir)

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(o.Stderr, "faultline agent:", err)
		return ExitRunError
	}
	rapi.StopByRunID(0, false) // every run still going
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("stopping the agent's API", "err", err)
	}
	<-served
	return ExitPass
}

// guardRun passes a run request on to fortio only when it asks for HTTP
// load to an address on the allow-list: an agent must not become a relay
// that sends load anywhere for anyone who reaches it.
func guardRun(next http.Handler, allow func(hostport string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// fortio reads the body before the form, and so does this.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAgentRunBody))
		if err != nil {
			rapi.Error(w, "body read error", err)
			return
		}
		var jd map[string]any
		if len(body) > 0 {
			// A body fortio cannot read is fortio's to refuse, and it then runs nothing.
			jd, _ = rapi.GetConfigAtPath(r.FormValue("jsonPath"), body)
		}
		if err := agentTarget(r, jd, allow); err != nil {
			_ = jrpc.Reply(w, http.StatusForbidden, jrpc.NewErrorReply("refused", err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// agentTarget checks the load a run request asks for, reading its
// arguments as fortio does (query first, then the JSON body): HTTP only,
// to an allowed host:port (the resolve address, when set, is the one
// dialled).
func agentTarget(r *http.Request, jd map[string]any, allow func(hostport string) error) error {
	if runner := rapi.FormValue(r, jd, "runner"); runner != "" && runner != "http" {
		return fmt.Errorf("runner %q: this agent sends HTTP load only", runner)
	}
	raw := strings.TrimSpace(rapi.FormValue(r, jd, "url"))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("url %q: this agent sends load to http:// and https:// URLs only", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if ip := rapi.FormValue(r, jd, "resolve"); ip != "" {
		host = ip
	}
	return allow(net.JoinHostPort(host, port))
}
