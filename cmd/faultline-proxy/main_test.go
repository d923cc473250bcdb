package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/spawn"
)

// binary is the faultline-proxy binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	var remove func()
	binary, remove = spawn.Build("faultline-proxy")
	code := m.Run()
	remove()
	os.Exit(code)
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// routes is plain Istio YAML: requests to httpbin:8000 that carry
// x-chaos: abort get a 503 from the proxy, the others reach httpbin.
const routes = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - match: [{headers: {x-chaos: {exact: abort}}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin, port: {number: 8000}}}]
  - route: [{destination: {host: httpbin, port: {number: 8000}}}]
`

// TestServesRoutesUntilSIGTERM runs the binary as a user would, sends
// requests through its mesh listener to a real upstream, counts what
// comes back, then stops it with SIGTERM.
func TestServesRoutesUntilSIGTERM(t *testing.T) {
	var reached atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "httpbin")
	}))
	t.Cleanup(upstream.Close)
	cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--access-log",
		"--bind", "httpbin="+strings.TrimPrefix(upstream.URL, "http://"), writeFile(t, routes))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	listener := regexp.MustCompile(`^listener mesh on http://(\S+)$`)
	var mesh string
	for mesh == "" && lines.Scan() {
		if m := listener.FindStringSubmatch(lines.Text()); m != nil {
			mesh = m[1]
		}
	}
	if mesh == "" {
		t.Fatalf("no mesh listener printed; stderr:\n%s", stderr.String())
	}
	logged := make(chan []string, 1)
	go func() {
		var log []string
		for lines.Scan() {
			log = append(log, lines.Text())
		}
		if err := lines.Err(); err != nil {
			log = append(log, "read: "+err.Error())
		}
		logged <- log
	}()

	codes := map[int]int{}
	for i := range 20 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+mesh+"/get", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "httpbin:8000"
		if i%2 == 0 {
			req.Header.Set("x-chaos", "abort")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == 200 && string(body) != "httpbin" {
			t.Errorf("200 with body %q, want httpbin", body)
		}
	}
	if codes[200] != 10 || codes[503] != 10 || len(codes) != 2 {
		t.Errorf("codes = %v, want 10 × 200 and 10 × 503", codes)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The access log ends when the process has flushed it and exited;
	// only then may Wait close the pipe.
	var log []string
	select {
	case log = <-logged:
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after SIGTERM")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
	if n := reached.Load(); n != 10 {
		t.Errorf("the upstream saw %d requests, want 10", n)
	}
	var aborted int
	for _, l := range log {
		if strings.Contains(l, `"GET /get HTTP/1.1" 503 FI fault_filter_abort`) {
			aborted++
		}
	}
	if aborted != 10 {
		t.Logf("access log:\n%s\nstderr:\n%s", strings.Join(log, "\n"), stderr.String())
		t.Errorf("the access log has %d fault aborts, want 10", aborted)
	}
}

// TestRefusalsNameTheField: what the binary cannot do is invalid input,
// exit 2, with the field named, before anything listens.
func TestRefusalsNameTheField(t *testing.T) {
	experiment := func(endpoint string) string {
		return writeFile(t, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: e}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: 127.0.0.1:18080}, `+endpoint+`]
`)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a demo endpoint", []string{experiment("{demo: httpbin}")}, "faultline-proxy: spec.services[0].endpoints[1].demo: this binary starts no demo or container endpoints"},
		{"a container endpoint", []string{experiment("{container: {image: app:local, port: 8080}}")}, "faultline-proxy: spec.services[0].endpoints[1].container: this binary starts no demo or container endpoints"},
		{"an upstream off the allow-list", []string{experiment("{address: 192.0.2.1:80}")}, "spec.services[0].endpoints[1].address"},
		{"plain YAML without binds", []string{writeFile(t, routes)}, "error: --bind: the stream holds no Experiment"},
		{"a gateway without an address", []string{"--gateway", "edge", writeFile(t, routes)}, `faultline-proxy: --gateway "edge": want NAME=ADDR`},
		{"no file", []string{"--listen", "127.0.0.1:0"}, "faultline-proxy: accepts 1 arg(s), received 0"},
		{"a missing file", []string{filepath.Join(t.TempDir(), "none.yaml")}, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("got %v, want exit 2; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr:\n%s\nwant %q", stderr.String(), tc.want)
			}
		})
	}
}
