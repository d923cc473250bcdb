package containers_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/internal/wait"
)

var (
	containerLine = regexp.MustCompile(`^container httpbin/0 \((\S+), id ([0-9a-f]{12})\) on (127\.0\.0\.1:\d+)$`)
	listenerLine  = regexp.MustCompile(`^listener mesh on http://(\S+)$`)
)

// `faultline proxy FILE` starts the container endpoints before it listens,
// serves through them, and removes them when interrupted.
func TestProxyCommandStartsAndRemovesContainers(t *testing.T) {
	tag, _ := demoImage(t)
	bin := faultlineBinary(t)
	file := filepath.Join(t.TempDir(), "proxy.yaml")
	src := experimentYAML(`{image: "`+tag+`", port: 8080, wait: {path: /get}}`, `{url: "http://httpbin:8000/get", requests: 5}`,
		"  actions:\n  - {at: 1s, container: httpbin, action: pause}\n")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "proxy", file, "--listen", "127.0.0.1:0")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()

	var id, addr, mesh string
	for mesh == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("faultline proxy ended before listening: %v\nstderr:\n%s", <-exited, &stderr)
			}
			if m := containerLine.FindStringSubmatch(l); m != nil {
				if m[1] != tag {
					t.Errorf("container line names image %s, want %s", m[1], tag)
				}
				id, addr = m[2], m[3]
			} else if m := listenerLine.FindStringSubmatch(l); m != nil {
				if id == "" {
					t.Fatal("the proxy listened before its container was reported started")
				}
				mesh = m[1]
			} else {
				t.Errorf("unexpected output line %q", l)
			}
		case <-ctx.Done():
			t.Fatalf("no listener line: %v\nstderr:\n%s", ctx.Err(), &stderr)
		}
	}
	// stderr said so before stdout's listener line, but it reaches the
	// buffer through a copying goroutine of its own.
	if !wait.Until(10*time.Second, func() bool { return strings.Contains(stderr.String(), "1 spec.actions not taken") }) {
		t.Fatalf("stderr does not say the actions are not taken:\n%s", &stderr)
	}

	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	info, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || info.Container.State == nil || !info.Container.State.Running {
		t.Fatalf("container %s is not running while the proxy serves: %v", id, err)
	}

	// Requests through the proxy reach the container; so does its own port.
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	for i := range 10 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+mesh+"/get", nil)
		req.Host = "httpbin:8000"
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("request %d through the proxy: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"url"`) {
			t.Fatalf("request %d through the proxy: %d %s", i, resp.StatusCode, body)
		}
	}
	if resp, err := hc.Get("http://" + addr + "/get"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("container's published port %s: %v", addr, err)
	} else {
		resp.Body.Close()
	}

	// Interrupted, it removes the container and exits 0.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("faultline proxy after SIGINT: %v\nstderr:\n%s", err, &stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("faultline proxy did not stop within 30s of SIGINT\nstderr:\n%s", &stderr)
	}
	if _, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		t.Errorf("container %s after the proxy stopped: inspect err = %v, want no such container", id, err)
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
