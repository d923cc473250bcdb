// Package server assembles Faultline: the store, the run manager, the REST
// API and dashboard behind one HTTP listener (Serve), and the headless
// commands the CLI offers (RunFile, Validate, ServeProxy, ServeDemo).
package server

import (
	"fmt"
	"net"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server/engine"
)

// Config configures `faultline serve`.
type Config struct {
	// Addr is the API and dashboard address; default 127.0.0.1:8080.
	Addr string
	// DB is the SQLite file; default faultline.db.
	DB string
	// Token guards the API; required when Addr is not loopback.
	Token string
	// Allow widens the target allow-list beyond loopback (CIDRs, IPs, host names).
	Allow []string
	// Limits are the load ceilings.
	Limits engine.Limits
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
	if c.Limits == (engine.Limits{}) {
		c.Limits = engine.DefaultLimits
	}
	if c.MaxConcurrentRuns <= 0 {
		c.MaxConcurrentRuns = 2
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
}

// check refuses a configuration that would expose the API without a token.
func (c *Config) check() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("server: --addr %q: %w", c.Addr, err)
	}
	if c.Token == "" && !proxy.IsLoopbackHost(host) {
		return fmt.Errorf("server: --addr %s listens beyond loopback: set FAULTLINE_TOKEN (or --token) so the API is not open", c.Addr)
	}
	return nil
}
