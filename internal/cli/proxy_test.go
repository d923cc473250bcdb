package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/proxyrun"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// plainCircuitBreaker is the istio.io circuit-breaking task's resources
// without an Experiment: a route to httpbin:8000, one connection and one
// pending request.
const plainCircuitBreaker = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`

const cbCluster = "outbound|8000||httpbin.default.svc.cluster.local"

// writeFile writes src to a file of the test's and returns its path.
func writeFile(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// proxyOptions configure `faultline proxy`.
type proxyOptions = proxyrun.Options

// serveProxy runs `faultline proxy` on path until ctx ends and returns
// its exit code.
func serveProxy(ctx context.Context, path string, o proxyOptions) int {
	o.Name, o.Endpoints = "faultline proxy", startEndpoints
	return proxyrun.Serve(ctx, path, o)
}

// runningProxy is `faultline proxy` serving in the background.
type runningProxy struct {
	mesh, admin string
	stderr      *syncWriter
}

// startProxy runs serveProxy on path until the test ends, and waits for
// it to print its mesh listener (and admin address when o.Admin is set).
func startProxy(t *testing.T, path string, o proxyOptions) runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, errOut := newSyncWriter(), newSyncWriter()
	o.Listen, o.Stdout, o.Stderr = "127.0.0.1:0", out, errOut
	done := make(chan int, 1)
	go func() { done <- serveProxy(ctx, path, o) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitPass {
			t.Errorf("faultline proxy exited %d:\n%s", code, errOut.String())
		}
	})
	want := []string{"listener mesh on http://"}
	if o.Admin != "" {
		want = append(want, "admin on http://")
	}
	text := out.waitFor(t, func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
	rp := runningProxy{stderr: errOut}
	if m := regexp.MustCompile(`listener mesh on http://(\S+)`).FindStringSubmatch(text); m != nil {
		rp.mesh = m[1]
	}
	if m := regexp.MustCompile(`admin on http://(\S+)`).FindStringSubmatch(text); m != nil {
		rp.admin = m[1]
	}
	return rp
}

// fetchVia sends GET path to addr with Host host and returns status and body.
func fetchVia(t *testing.T, addr, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProxyPlainIstioYAMLWithAdminViews runs the circuit-breaking task's
// plain Istio YAML with --bind and --admin: one request holds httpbin's
// one connection, a second waits in the pending queue, a third
// overflows (503 UO); then every admin view is read and must count
// exactly that.
func TestProxyPlainIstioYAMLWithAdminViews(t *testing.T) {
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "httpbin")
	}))
	t.Cleanup(upstream.Close)
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	upAddr := strings.TrimPrefix(upstream.URL, "http://")

	rp := startProxy(t, writeFile(t, "httpbin.yaml", plainCircuitBreaker), proxyOptions{
		Binds: mustBinds(t, "httpbin="+upAddr), Admin: "127.0.0.1:0"})

	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	send := func() {
		go func() {
			code, body := fetchVia(t, rp.mesh, "httpbin:8000", "/get")
			results <- result{code, body}
		}()
	}
	send()
	<-arrived // the first request holds the one connection
	send()
	waitStat(t, rp.admin, "cluster."+cbCluster+".upstream_rq_pending_active", "1")
	code, body := fetchVia(t, rp.mesh, "httpbin:8000", "/get")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "overflow") {
		t.Fatalf("the third request: got %d %q, want 503 overflow", code, body)
	}
	releaseOnce()
	for range 2 {
		if r := <-results; r.code != 200 || r.body != "httpbin" {
			t.Errorf("a held request: got %d %q, want 200 httpbin", r.code, r.body)
		}
	}

	_, stats := fetchVia(t, rp.admin, "", "/stats")
	for _, want := range []string{
		"cluster." + cbCluster + ".upstream_rq_pending_overflow: 1\n",
		"cluster." + cbCluster + ".upstream_rq_pending_total: 1\n",
		"cluster." + cbCluster + ".upstream_rq_200: 2\n",
		"cluster." + cbCluster + ".upstream_rq_503: 1\n",
		"cluster." + cbCluster + ".upstream_cx_active: 1\n",
		"http.mesh.downstream_rq_total: 3\n",
		"http.mesh.downstream_rq_2xx: 2\n",
		"http.mesh.downstream_rq_5xx: 1\n",
	} {
		if !strings.Contains(stats, want) {
			t.Errorf("/stats lacks %q:\n%s", want, stats)
		}
	}
	_, prom := fetchVia(t, rp.admin, "", "/stats/prometheus")
	for _, want := range []string{
		`envoy_cluster_upstream_rq_pending_overflow{cluster_name="` + cbCluster + `"} 1` + "\n",
		`envoy_cluster_upstream_rq{response_code="200",cluster_name="` + cbCluster + `"} 2` + "\n",
		`envoy_http_downstream_rq_total{http_conn_manager_prefix="mesh"} 3` + "\n",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
		}
	}
	_, clusters := fetchVia(t, rp.admin, "", "/clusters")
	for _, want := range []string{
		cbCluster + "::default_priority::max_connections::1\n",
		cbCluster + "::default_priority::max_pending_requests::1\n",
		cbCluster + "::" + upAddr + "::health_flags::healthy\n",
		cbCluster + "::" + upAddr + "::weight::1\n",
		cbCluster + "::" + upAddr + "::rq_active::0\n",
		cbCluster + "::" + upAddr + "::rq_total::2\n", // the overflow never reached it
		cbCluster + "::" + upAddr + "::rq_success::2\n",
	} {
		if !strings.Contains(clusters, want) {
			t.Errorf("/clusters lacks %q:\n%s", want, clusters)
		}
	}
	_, dump := fetchVia(t, rp.admin, "", "/config_dump")
	var cd proxy.ConfigDump
	if err := json.Unmarshal([]byte(dump), &cd); err != nil {
		t.Fatalf("/config_dump: %v\n%s", err, dump)
	}
	if len(cd.Clusters) != 1 || cd.Clusters[0].Name != cbCluster || cd.Clusters[0].Endpoints[0].Address != upAddr ||
		cd.Clusters[0].CircuitBreakers.MaxConnections != 1 || cd.Clusters[0].CircuitBreakers.MaxPendingRequests != 1 {
		t.Errorf("/config_dump clusters: %+v", cd.Clusters)
	}
	if len(cd.Listeners) != 1 || cd.Listeners[0].Addr != rp.mesh {
		t.Fatalf("/config_dump listeners: %+v", cd.Listeners)
	}
	var routed bool
	for _, vh := range cd.Listeners[0].VirtualHosts {
		for _, r := range vh.Routes {
			routed = routed || r.VirtualService == "httpbin" && r.Rule == 0 && r.Route != nil && r.Route.Clusters[0].Name == cbCluster
		}
	}
	if !routed {
		t.Errorf("/config_dump has no route of VirtualService httpbin rule 0 to %s:\n%s", cbCluster, dump)
	}
	if code, _ := fetchVia(t, rp.admin, "", "/"); code != 200 {
		t.Errorf("/: %d", code)
	}
}

// waitStat polls /stats on admin until stat reads want, for at most 5s.
func waitStat(t *testing.T, admin, stat, want string) {
	t.Helper()
	line := stat + ": " + want + "\n"
	var body string
	if !wait.Until(5*time.Second, func() bool {
		_, body = fetchVia(t, admin, "", "/stats?filter="+regexp.QuoteMeta(stat)+"$")
		return body == line
	}) {
		t.Fatalf("%s never read %s: %q", stat, want, body)
	}
}

func mustBinds(t *testing.T, raw ...string) []scenarios.Bind {
	t.Helper()
	var out []scenarios.Bind
	for _, r := range raw {
		b, err := scenarios.ParseBind(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestProxyRunsAnExperimentWithoutLoad: spec.load is a run's, not the
// proxy's.
func TestProxyRunsAnExperimentWithoutLoad(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "httpbin") }))
	t.Cleanup(upstream.Close)
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: no-load}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: "` + strings.TrimPrefix(upstream.URL, "http://") + `"}]
`
	rp := startProxy(t, writeFile(t, "no-load.yaml", src), proxyOptions{})
	if code, body := fetchVia(t, rp.mesh, "httpbin:8000", "/get"); code != 200 || body != "httpbin" {
		t.Errorf("got %d %q, want 200 httpbin", code, body)
	}
}

// TestProxyFlagProblemsNameTheFlag runs the command as a user would and
// reads what it prints.
func TestProxyFlagProblemsNameTheFlag(t *testing.T) {
	file := writeFile(t, "httpbin.yaml", plainCircuitBreaker)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "a bind without an address", args: []string{"--bind", "httpbin"}, want: `faultline proxy: --bind "httpbin": want HOST=ADDR`},
		{name: "a bind whose address has no port", args: []string{"--bind", "httpbin=127.0.0.1"}, want: "--bind \"httpbin=127.0.0.1\": the address must be host:port"},
		{name: "a host no resource gives a port", args: []string{"--bind", "ratings=127.0.0.1:1"}, want: "error: --bind ratings=127.0.0.1:1: no resource gives ratings a port"},
		{name: "plain YAML without binds", want: "error: --bind: the stream holds no Experiment"},
		{name: "an upstream beyond the allow-list", args: []string{"--bind", "httpbin=10.0.0.1:80"}, want: "10.0.0.1:80 is not on the allow-list"},
		{name: "admin beyond loopback", args: []string{"--bind", "httpbin=127.0.0.1:1", "--admin", "0.0.0.0:0"}, want: "faultline proxy: --admin: target 0.0.0.0:0 is not on the allow-list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			root := rootCommand()
			root.SetArgs(append(append([]string{"proxy", "--listen", "127.0.0.1:0"}, tc.args...), file))
			root.SetOut(io.Discard)
			root.SetErr(&stderr)
			err := root.ExecuteContext(t.Context())
			var e exitError
			if !errors.As(err, &e) || e.Code != ExitInvalid {
				t.Fatalf("got %v, want exit %d; stderr:\n%s", err, ExitInvalid, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr:\n%s\nwant %q", stderr.String(), tc.want)
			}
		})
	}
}
