package tc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/tc"
)

// A missing image is an error that says how to build it, and nothing is
// pulled: the name stays unknown to the engine.
func TestRunRefusesAMissingImageWithoutPulling(t *testing.T) {
	testserver.NeedDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	missing := "faultline-tc-missing:" + randomHex(6)
	start := time.Now()
	fl, err := tc.Run(ctx, tc.WithImage(missing))
	testcontainers.CleanupContainer(t, fl)
	if !errors.Is(err, tc.ErrImageNotFound) {
		t.Fatalf("Run with %s: %v, want ErrImageNotFound", missing, err)
	}
	for _, want := range []string{missing, "scripts/build-image.sh", "docker-compose build", "tc.WithImage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the refusal took %s; a pull was tried?", d)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, missing); err == nil {
		t.Errorf("%s exists after the refusal", missing)
	}
}

// The options reach serve: an environment file is there and listening
// when Run returns, --allow-host admits its name, and the API wants the
// token Run gave it.
func TestRunPassesItsOptionsToServe(t *testing.T) {
	ctx := t.Context()
	egress, err := tc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(t.TempDir(), "staging.yaml")
	env := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:%d
  services:
  - {host: ratings, port: 9080, endpoints: [{address: "127.0.0.1:1"}]}
`, egress)
	if err := os.WriteFile(envFile, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	token := randomHex(16)
	fl, err := tc.Run(ctx, tc.WithImage(faultlineImage(t)), tc.WithToken(token),
		tc.WithEnvironmentFile(envFile), tc.WithAllowHost("faultline.test"))
	testcontainers.CleanupContainer(t, fl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fl.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s, want one on 127.0.0.1", fl.URL())
	}
	if got := fl.Token(); got != token {
		t.Errorf("Token %q, want WithToken's %q", got, token)
	}

	envs, err := fl.Client().Environments.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(envs.Items) != 1 || envs.Items[0].Name != "staging" || envs.Items[0].Plane == nil || !envs.Items[0].Plane.Listening {
		t.Fatalf("environments %+v, want staging, listening", envs.Items)
	}
	// The egress listens on the host's loopback: a bound host whose
	// endpoint is down gets Envoy's 503, an unbound one 502.
	addr, err := fl.Addr(ctx, egress)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{"ratings:9080": http.StatusServiceUnavailable, "unbound:9080": http.StatusBadGateway} {
		if got := status(t, "GET", "http://"+addr, "http://"+host+"/", "", ""); got != want {
			t.Errorf("GET http://%s/ through the egress: %d, want %d", host, got, want)
		}
	}

	// No experiments: the examples are not loaded.
	if exps, err := fl.Client().Experiments.List(ctx, client.ListOptions{}); err != nil || exps.Total != 0 {
		t.Errorf("experiments %v (%v), want none", exps, err)
	}
	api := fl.URL() + "/api/v1/environments"
	for _, c := range []struct {
		name, host, token string
		want              int
	}{
		{"the token, at the published address", "", token, http.StatusOK},
		{"no token", "", "", http.StatusUnauthorized},
		{"another token", "", randomHex(16), http.StatusUnauthorized},
		{"a name given to --allow-host", "faultline.test", token, http.StatusOK},
		{"a name not given to --allow-host", "faultline.example", token, http.StatusForbidden},
	} {
		if got := status(t, "GET", "", api, c.host, c.token); got != c.want {
			t.Errorf("%s: GET %s: %d, want %d", c.name, api, got, c.want)
		}
	}
}

// status sends method target (through proxy, if not empty) with the
// Host and token given and returns the answer's status.
func status(t *testing.T, method, proxy, target, host, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	tr := &http.Transport{}
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil {
			t.Fatal(err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
