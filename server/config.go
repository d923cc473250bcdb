// Package server assembles `faultline serve`: the store, the managers, the
// scheduler, the REST API and the dashboard behind one HTTP listener
// (Serve). The commands themselves live in internal/cli.
package server

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/api"
	"github.com/faultline/faultline/server/safety"
)

// Config configures `faultline serve`.
type Config struct {
	// Addr is the API and dashboard address; default 127.0.0.1:8080.
	Addr string
	// DB is the SQLite file; default faultline.db.
	DB string
	// Token guards the API: the admin token named "admin"
	// (FAULTLINE_TOKEN). A token (this one, or one of TokensFile or
	// Tokens) is required when Addr is not loopback; each is at least
	// api.MinTokenBytes long.
	Token string
	// TokensFile names a file of tokens with roles, one "name role token"
	// a line (role: viewer, operator or admin; # starts a comment): serve
	// --tokens. Empty reads none.
	TokensFile string
	// Tokens holds more such lines, or entries separated by commas
	// (FAULTLINE_TOKENS).
	Tokens string
	// AllowHosts are the names, beyond loopback ones, that the API and
	// dashboard answer to in the Host header ("*": any); serve
	// --allow-host, FAULTLINE_ALLOW_HOST.
	AllowHosts []string
	// ReadTimeout bounds the time a client may take to send a request's
	// body; default 30s. Event streams are not bounded by it.
	ReadTimeout time.Duration
	// Allow widens the target allow-list beyond loopback (CIDRs, IPs, host
	// names). Game-day webhooks may reach public addresses and what it
	// names, loopback only when named.
	Allow []string
	// AllowBuildDirs are the directories under which container endpoints
	// of documents sent to the API may be built (serve --allow-build-dir);
	// none refuses every such build. Each must exist; links are resolved.
	AllowBuildDirs []string
	// AllowImages are globs ("faultline-demo:*") of the local images such
	// endpoints may run (serve --allow-image); none refuses every image.
	AllowImages []string
	// MaxQueuedRuns bounds the runs waiting queued; starting one more is
	// refused with 429. Default runs.DefaultMaxQueued (64).
	MaxQueuedRuns int
	// Limits are the load ceilings.
	Limits safety.Limits
	// MaxConcurrentRuns execute at once; more wait queued. Default 2.
	MaxConcurrentRuns int
	// KeepRuns bounds the stored runs per experiment (oldest finished ones
	// are pruned); 0 keeps all.
	KeepRuns int
	// LoadExamples stores the shipped example experiments into an empty database.
	LoadExamples bool
	// ShutdownTimeout bounds the graceful stop; default 10s.
	ShutdownTimeout time.Duration
	// EnvironmentFiles are Environment documents created or updated (by
	// name) at start-up, before the data planes listen.
	EnvironmentFiles []string
	// KubeconfigDir is where mesh environments' kubeconfig files
	// (spec.kubernetes.kubeconfig) may be read from; empty allows
	// in-cluster credentials only.
	KubeconfigDir string
	// LeaseTTL is how long a run's lease lasts unless renewed, on a
	// PostgreSQL database that several servers share (serve --lease-ttl):
	// a run whose server stopped renewing it for that long is marked
	// interrupted by another server. Default DefaultLeaseTTL (30s).
	LeaseTTL time.Duration
	// CredentialsDir is the directory of the TLS credentials that Gateway
	// servers and DestinationRules of runs name (serve
	// --credentials-dir): <credentialName>/tls.crt, tls.key, ca.crt, or
	// file paths inside it. Empty: terminating gateways present
	// certificates of each run's own CA.
	CredentialsDir string
	// WebhookSecret signs the webhook deliveries of game days
	// (HMAC-SHA256, header X-Faultline-Signature); empty sends them
	// unsigned.
	WebhookSecret string
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DB == "" {
		c.DB = "faultline.db"
	}
	if c.Limits == (safety.Limits{}) {
		c.Limits = safety.DefaultLimits
	}
	if c.MaxConcurrentRuns <= 0 {
		c.MaxConcurrentRuns = 2
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
}

// check refuses a configuration that would expose the API without a
// token, or with a token that is too short or malformed; it returns the
// API's tokens.
func (c *Config) check() ([]api.Token, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: --addr %q: %w", c.Addr, err)
	}
	tokens, err := c.tokens()
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 && !scenarios.IsLoopbackHost(host) {
		return nil, fmt.Errorf("server: --addr %s listens beyond loopback: set FAULTLINE_TOKEN (or --tokens FILE) so the API is not open", c.Addr)
	}
	if c.LeaseTTL < time.Second {
		return nil, fmt.Errorf("server: --lease-ttl %v: want at least 1s", c.LeaseTTL)
	}
	for _, h := range c.AllowHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, "/ ") {
			return nil, fmt.Errorf("server: --allow-host %q: want a host name or address, or *", h)
		}
	}
	return tokens, nil
}

// tokens gathers the API's tokens: Token as the admin named "admin", then
// those of TokensFile and Tokens.
func (c *Config) tokens() ([]api.Token, error) {
	var tokens []api.Token
	if c.Token != "" {
		tokens = append(tokens, api.Token{Name: "admin", Role: api.RoleAdmin, Secret: c.Token})
		if err := api.CheckTokens(tokens); err != nil {
			return nil, fmt.Errorf("server: FAULTLINE_TOKEN (--token): %w", err)
		}
	}
	if c.TokensFile != "" {
		text, err := os.ReadFile(c.TokensFile)
		if err != nil {
			return nil, fmt.Errorf("server: --tokens: %w", err)
		}
		more, err := api.ParseTokens(string(text))
		if err != nil {
			return nil, fmt.Errorf("server: --tokens %s: %w", c.TokensFile, err)
		}
		tokens = append(tokens, more...)
	}
	if c.Tokens != "" {
		more, err := api.ParseTokens(c.Tokens)
		if err != nil {
			return nil, fmt.Errorf("server: FAULTLINE_TOKENS: %w", err)
		}
		tokens = append(tokens, more...)
	}
	if err := api.CheckTokens(tokens); err != nil {
		return nil, fmt.Errorf("server: tokens: %w", err)
	}
	return tokens, nil
}
