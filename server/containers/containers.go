// Package containers runs an experiment's container endpoints with
// testcontainers-go: it builds or reuses a local image (never pulling),
// publishes the container port on a pinned 127.0.0.1 port so the endpoint
// address survives stop/start, waits for HTTP readiness, takes timed
// actions (pause, kill, ...) and always removes what it started.
package containers

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
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ErrNoEngine is returned when no Docker engine answers.
var ErrNoEngine = errors.New("container targets need a Docker engine")

// LogTailLines is how many log lines a report keeps per container.
const LogTailLines = 40

// DefaultStartupTimeout bounds the readiness wait when the spec sets none.
const DefaultStartupTimeout = 30 * time.Second

// Label marks every container and built image Faultline starts.
const Label = "io.faultline.target"

// Spec is one container to start.
type Spec struct {
	// Field is the experiment field the container comes from, for errors.
	Field string
	// Image is an existing local image; or BuildContext (an absolute
	// directory) and Dockerfile (relative to it) build one.
	Image        string
	BuildContext string
	Dockerfile   string
	// Port is the container port to publish on 127.0.0.1.
	Port int
	Env  map[string]string
	Cmd  []string
	// WaitPath is the HTTP readiness path, default "/".
	WaitPath       string
	StartupTimeout time.Duration
}

// Container is a started container.
type Container struct {
	ctr *testcontainers.DockerContainer
	cli *testcontainers.DockerClient
	// Addr is the 127.0.0.1:port the container port is published on; it
	// stays the same across stop/start.
	Addr  string
	Image string
	ID    string
	built bool
}

// Ping checks that a Docker engine answers.
func Ping(ctx context.Context) error {
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	return cli.Close()
}

func newClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	if host, from := chosenHost(); host != "" {
		if err := pingHost(ctx, host); err != nil {
			return nil, fmt.Errorf("%w: none answers at %s (from %s): %v", ErrNoEngine, host, from, err)
		}
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoEngine, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoEngine, err)
	}
	return cli, nil
}

// chosenHost is the Docker engine the user chose, and where the choice
// comes from: tc.host in ~/.testcontainers.properties, else DOCKER_HOST
// (the order testcontainers-go follows). Empty means the default socket.
func chosenHost() (host, from string) {
	if h := testcontainers.ReadConfig().Config.TestcontainersHost; h != "" {
		return h, "tc.host in ~/.testcontainers.properties"
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h, "DOCKER_HOST"
	}
	return "", ""
}

// pingHost checks that the engine at host answers. When a chosen engine
// does not answer, testcontainers would quietly fall back to the default
// socket; Faultline refuses instead, as the docker CLI does, rather than
// start targets on an engine the user did not choose.
func pingHost(ctx context.Context, host string) error {
	cli, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return err
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = cli.Ping(pctx, client.PingOptions{})
	return err
}

// ImageExists reports whether ref is present in the local image store.
func ImageExists(ctx context.Context, ref string) (bool, error) {
	cli, err := newClient(ctx)
	if err != nil {
		return false, err
	}
	defer cli.Close()
	return imageExists(ctx, cli, ref)
}

func imageExists(ctx context.Context, cli *testcontainers.DockerClient, ref string) (bool, error) {
	_, err := cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case strings.Contains(strings.ToLower(err.Error()), "no such image") || strings.Contains(err.Error(), "not found"):
		return false, nil
	}
	return false, err
}

// Start starts the container described by s and waits until it answers
// HTTP on its port. On failure nothing is left behind and the error
// carries the reason and the last log (or build) lines.
func Start(ctx context.Context, s Spec) (*Container, error) {
	cli, err := newClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Field, err)
	}
	if s.Image != "" {
		ok, err := imageExists(ctx, cli, s.Image)
		if err != nil {
			cli.Close()
			return nil, fmt.Errorf("%s.image: inspect %s: %w", s.Field, s.Image, err)
		}
		if !ok {
			cli.Close()
			return nil, fmt.Errorf("%s.image: image %q does not exist locally (Faultline never pulls: build or load it first, or use build)", s.Field, s.Image)
		}
	}
	hostPort, err := freePort()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%s: choose a host port: %w", s.Field, err)
	}
	cport, err := network.ParsePort(strconv.Itoa(s.Port) + "/tcp")
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%s.port: %w", s.Field, err)
	}
	waitPath := s.WaitPath
	if waitPath == "" {
		waitPath = "/"
	}
	timeout := s.StartupTimeout
	if timeout <= 0 {
		timeout = DefaultStartupTimeout
	}
	var buildLog bytes.Buffer
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(cport.String()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{cport: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort)}}}
		}),
		testcontainers.WithLabels(map[string]string{Label: "true"}),
		testcontainers.WithWaitStrategy(loopback{wait.ForHTTP(waitPath).WithPort(cport.String()).WithStartupTimeout(timeout)}),
	}
	if len(s.Env) > 0 {
		opts = append(opts, testcontainers.WithEnv(s.Env))
	}
	if len(s.Cmd) > 0 {
		opts = append(opts, testcontainers.WithCmd(s.Cmd...))
	}
	image := s.Image
	if image == "" {
		tag := randomTag()
		image = "faultline-target:" + tag
		df := s.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		opts = append(opts, testcontainers.WithDockerfile(testcontainers.FromDockerfile{
			Context: s.BuildContext, Dockerfile: df, Repo: "faultline-target", Tag: tag,
			BuildLogWriter: &buildLog, KeepImage: false,
		}))
	}
	ctr, err := testcontainers.Run(ctx, s.Image, opts...)
	if err != nil {
		tail := ""
		if ctr != nil {
			tail = logTail(context.WithoutCancel(ctx), ctr, LogTailLines)
			_ = terminate(context.WithoutCancel(ctx), ctr, cli)
		} else if s.Image == "" {
			tail = lastLines(buildLog.String(), LogTailLines)
			// A failed build may leave a tagged or dangling image behind.
			_, _ = cli.ImageRemove(context.WithoutCancel(ctx), image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
		cli.Close()
		msg := fmt.Sprintf("%s: start container (%s): %v", s.Field, image, err)
		if s.Image == "" && ctr == nil {
			msg = fmt.Sprintf("%s.build: build image %s from %s: %v", s.Field, image, s.BuildContext, err)
		}
		if tail != "" {
			msg += "\nlast log lines:\n" + tail
		}
		return nil, errors.New(msg)
	}
	return &Container{ctr: ctr, cli: cli, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort)),
		Image: image, ID: ctr.GetContainerID(), built: s.Image == ""}, nil
}

// Do takes action (pause, unpause, stop, start, kill, restart) on the
// container. The published port is pinned, so Addr stays valid.
func (c *Container) Do(ctx context.Context, action string) error {
	secs := 1
	var err error
	switch action {
	case "pause":
		_, err = c.cli.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{})
	case "unpause":
		_, err = c.cli.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{})
	case "stop":
		_, err = c.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs})
	case "start":
		_, err = c.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{})
	case "kill":
		_, err = c.cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGKILL"})
	case "restart":
		_, err = c.cli.ContainerRestart(ctx, c.ID, client.ContainerRestartOptions{Timeout: &secs})
	default:
		return fmt.Errorf("unknown container action %q", action)
	}
	return err
}

// LogTail returns the last n lines of the container's output.
func (c *Container) LogTail(ctx context.Context, n int) string { return logTail(ctx, c.ctr, n) }

// Remove stops and removes the container, and the image if it was built
// for the run.
func (c *Container) Remove(ctx context.Context) error {
	defer c.cli.Close()
	return terminate(ctx, c.ctr, c.cli)
}

func terminate(ctx context.Context, ctr *testcontainers.DockerContainer, cli *testcontainers.DockerClient) error {
	// A paused container cannot be stopped gracefully; unpause it first.
	_, _ = cli.ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{})
	err := ctr.Terminate(ctx, testcontainers.StopTimeout(time.Second))
	if err == nil {
		return nil
	}
	// Make sure nothing is left, whatever Terminate tripped over.
	if _, rerr := cli.ContainerRemove(ctx, ctr.GetContainerID(), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rerr == nil || strings.Contains(rerr.Error(), "No such container") {
		return nil
	}
	return err
}

func logTail(ctx context.Context, ctr *testcontainers.DockerContainer, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 4<<20))
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomTag() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loopback runs a wait strategy against 127.0.0.1, where the port is
// published: when Faultline itself runs in a container, testcontainers
// would otherwise aim at the Docker gateway's address, which a port bound to
// 127.0.0.1 does not answer on.
type loopback struct{ wait.Strategy }

func (l loopback) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	return l.Strategy.WaitUntilReady(ctx, loopbackTarget{target})
}

type loopbackTarget struct{ wait.StrategyTarget }

func (loopbackTarget) Host(context.Context) (string, error) { return "127.0.0.1", nil }
