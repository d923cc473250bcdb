package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// needCompose skips without docker-compose or a Docker engine, unless CI
// is set: CI must run this test.
func needCompose(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var missing []string
	if out, err := exec.CommandContext(ctx, "docker-compose", "version").CombinedOutput(); err != nil {
		missing = append(missing, strings.TrimSpace(fmt.Sprintf("docker-compose: %v %s", err, out)))
	}
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		missing = append(missing, strings.TrimSpace(fmt.Sprintf("Docker engine: %v %s", err, out)))
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %s", strings.Join(missing, "; "))
	}
	t.Skip(strings.Join(missing, "; "))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// composeExperiment reaches the compose file's httpbin service by its name
// on the compose network.
const composeExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: compose-httpbin}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: "httpbin:8080"}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 40}
  hypothesis:
  - {metric: status_ratio, status: 200, op: "==", value: 1}
`

// TestComposeUpRunsAnExperimentAgainstItsHttpbin follows the README's
// Containers section: the static binary, docker-compose build, up; then
// it creates and runs an experiment through the containerised API against
// the compose httpbin service, and checks that down leaves nothing behind.
// The published ports and the image tag are the compose file's variables,
// set to free ports and a tag of this test, so a running Faultline or a
// faultline:local image of the user is not touched.
func TestComposeUpRunsAnExperimentAgainstItsHttpbin(t *testing.T) {
	needCompose(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	project := "faultlinetest" + randomHex(t, 4)
	image := "faultline-compose-test:" + project
	token := randomHex(t, 16)
	apiPort, httpbinPort := freePort(t), freePort(t)
	// As in the README, only up is given the token.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FAULTLINE_") && !strings.HasPrefix(kv, "HTTPBIN_PORT=") && !strings.HasPrefix(kv, "COMPOSE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "FAULTLINE_PORT="+apiPort, "HTTPBIN_PORT="+httpbinPort, "FAULTLINE_IMAGE="+image)
	upEnv := append(slices.Clip(env), "FAULTLINE_TOKEN="+token)

	runEnv := func(env []string, timeout time.Duration, name string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func(timeout time.Duration, name string, args ...string) (string, error) {
		return runEnv(env, timeout, name, args...)
	}
	composeArgs := func(args ...string) []string {
		return append([]string{"-p", project, "-f", filepath.Join(root, "docker-compose.yml")}, args...)
	}
	compose := func(timeout time.Duration, args ...string) (string, error) {
		return run(timeout, "docker-compose", composeArgs(args...)...)
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}

	start := time.Now()
	must(run(5*time.Minute, "scripts/build-image.sh", "binary"))
	t.Logf("static binary: %s", time.Since(start).Round(time.Millisecond))

	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose(time.Minute, "logs", "--no-color", "--tail", "50")
			t.Logf("docker-compose logs:\n%s", out)
		}
		if out, err := compose(3*time.Minute, "down", "-v", "--rmi", "all", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
		// Nothing of the project may be left: containers, network, volume, image.
		if out, err := run(time.Minute, "docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("containers left after down: %q (%v)", out, err)
		}
		for _, obj := range [][]string{
			{"network", "inspect", project + "_default"},
			{"volume", "inspect", project + "_faultline-data"},
			{"image", "inspect", image},
		} {
			if out, err := run(time.Minute, "docker", obj...); err == nil {
				t.Errorf("docker %s: still exists after down\n%s", strings.Join(obj, " "), out)
			}
		}
	})

	start = time.Now()
	must(compose(5*time.Minute, "build"))
	t.Logf("docker-compose build: %s", time.Since(start).Round(time.Millisecond))
	// Without a token the containerised API refuses to start.
	if out, err := compose(time.Minute, "run", "--rm", "-T", "faultline"); err == nil || !strings.Contains(out, "set FAULTLINE_TOKEN") {
		t.Errorf("serve in the container without FAULTLINE_TOKEN: err %v, want a refusal naming FAULTLINE_TOKEN\n%s", err, out)
	}

	start = time.Now()
	must(runEnv(upEnv, 3*time.Minute, "docker-compose", composeArgs("up", "-d")...))

	api := "http://127.0.0.1:" + apiPort
	// Both containers start at once: wait for each to answer (a published
	// port whose container does not listen yet resets the connection).
	for _, url := range []string{api + "/healthz", "http://127.0.0.1:" + httpbinPort + "/get"} {
		var err error
		if !wait.Until(60*time.Second, func() bool {
			var resp *http.Response
			if resp, err = http.Get(url); err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}) {
			t.Fatalf("%s did not answer 200 within 60s: %v", url, err)
		}
	}
	t.Logf("up and healthy: %s", time.Since(start).Round(time.Millisecond))

	// Both published ports answer on loopback; the API wants the token.
	if code, body := call(t, "GET", "http://127.0.0.1:"+httpbinPort+"/get", "", "", nil); code != http.StatusOK {
		t.Errorf("httpbin on 127.0.0.1:%s: status %d: %s", httpbinPort, code, body)
	}
	if code, _ := call(t, "GET", api+"/api/v1/experiments", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("API without the token: status %d, want 401", code)
	}

	var exp struct {
		ID int64 `json:"id"`
	}
	if code, body := call(t, "POST", api+"/api/v1/experiments", token, "application/yaml", []byte(composeExperiment)); code != http.StatusCreated {
		t.Fatalf("create experiment: status %d: %s", code, body)
	} else if err := json.Unmarshal(body, &exp); err != nil {
		t.Fatal(err)
	}
	var r struct {
		ID      int64           `json:"id"`
		Status  string          `json:"status"`
		Verdict string          `json:"verdict"`
		Reason  string          `json:"reason"`
		Report  json.RawMessage `json:"report"`
	}
	code, body := call(t, "POST", fmt.Sprintf("%s/api/v1/experiments/%d/runs", api, exp.ID), token, "application/json", nil)
	if code != http.StatusAccepted {
		t.Fatalf("start run: status %d: %s", code, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	ended := func() bool { return r.Status != "queued" && r.Status != "running" }
	if !wait.Until(60*time.Second, func() bool {
		if ended() {
			return true
		}
		code, body = call(t, "GET", fmt.Sprintf("%s/api/v1/runs/%d", api, r.ID), token, "", nil)
		if code != http.StatusOK {
			t.Fatalf("get run: status %d: %s", code, body)
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return ended()
	}) {
		t.Fatalf("run %d still %s after 60s", r.ID, r.Status)
	}
	if r.Status != "succeeded" || r.Verdict != "pass" {
		t.Fatalf("run ended %s/%s: %s", r.Status, r.Verdict, r.Reason)
	}
	var rep struct {
		Requests int64            `json:"requests"`
		Codes    map[string]int64 `json:"codes"`
	}
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 40 || rep.Codes["200"] != 40 {
		t.Errorf("report: %d requests, codes %v; want 40 × 200 from the compose httpbin", rep.Requests, rep.Codes)
	}
}

// call sends one request, with the bearer token when set, and returns the
// status and body.
func call(t *testing.T, method, url, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}
