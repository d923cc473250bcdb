package cli

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/server"
)

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
	f.StringVar(&cfg.CredentialsDir, "credentials-dir", "", input.CredentialsDirHelp)
	f.StringVar(&cfg.KubeconfigDir, "kubeconfig-dir", envOr("FAULTLINE_KUBECONFIG_DIR", defaultKubeconfigDir()), "directory that mesh environments' kubeconfig files (spec.kubernetes.kubeconfig) must lie in; empty allows in-cluster credentials only")
	return cmd
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

// defaultKubeconfigDir is ~/.kube, where kubectl keeps its kubeconfig.
func defaultKubeconfigDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".kube")
}
