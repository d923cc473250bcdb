package tc

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Option configures Run. It is a testcontainers.ContainerCustomizer too,
// so Faultline's options and testcontainers' own (WithLogConsumers, …)
// go in one list; Run applies its own and hands the others on.
type Option func(*options) error

// Customize does nothing: Run reads an Option itself.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

var _ testcontainers.ContainerCustomizer = Option(nil)

// options are what the Options set; the zero value plus defaults() is a
// Faultline on the host's network from DefaultImage.
type options struct {
	image          string
	token          string
	allow          []string
	allowHosts     []string
	flags          []string
	envFiles       [][]byte // Environment documents copied into the container
	network        string
	aliases        []string
	ports          []int
	startupTimeout time.Duration
	examples       bool
}

func (o *options) defaults() {
	if o.image == "" {
		o.image = DefaultImage
	}
	if o.startupTimeout <= 0 {
		o.startupTimeout = DefaultStartupTimeout
	}
	if o.network != "" {
		if len(o.aliases) == 0 {
			o.aliases = []string{DefaultAlias}
		}
		// Listeners on the container's interfaces, so that the network
		// reaches them, and the API for containers that call it by name.
		o.allow = append(o.allow, "0.0.0.0")
		o.allowHosts = append(o.allowHosts, o.aliases...)
	}
}

// WithImage runs the local image ref instead of DefaultImage. It must be
// in the engine's image store: Run never pulls.
func WithImage(ref string) Option {
	return func(o *options) error {
		if ref == "" {
			return errors.New("tc: WithImage: empty image reference")
		}
		o.image = ref
		return nil
	}
}

// WithToken makes token the server's admin token instead of a fresh
// random one. The server refuses tokens shorter than MinTokenBytes.
func WithToken(token string) Option {
	return func(o *options) error {
		if len(token) < MinTokenBytes {
			return fmt.Errorf("tc: WithToken: a token of %d bytes; the server wants %d or more", len(token), MinTokenBytes)
		}
		o.token = token
		return nil
	}
}

// WithAllow widens the server's target allow-list (serve --allow): CIDRs,
// IPs or host names, such as the network alias of a service container
// an environment's endpoint names. Loopback is always allowed.
func WithAllow(entries ...string) Option {
	return func(o *options) error {
		o.allow = append(o.allow, entries...)
		return nil
	}
}

// WithAllowHost adds host names the API answers to (serve --allow-host)
// beyond the loopback ones, which it always answers to.
func WithAllowHost(names ...string) Option {
	return func(o *options) error {
		o.allowHosts = append(o.allowHosts, names...)
		return nil
	}
}

// WithFlags appends more flags to `faultline serve`, such as
// "--max-runs", "4". Run sets --addr and --db itself.
func WithFlags(args ...string) Option {
	return func(o *options) error {
		o.flags = append(o.flags, args...)
		return nil
	}
}

// WithEnvironmentFile copies the Environment document at path into the
// container and passes it to serve --environment, so the environment
// exists, and listens, when Run returns. Repeatable.
func WithEnvironmentFile(path string) Option {
	return func(o *options) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("tc: WithEnvironmentFile: %w", err)
		}
		o.envFiles = append(o.envFiles, b)
		return nil
	}
}

// WithNetwork runs Faultline on the Docker network name instead of the
// host's network, reachable there as each of aliases (DefaultAlias when
// none is given), for services under test that run in containers on that
// network: they use http://<alias>:<egress port> as HTTP_PROXY.
//
// The API is then published on a random port of 127.0.0.1. An
// environment's listeners must listen on the container's interfaces
// (egress: 0.0.0.0:15001), which serve allows only when told: Run passes
// --allow 0.0.0.0, and --allow-host with the aliases so that containers
// on the network may call the API too. Publish the listeners the test
// itself calls with WithExposedPorts.
func WithNetwork(name string, aliases ...string) Option {
	return func(o *options) error {
		if name == "" {
			return errors.New("tc: WithNetwork: empty network name")
		}
		o.network, o.aliases = name, append(o.aliases, aliases...)
		return nil
	}
}

// WithExposedPorts publishes container ports, such as an environment's
// egress, on random ports of 127.0.0.1 (Container.Addr says which). It
// is needed only with WithNetwork: on the host's network every listener
// is on the host's loopback already.
func WithExposedPorts(ports ...int) Option {
	return func(o *options) error {
		for _, p := range ports {
			if p < 1 || p > 65535 {
				return fmt.Errorf("tc: WithExposedPorts: port %d is not 1-65535", p)
			}
		}
		o.ports = append(o.ports, ports...)
		return nil
	}
}

// WithStartupTimeout bounds the wait for /healthz; default
// DefaultStartupTimeout.
func WithStartupTimeout(d time.Duration) Option {
	return func(o *options) error {
		o.startupTimeout = d
		return nil
	}
}

// WithExamples loads the shipped example experiments and game day into
// the server's empty database, as a plain `faultline serve` does. Without
// it the server starts empty.
func WithExamples() Option {
	return func(o *options) error {
		o.examples = true
		return nil
	}
}
