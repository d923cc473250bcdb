// Package tc is a testcontainers-go module for Faultline: Run starts
// `faultline serve` in a container from a local image and returns it with
// a client of its API, and Container.Environment and Container.Overlay are
// the common test: wire the service under test to an environment's
// egress, lay a fault over it for a while, check what the service does,
// take the fault away.
//
//	fl, err := tc.Run(ctx)                       // faultline:local, on the host's network
//	testcontainers.CleanupContainer(t, fl)
//	_, err = fl.Environment(ctx, envYAML)        // egress: 127.0.0.1:<port>, the service's HTTP_PROXY
//	ov, err := fl.Overlay(ctx, "shop", 30*time.Second, abortYAML)
//	… the service under test answers with its fallback …
//	err = ov.Remove(ctx)
//
// # Images
//
// The image is never pulled: it must be in the engine's image store
// (DefaultImage, faultline:local, is what docker-compose build tags in
// Faultline's repository after scripts/build-image.sh binary; WithImage
// names another). Run checks that it is there first and says how to build
// it when it is not, so testcontainers never gets as far as a pull. With
// testcontainers' hub.image.name.prefix set, testcontainers would look a
// name without a registry up under the prefix; Run checks that name too.
// Testcontainers' reaper (Ryuk) is an image of its own that it pulls when
// missing: where no registry is reachable, set
// TESTCONTAINERS_RYUK_DISABLED=true (exactly "true") before the first
// container starts and remove the containers with Terminate.
//
// # Networking
//
// By default the container shares the host's network (Docker's host
// network mode): the API, every environment's egress and listeners, and
// the service under test are all on the host's loopback, so a service
// started by the test (an httptest.Server, a process) is an endpoint at
// 127.0.0.1:<port>, which the server allows without --allow, and uses
// http://127.0.0.1:<egress port> as its HTTP_PROXY. Nothing has to listen
// beyond loopback, and no port mapping sits between the service and the
// data plane. This needs the engine's containers to share this machine's
// network: Docker Engine on Linux, as on CI runners. Docker Desktop,
// rootless Docker, a remote DOCKER_HOST or tests that run in a container
// themselves put "the host" elsewhere; use WithNetwork there.
//
// WithNetwork runs the container on a Docker network instead, for
// services under test that run in containers on that network too: they
// reach the egress at http://faultline:<egress port> and the server
// reaches them by their network aliases (allowed with WithAllow). The API,
// and the ports given to WithExposedPorts, are then published on
// 127.0.0.1.
//
// testcontainers' HostAccessPorts is not used: it starts an sshd image.
package tc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/client"
)

const (
	// DefaultImage is the image Run starts unless WithImage names
	// another: the tag docker-compose build gives Faultline's FROM
	// scratch image.
	DefaultImage = "faultline:local"
	// DefaultAlias is the container's name on a WithNetwork network
	// unless aliases are given.
	DefaultAlias = "faultline"
	// DefaultStartupTimeout bounds the wait for /healthz.
	DefaultStartupTimeout = 60 * time.Second
	// MinTokenBytes is the shortest token the server accepts.
	MinTokenBytes = 16
	// APIPort is the API's port inside the container with WithNetwork.
	APIPort = 8080
)

// dataDir is a tmpfs in the container for the SQLite database: the
// image's /data volume would outlive the container.
const dataDir = "/data"

// envDir is where WithEnvironmentFile's documents are copied.
const envDir = "/etc/faultline"

// ErrImageNotFound is returned by Run when the image is not in the
// engine's image store.
var ErrImageNotFound = errors.New("tc: image not found locally")

// Container is a running `faultline serve`. Terminate (from the embedded
// testcontainers container) stops and removes it. Reach it through URL
// and Addr, which name 127.0.0.1: testcontainers' Host and PortEndpoint
// may name the engine's gateway instead.
type Container struct {
	*testcontainers.DockerContainer
	url         string
	token       string
	client      *client.Client
	hostNetwork bool
}

// URL is the API's base URL on the host, http://127.0.0.1:<port>.
func (c *Container) URL() string { return c.url }

// Token is the server's admin token, which Client sends.
func (c *Container) Token() string { return c.token }

// Client is a client of the API, connected with the token.
func (c *Container) Client() *client.Client { return c.client }

// Addr is the address on the host, 127.0.0.1:<port>, where the
// container's port answers: the port itself on the host's network, the
// published one with WithNetwork (see WithExposedPorts).
func (c *Container) Addr(ctx context.Context, port int) (string, error) {
	if c.hostNetwork {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	p, err := c.MappedPort(ctx, strconv.Itoa(port)+"/tcp")
	if err != nil {
		return "", fmt.Errorf("tc: container port %d is not published (WithExposedPorts): %w", port, err)
	}
	return net.JoinHostPort("127.0.0.1", p.Port()), nil
}

// Run starts `faultline serve` from a local image with a fresh admin
// token of MinTokenBytes random bytes (or WithToken's), an empty database
// on a tmpfs, and the options' flags, waits until /healthz answers, and
// returns it. opts are this package's Options and any testcontainers
// customizers, applied after Run's own. On an error nothing is left
// running, and the error carries the container's last log lines.
func Run(ctx context.Context, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	var o options
	var more []testcontainers.ContainerCustomizer
	for _, opt := range opts {
		if f, ok := opt.(Option); ok {
			if err := f(&o); err != nil {
				return nil, err
			}
			continue
		}
		more = append(more, opt)
	}
	o.defaults()
	token := o.token
	if token == "" {
		token = newToken()
	}

	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("tc: no Docker engine: %w", err)
	}
	defer cli.Close()
	if err := checkImage(ctx, cli, o.image); err != nil {
		return nil, err
	}

	hostNetwork := o.network == ""
	if hostNetwork {
		if err := checkLocalEngine(cli); err != nil {
			return nil, err
		}
	}
	addr, apiPort, err := apiAddr(hostNetwork)
	if err != nil {
		return nil, err
	}
	reqOpts := o.request(hostNetwork, apiPort)
	reqOpts = append(reqOpts,
		testcontainers.WithCmd(serveArgs(&o, addr)...),
		// The token goes in the environment, not on the command line.
		testcontainers.WithEnv(map[string]string{"FAULTLINE_TOKEN": token}),
		testcontainers.WithTmpfs(map[string]string{dataDir: "rw"}),
		// /healthz over HTTP: the image has no shell for a port check.
		testcontainers.WithWaitStrategy(loopback{wait.ForHTTP("/healthz").WithPort(apiPort).
			WithStartupTimeout(o.startupTimeout).WithPollInterval(100 * time.Millisecond)}),
	)
	for i, src := range o.envFiles {
		reqOpts = append(reqOpts, testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: bytes.NewReader(src), ContainerFilePath: envPath(i), FileMode: 0o644,
		}))
	}
	reqOpts = append(reqOpts, more...)

	ctr, err := testcontainers.Run(ctx, o.image, reqOpts...)
	if err != nil {
		return nil, startError(ctx, ctr, o.image, hostNetwork, err)
	}
	c := &Container{DockerContainer: ctr, token: token, hostNetwork: hostNetwork}
	p, err := ctr.MappedPort(ctx, apiPort)
	if err == nil {
		c.url = "http://" + net.JoinHostPort("127.0.0.1", p.Port())
		c.client, err = client.New(c.url, client.WithToken(token))
	}
	if err != nil {
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("tc: the API's address: %w", err)
	}
	return c, nil
}

// apiAddr is the address serve listens on in the container, and the
// container port the wait strategy reads: a free port of the host's
// loopback on the host's network, else 0.0.0.0:APIPort (published on
// 127.0.0.1).
func apiAddr(hostNetwork bool) (addr, port string, err error) {
	if !hostNetwork {
		return net.JoinHostPort("0.0.0.0", strconv.Itoa(APIPort)), strconv.Itoa(APIPort) + "/tcp", nil
	}
	p, err := FreePort()
	if err != nil {
		return "", "", fmt.Errorf("tc: choose the API's port: %w", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), strconv.Itoa(p) + "/tcp", nil
}

// request is the networking part of the container request: the network
// mode or network, and the ports published on 127.0.0.1. (Host-config
// modifiers compose: a caller's runs after this one.)
func (o *options) request(hostNetwork bool, apiPort string) []testcontainers.ContainerCustomizer {
	if hostNetwork {
		return []testcontainers.ContainerCustomizer{
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
		}
	}
	ports := []string{apiPort}
	for _, p := range o.ports {
		ports = append(ports, strconv.Itoa(p)+"/tcp")
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(ports...),
		tcnetwork.WithNetworkName(o.aliases, o.network),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			for _, p := range ports {
				port, err := network.ParsePort(p)
				if err != nil {
					continue // WithExposedPorts reports it
				}
				// A random host port, on loopback only.
				hc.PortBindings[port] = []network.PortBinding{{HostIP: loopback}}
			}
		}),
	}
}

// serveArgs is the container's command: serve on addr with the database
// on the tmpfs and the options' flags.
func serveArgs(o *options, addr string) []string {
	args := []string{"serve", "--addr", addr, "--db", path.Join(dataDir, "faultline.db")}
	if !o.examples {
		args = append(args, "--no-examples")
	}
	for _, a := range o.allow {
		args = append(args, "--allow", a)
	}
	for _, h := range o.allowHosts {
		args = append(args, "--allow-host", h)
	}
	for i := range o.envFiles {
		args = append(args, "--environment", envPath(i))
	}
	return append(args, o.flags...)
}

// envPath is where the i-th environment file is copied.
func envPath(i int) string { return fmt.Sprintf("%s/environment-%d.yaml", envDir, i+1) }

// checkImage makes sure that ref, and the name testcontainers will look
// it up by, are in the engine's image store: testcontainers pulls an
// image it does not find.
func checkImage(ctx context.Context, cli *testcontainers.DockerClient, ref string) error {
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("%w: %s is not in the Docker engine's image store, and tc never pulls: "+
				"build it in Faultline's repository with `scripts/build-image.sh binary && docker-compose build` "+
				"(the static binary, then the FROM scratch image tagged faultline:local), or name a local image with tc.WithImage",
				ErrImageNotFound, ref)
		}
		return fmt.Errorf("tc: inspect image %s: %w", ref, err)
	}
	// A name without a registry is a Docker Hub name to testcontainers,
	// which puts its hub prefix in front.
	prefix := testcontainers.ReadConfig().Config.HubImageNamePrefix
	if prefix == "" || strings.Contains(ref, "/") {
		return nil
	}
	prefixed := path.Join(prefix, ref)
	if _, err := cli.ImageInspect(ctx, prefixed); err != nil {
		return fmt.Errorf("%w: testcontainers' hub.image.name.prefix (TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX) %q makes it run %s instead of %s, and that is not in the image store, so it would be pulled: "+
			"unset the prefix, or tag the image (docker tag %s %s)", ErrImageNotFound, prefix, prefixed, ref, ref, prefixed)
	}
	return nil
}

// checkLocalEngine refuses the host's network when the engine is
// reached over TCP at an address beyond loopback: its host network is
// another machine's. (An engine behind a socket may still keep its
// containers' networks apart from this machine's, as Docker Desktop and
// rootless Docker do; the start then times out, and the error says so.)
func checkLocalEngine(cli *testcontainers.DockerClient) error {
	u, err := url.Parse(cli.DaemonHost())
	if err != nil || u.Scheme == "unix" || u.Scheme == "npipe" {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); host == "localhost" || err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("tc: the Docker engine is at %s, not on this machine, so its host network is not this machine's loopback: run Faultline on a Docker network with tc.WithNetwork", u.Host)
}

// startError describes a failed start with the container's last log
// lines, and removes the container.
func startError(ctx context.Context, ctr *testcontainers.DockerContainer, image string, hostNetwork bool, err error) error {
	msg := fmt.Sprintf("tc: start Faultline (%s)", image)
	if ctr != nil {
		if tail := logTail(context.WithoutCancel(ctx), ctr, 40); tail != "" {
			err = fmt.Errorf("%w\nlast log lines:\n%s", err, tail)
		}
		_ = ctr.Terminate(context.WithoutCancel(ctx))
		if hostNetwork {
			msg += " on the host's network (it needs the engine's containers to share this machine's network; otherwise use tc.WithNetwork)"
		}
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func logTail(ctx context.Context, ctr *testcontainers.DockerContainer, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newToken is MinTokenBytes random bytes, hex-encoded.
func newToken() string {
	b := make([]byte, MinTokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// loopback runs a wait strategy against 127.0.0.1, where the API listens
// or is published, whatever address testcontainers takes the engine's
// host to be.
type loopback struct{ wait.Strategy }

func (l loopback) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	return l.Strategy.WaitUntilReady(ctx, loopbackTarget{target})
}

func (l loopback) String() string { return fmt.Sprintf("%v on 127.0.0.1", l.Strategy) }

type loopbackTarget struct{ wait.StrategyTarget }

func (loopbackTarget) Host(context.Context) (string, error) { return "127.0.0.1", nil }

var _ wait.Strategy = loopback{}
