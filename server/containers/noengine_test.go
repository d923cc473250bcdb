package containers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/internal/cli"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
)

// noEngineHost is a Docker host where no engine can answer.
const noEngineHost = "unix:///nonexistent/docker.sock"

const noEngineWant = "container targets need a Docker engine"

// noEngineExperiment has one container endpoint; the image need not exist,
// the engine is asked first.
var noEngineExperiment = experimentYAML(`{image: "faultline-demo:local", port: 8080}`, `{url: "http://httpbin:8000/get", requests: 5}`, "")

// withoutEngine points this process's Docker client at noEngineHost.
func withoutEngine(t *testing.T) {
	t.Helper()
	if h := testcontainers.ReadConfig().Config.TestcontainersHost; h != "" {
		t.Skipf("tc.host %s in ~/.testcontainers.properties takes precedence over DOCKER_HOST", h)
	}
	t.Setenv("DOCKER_HOST", noEngineHost)
}

func checkNoEngineError(t *testing.T, msg string) {
	t.Helper()
	for _, want := range []string{noEngineWant, "spec.services[0].endpoints[0].container", noEngineHost} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestNoEngineRefusesBeforeAnyLoad(t *testing.T) {
	withoutEngine(t)
	if err := containers.Ping(context.Background()); !errors.Is(err, containers.ErrNoEngine) || !strings.Contains(err.Error(), noEngineHost) {
		t.Errorf("Ping = %v, want ErrNoEngine naming %s", err, noEngineHost)
	}
	var proxied, progressed bool
	start := time.Now()
	r, err := experiment.Execute(context.Background(), parse(t, noEngineExperiment), experiment.Options{
		OnProxy:    func(*proxy.Proxy) { proxied = true },
		OnProgress: func(report.Progress) { progressed = true },
	})
	if !errors.Is(err, containers.ErrNoEngine) || r != nil {
		t.Fatalf("Execute = %v, %v; want ErrNoEngine and no report", r, err)
	}
	checkNoEngineError(t, err.Error())
	if proxied || progressed {
		t.Errorf("the run got as far as its proxy (%v) or its load (%v)", proxied, progressed)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("refusal took %s", el)
	}
}

// cliEnv is this process's environment with Docker pointed at noEngineHost
// and a home without ~/.testcontainers.properties.
func cliEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "DOCKER_HOST="+noEngineHost, "HOME="+t.TempDir())
}

func TestNoEngineCommandsExitWithTheReason(t *testing.T) {
	bin := faultlineBinary(t)
	file := filepath.Join(t.TempDir(), "containers.yaml")
	if err := os.WriteFile(file, []byte(noEngineExperiment), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", file}, {"proxy", file, "--listen", "127.0.0.1:0"}} {
		t.Run(args[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = cliEnv(t)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitRunError {
				t.Fatalf("faultline %s: %v, want exit code %d\nstdout:\n%s\nstderr:\n%s", args[0], err, cli.ExitRunError, &stdout, &stderr)
			}
			if !strings.HasPrefix(stderr.String(), "faultline "+args[0]+": ") {
				t.Errorf("stderr does not start with the command:\n%s", &stderr)
			}
			checkNoEngineError(t, stderr.String())
			if stdout.Len() != 0 {
				t.Errorf("stdout should be empty (no report, no listener):\n%s", &stdout)
			}
		})
	}
}

func TestNoEngineRunThroughTheAPIEndsInError(t *testing.T) {
	withoutEngine(t)
	base, _ := testserver.Start(t, server.Config{AllowImages: []string{"faultline-demo:*"}})

	var exp struct {
		ID int64 `json:"id"`
	}
	apiCall(t, "POST", base+"/api/v1/experiments", "application/yaml", noEngineExperiment, http.StatusCreated, &exp)
	var run struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	apiCall(t, "POST", fmt.Sprintf("%s/api/v1/experiments/%d/runs", base, exp.ID), "application/json", "", http.StatusAccepted, &run)
	ended := func() bool { return run.Status != "queued" && run.Status != "running" }
	if !wait.Until(20*time.Second, func() bool {
		if !ended() {
			apiCall(t, "GET", fmt.Sprintf("%s/api/v1/runs/%d", base, run.ID), "", "", http.StatusOK, &run)
		}
		return ended()
	}) {
		t.Fatalf("run still %s", run.Status)
	}
	if run.Status != string(runstatus.Error) {
		t.Fatalf("run ended %q (%s), want %q", run.Status, run.Reason, string(runstatus.Error))
	}
	checkNoEngineError(t, run.Reason)
}

func apiCall(t *testing.T, method, url, contentType, body string, want int, into any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, out)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, url, out, err)
	}
}
