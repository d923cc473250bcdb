// Command faultline is Faultline's single binary: the API server and
// dashboard, headless experiment runs, validation, the proxy alone and the
// built-in demo targets.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/faultline/faultline/server"
)

// exitError carries a process exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand()
	err := root.ExecuteContext(ctx)
	if e, ok := err.(exitError); ok {
		os.Exit(e.code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline:", err)
		os.Exit(server.ExitInvalid)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "Chaos and resilience experiments through an Istio-compatible proxy, with fortio load",
		Long:          "Faultline stores experiments (Istio VirtualService and DestinationRule YAML plus load and a hypothesis),\nruns them through its own routing proxy with fortio load, and records what came back.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), runCommand(), validateCommand(), proxyCommand(), demoCommand(), scenariosCommand(), compareCommand(), gamedayCommand(),
		applyCommand(), getCommand(), leverCommand())
	root.AddCommand(exportCommand())
	root.AddCommand(agentCommand())
	return root
}

func agentCommand() *cobra.Command {
	var o server.AgentOptions
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
			if code := server.ServeAgent(cmd.Context(), o); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", server.DefaultAgentListen, "address of the REST API; beyond loopback, anyone who reaches it can start load")
	f.StringVar(&o.DataDir, "data-dir", "", "directory that keeps the runs' results (default: a temporary directory, removed on exit)")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the addresses load may be sent to beyond loopback (CIDRs, IPs, host names)")
	return cmd
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// splitList splits a comma-separated environment variable, dropping
// empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// defaultKubeconfigDir is ~/.kube, where kubectl keeps its kubeconfig.
func defaultKubeconfigDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".kube")
}

func serveCommand() *cobra.Command {
	var cfg server.Config
	var noExamples bool
	var memLimit string
	cfg.Tokens = os.Getenv("FAULTLINE_TOKENS")
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API, the dashboard and the run manager",
		Long: "Serve the REST API under /api/v1, the dashboard at /, /metrics and /openapi.json.\n" +
			"The first start on an empty database loads the shipped example experiments and game day.\n" +
			"Environment: FAULTLINE_ADDR, FAULTLINE_DB, FAULTLINE_TOKEN, FAULTLINE_TOKENS, FAULTLINE_ALLOW_HOST,\n" +
			"FAULTLINE_MEMORY_LIMIT, FAULTLINE_WEBHOOK_SECRET. Prefer FAULTLINE_TOKEN to --token, which other\n" +
			"users can read in the process list.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.LoadExamples = !noExamples
			if _, err := applyMemoryLimit(memLimit, os.Getenv("GOMEMLIMIT")); err != nil {
				return err
			}
			return server.Serve(cmd.Context(), cfg, logger(true), nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", envOr("FAULTLINE_ADDR", "127.0.0.1:8080"), "address of the API and dashboard")
	f.StringVar(&cfg.DB, "db", envOr("FAULTLINE_DB", "faultline.db"), "SQLite database file, or PostgreSQL URL (postgres://user@host:port/db?sslmode=disable)")
	f.StringVar(&cfg.Token, "token", os.Getenv("FAULTLINE_TOKEN"), "admin bearer token the API requires, 16 bytes or more (required beyond loopback); prefer FAULTLINE_TOKEN: a flag shows in the process list")
	f.StringVar(&cfg.TokensFile, "tokens", "", `file of API tokens with roles, one "name role token" a line (role: viewer, operator or admin); FAULTLINE_TOKENS holds more, comma-separated`)
	f.StringArrayVar(&cfg.AllowHosts, "allow-host", splitList(os.Getenv("FAULTLINE_ALLOW_HOST")), "host name the API and dashboard answer to beyond loopback names (* for any); repeatable")
	f.StringVar(&memLimit, "memory-limit", envOr("FAULTLINE_MEMORY_LIMIT", defaultMemoryLimit), "soft memory ceiling of the server (e.g. 512MiB, 2GiB, off); GOMEMLIMIT, when set, wins")
	f.StringSliceVar(&cfg.Allow, "allow", nil, "widen the target allow-list beyond loopback (CIDRs, IPs, host names); webhooks may reach public addresses and these")
	f.StringArrayVar(&cfg.AllowBuildDirs, "allow-build-dir", nil, "directory that container builds of documents sent to the API must lie under; repeatable (none: no builds)")
	f.StringArrayVar(&cfg.AllowImages, "allow-image", nil, "glob of local images container endpoints of documents sent to the API may run, such as faultline-demo:*; repeatable (none: no images)")
	f.IntVar(&cfg.MaxQueuedRuns, "max-queued", 64, "runs waiting queued; starting one more is refused with 429")
	f.IntVar(&cfg.MaxConcurrentRuns, "max-runs", 2, "runs executing at once; more wait queued")
	f.IntVar(&cfg.KeepRuns, "keep-runs", 200, "stored runs kept per experiment; the oldest finished ones are pruned (0 keeps all)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", server.DefaultLeaseTTL, "with several servers on one PostgreSQL database: how long a run stays owned by a server that stopped renewing its lease before another marks it interrupted")
	f.BoolVar(&noExamples, "no-examples", false, "do not load the example experiments and game day into an empty database")
	f.StringVar(&cfg.WebhookSecret, "webhook-secret", os.Getenv("FAULTLINE_WEBHOOK_SECRET"), "secret that signs game-day webhook deliveries (HMAC-SHA256); unset sends them unsigned")
	f.StringArrayVar(&cfg.EnvironmentFiles, "environment", nil, "Environment file to create or update (by name) at start-up; repeatable")
	f.StringVar(&cfg.KubeconfigDir, "kubeconfig-dir", envOr("FAULTLINE_KUBECONFIG_DIR", defaultKubeconfigDir()), "directory that mesh environments' kubeconfig files (spec.kubernetes.kubeconfig) must lie in; empty allows in-cluster credentials only")
	return cmd
}

func runCommand() *cobra.Command {
	var o server.RunOptions
	var accessLog, verbose bool
	var remote string
	cmd := &cobra.Command{
		Use:   "run FILE | --server URL NAME|FILE",
		Short: "Run one experiment, headless or on a server, and print its report",
		Long: "Run the experiment in FILE (- for standard input) through its own proxy listeners with fortio load,\n" +
			"print the report and store nothing. With --server (or FAULTLINE_SERVER) the experiment runs on that\n" +
			"server instead: NAME is a stored experiment, a FILE is applied first (created or updated by\n" +
			"metadata.name); FAULTLINE_TOKEN is the server's token. Exit codes: 0 pass (or no hypothesis),\n" +
			"1 hypothesis failed, 2 invalid input, 3 run error.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout, o.Stderr, o.Logger = cmd.OutOrStdout(), cmd.ErrOrStderr(), logger(verbose)
			if accessLog {
				o.AccessLog = cmd.ErrOrStderr()
			}
			var bar *progressBar
			if !o.JSON && isTerminal(os.Stderr) {
				bar = newProgressBar(os.Stderr)
				o.Progress = bar.update
			}
			var code int
			if remote != "" {
				code = server.RunRemote(cmd.Context(), args[0], remoteOptions(cmd, remote, ""), o)
			} else {
				code = server.RunFile(cmd.Context(), args[0], o)
			}
			if bar != nil {
				bar.finish()
			}
			if code != server.ExitPass {
				return exitError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.Int64Var(&o.Seed, "seed", 0, "seed for fault and routing draws (replays a run); 0 uses spec.seed or a fresh one")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.BoolVar(&accessLog, "access-log", false, "print the proxy's access log (Istio format) to standard error")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress to standard error")
	f.StringVar(&o.JUnitFile, "junit", "", "write JUnit XML (one test case per hypothesis check) to this file")
	f.StringVar(&o.FortioFile, "fortio-json", "", "write fortio's result JSON (loadable by fortio's report viewer) to this file")
	f.StringVar(&o.CSVFile, "csv", "", "write the latency histogram as CSV to this file")
	f.StringVar(&remote, "server", os.Getenv("FAULTLINE_SERVER"), "run on this Faultline server (its token in FAULTLINE_TOKEN) instead of headless")
	return cmd
}

func gamedayCommand() *cobra.Command {
	var o server.GameDayOptions
	var verbose bool
	var remote string
	run := &cobra.Command{
		Use:   "run FILE | --server URL NAME|FILE",
		Short: "Run a game day headless and print each step and a summary",
		Long: "Run the game day in FILE (kind GameDay): the steady-state check, the steps in order (parallel groups\n" +
			"at once, each experiment on its own proxy), then the steady-state check again. Experiment paths are\n" +
			"relative to FILE. A steady state that fails before the first step stops the game day with nothing\n" +
			"injected. Exit codes: 0 pass, 1 fail, 2 invalid input, 3 run error.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout, o.Stderr, o.Logger = cmd.OutOrStdout(), cmd.ErrOrStderr(), logger(verbose)
			var code int
			if remote != "" {
				code = server.GameDayRemote(cmd.Context(), args[0], remoteOptions(cmd, remote, ""), o)
			} else {
				code = server.RunGameDay(cmd.Context(), args[0], o)
			}
			if code != server.ExitPass {
				return exitError{code}
			}
			return nil
		},
	}
	f := run.Flags()
	f.BoolVar(&o.JSON, "json", false, "print the game-day report as JSON (step lines go to standard error)")
	f.StringVar(&o.JUnitFile, "junit", "", "write JUnit XML (one test case per step and steady-state check) to this file")
	f.Int64Var(&o.Seed, "seed", 0, "seed for fault and routing draws of every experiment; 0 uses spec.seed or a fresh one")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress to standard error")
	f.StringVar(&remote, "server", os.Getenv("FAULTLINE_SERVER"), "run on this Faultline server (its token in FAULTLINE_TOKEN): NAME is a stored game day, a FILE is applied first")
	cmd := &cobra.Command{
		Use:   "gameday",
		Short: "Game days: ordered experiments framed by steady-state checks",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(run)
	return cmd
}

func compareCommand() *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Set two runs side by side, with deltas and significance",
		Long: "Compare run B against run A. Each is a run id in the database (--db) or a report file written by\n" +
			"`faultline run --json`. Prints code distributions, the error ratio with a two-proportion z-test,\n" +
			"latency percentiles with a Kolmogorov-Smirnov test on the histograms, and the proxy's counters.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := server.Compare(cmd.Context(), args[0], args[1], db, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", envOr("FAULTLINE_DB", "faultline.db"), "database holding the runs: SQLite file or postgres:// URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	return cmd
}

func validateCommand() *cobra.Command {
	var environment string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check an experiment or environment file and list every error and warning",
		Long: "Parse and validate FILE (- for standard input) as Istio would, plus Faultline's own rules: an Experiment,\n" +
			"or an Environment and its baseline. An experiment on an environment (spec.environment) is checked laid over\n" +
			"that environment's baseline when --environment names its file. Exit 0 when valid (warnings allowed), 2 when not.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := server.Validate(args[0], environment, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&environment, "environment", "", "the Environment file an experiment with spec.environment runs on")
	return cmd
}

func exportCommand() *cobra.Command {
	var o server.ExportOptions
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Write an experiment as Istio resources and a fortio Job for kubectl apply -f -",
		Long: "Write the experiment in FILE (- for standard input) as a real mesh takes it, one YAML stream for\n" +
			"kubectl apply -f -: its Istio resources as written, in apply order, each in --namespace unless it names\n" +
			"one, then a batch/v1 Job that sends its load with fortio. What only Faultline acts on (spec.services,\n" +
			"spec.hypothesis, …) is left out and named in a comment at the top. Exit 0, or 2 when FILE is invalid.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := server.Export(args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "namespace", "default", "Kubernetes namespace of the Job and of every resource that names none")
	f.StringVar(&o.Domain, "domain", "cluster.local", "the cluster's DNS domain, for the Job's target URL")
	f.StringVar(&o.Out, "out", "-", "file to write (- for standard output)")
	return cmd
}

func proxyCommand() *cobra.Command {
	var o server.ProxyOptions
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
					return exitError{server.ExitInvalid}
				}
				o.Gateways[name] = addr
			}
			if code := server.ServeProxy(cmd.Context(), args[0], o); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:15001", "address of the mesh listener")
	f.StringArrayVar(&gateways, "gateway", nil, "NAME=ADDR (or NAME:PORT=ADDR) address of a gateway listener; repeatable")
	f.StringSliceVar(&o.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.BoolVar(&accessLog, "access-log", false, "print the access log (Istio format) to standard output")
	return cmd
}

func demoCommand() *cobra.Command {
	var o server.DemoOptions
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "demo httpbin|bookinfo|productpage|details|reviews|ratings",
		Short: "Run built-in demo targets",
		Long: "Run a built-in demo target until interrupted.\n\n" +
			"httpbin: an httpbin-like service (/status/{code}, /delay/{seconds}, /headers, /get, /ip, /anything)\n" +
			"  on --listen (default " + server.DefaultDemoListen + ").\n\n" +
			"bookinfo: Istio's Bookinfo chain, as separate processes would run it: productpage on --listen\n" +
			"  (default " + server.DefaultBookinfoListen + "), reviews v1 (no ratings), v2 (black stars), v3 (red stars) and\n" +
			"  ratings on the next four ports (--listen with port 0 gives each a free port). productpage calls\n" +
			"  http://reviews:9080/reviews/0 and reviews v2/v3 call http://ratings:9080/ratings/0 through the proxy\n" +
			"  listener --proxy (default " + server.DefaultDemoProxy + ", where `faultline proxy` listens), by Host name,\n" +
			"  propagating end-user and x-request-id. productpage gives reviews 3s and tries twice; reviews gives\n" +
			"  ratings 10s. Bind the hosts to these addresses in the experiment's spec.services (port 9080).\n\n" +
			"bookinfo --service productpage|details|reviews|ratings: one Bookinfo service in its own process or\n" +
			"  container, on --listen (default " + server.DefaultBookinfoListen + "; reviews needs --version v1|v2|v3). Its calls go by\n" +
			"  name (http://details:9080, http://reviews:9080, http://ratings:9080) through the forward proxy of\n" +
			"  HTTP_PROXY / http_proxy (NO_PROXY honoured), or directly without one; productpage asks details too\n" +
			"  (3s, one try).\n\n" +
			"productpage, details, reviews, ratings: one Bookinfo service alone on --listen, calling through the\n" +
			"  proxy listener --proxy (reviews needs --version v1|v2|v3).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"httpbin", "bookinfo", "productpage", "details", "reviews", "ratings"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout = cmd.OutOrStdout()
			if accessLog {
				o.AccessLog = cmd.OutOrStdout()
			}
			return server.ServeDemo(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "", "address to listen on (default "+server.DefaultDemoListen+"; bookinfo: productpage's, or --service's, "+server.DefaultBookinfoListen+", the others on the next ports)")
	f.StringVar(&o.Version, "version", "", "version label the target reports in X-Demo-Version (reviews: v1, v2 or v3)")
	f.StringVar(&o.Service, "service", "", "bookinfo: run only this service (productpage, details, reviews or ratings), calling by name through HTTP_PROXY")
	f.StringVar(&o.Proxy, "proxy", "", "proxy listener the Bookinfo services call each other through, without --service (default "+server.DefaultDemoProxy+")")
	f.BoolVar(&accessLog, "access-log", true, "print one line per request")
	return cmd
}

func scenariosCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the shipped example experiments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			examples, err := server.Examples()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, ex := range examples {
				fmt.Fprintf(w, "%-28s scenarios/%-30s %s\n", ex.Name, ex.File, ex.Description)
			}
			return nil
		},
	}
}

// progressBar draws a run's progress on a terminal.
type progressBar struct {
	bar *progressbar.ProgressBar
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{bar: progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription("starting"))}
}

func (p *progressBar) update(pr server.Progress) {
	p.bar.Describe(fmt.Sprintf("%6d req %7.0f qps  p50 %6.1f ms  p99 %6.1f ms  errors %d", pr.Requests, pr.QPS, pr.P50Ms, pr.P99Ms, pr.Errors))
	if f := pr.Fraction(); f >= 0 {
		_ = p.bar.Set(int(f * 1000))
	}
}

func (p *progressBar) finish() { _ = p.bar.Finish() }

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
