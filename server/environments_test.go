package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/demo"
)

// freeAddr returns a loopback address that was free a moment ago: an
// environment's listeners are fixed addresses, as a team's services are
// wired to them once.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveTarget serves h on a loopback port until the test ends.
func serveTarget(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// viaEgress is an HTTP client that uses the environment's egress as its
// HTTP_PROXY, as a team's service would.
func viaEgress(t *testing.T, egress string) *http.Client {
	t.Helper()
	u, err := url.Parse("http://" + egress)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// status sends GET rawURL through c with the headers and returns the code
// (0 when no response came) and body.
func status(t *testing.T, c *http.Client, rawURL string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpbinEnv is an environment binding httpbin to a demo target, with an
// egress and a listener of httpbin's own.
func httpbinEnv(name, egress, listen, target string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: %s}
spec:
  egress: %s
  services:
  - host: httpbin
    port: 8000
    listen: %s
    endpoints: [{address: %s, labels: {version: v1}}]
`, name, egress, listen, target)
}

// envAbort is an experiment on environment env aborting every httpbin
// call with 418, whose load is requests calls (or lasts duration).
func envAbort(name, env, load string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: %s}
spec:
  environment: %s
  load: {url: "http://httpbin:8000/get", connections: 1, %s}
  hypothesis:
  - {metric: status_ratio, status: 418, op: "==", value: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`, name, env, load)
}

type envJSON struct {
	ID      int64 `json:"id"`
	Name    string
	Version int
	Plane   struct {
		Listening bool
		Error     string
		Listeners []struct {
			Name, Kind, Addr string
		}
		Holder *struct {
			Kind    string
			RunID   int64 `json:"runId"`
			Overlay *struct {
				ID        int64
				ExpiresAt time.Time
			}
		}
		PendingVersion int
		LastOverlay    *struct{ Reason string }
		Endpoints      []struct {
			Address string
			Up      bool
			Error   string
		}
		Baseline []string
	}
}

func createEnv(t *testing.T, c client, src string) envJSON {
	t.Helper()
	var e envJSON
	c.json("POST", "/api/v1/environments", "application/yaml", []byte(src), http.StatusCreated, &e)
	return e
}

func getEnv(t *testing.T, c client, id int64) envJSON {
	t.Helper()
	var e envJSON
	c.json("GET", fmt.Sprintf("/api/v1/environments/%d", id), "", nil, http.StatusOK, &e)
	return e
}

func createExp(t *testing.T, c client, src string) int64 {
	t.Helper()
	var e experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), http.StatusCreated, &e)
	return e.ID
}

func startRun(t *testing.T, c client, expID int64) int64 {
	t.Helper()
	var r runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", expID), "", nil, http.StatusAccepted, &r)
	return r.ID
}

func TestEnvironmentListensAndCarriesTrafficBetweenServices(t *testing.T) {
	c := serve(t, server.Config{})
	egress, listen := freeAddr(t), freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	env := createEnv(t, c, httpbinEnv("staging", egress, listen, target))
	if !env.Plane.Listening || len(env.Plane.Listeners) != 2 {
		t.Fatalf("plane: %+v", env.Plane)
	}
	if got := env.Plane.Listeners[0]; got.Kind != "mesh" || got.Addr != egress {
		t.Errorf("egress listener: %+v, want mesh on %s", got, egress)
	}

	// A service using the egress as HTTP_PROXY reaches httpbin by name; a
	// client that ignores HTTP_PROXY reaches it on its own listener.
	hc := viaEgress(t, egress)
	if code, body := status(t, hc, "http://httpbin:8000/headers", nil); code != 200 || !strings.Contains(body, `"Host": "httpbin:8000"`) {
		t.Errorf("through the egress: %d %s", code, body)
	}
	if code, body := status(t, http.DefaultClient, "http://"+listen+"/headers", nil); code != 200 || !strings.Contains(body, `"Host": "httpbin:8000"`) {
		t.Errorf("on httpbin's own listener: %d %s", code, body)
	}
	// An unknown host is refused as REGISTRY_ONLY does.
	if code, _ := status(t, hc, "http://nowhere:80/", nil); code != http.StatusBadGateway {
		t.Errorf("unknown host: %d, want 502", code)
	}
	// CONNECT (https through HTTP_PROXY) to an address off the allow-list
	// is refused, never dialled.
	req, _ := http.NewRequest("CONNECT", "http://"+egress, nil)
	req.Host = "203.0.113.7:443"
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT off the allow-list: %v %v", resp, err)
	}

	// Counters, the access log and the metrics show the traffic.
	env = getEnv(t, c, env.ID)
	var full struct {
		Plane struct {
			Stats struct {
				TunnelsRefused int64 `json:"tunnelsRefused"`
				Listeners      []struct {
					Name     string
					Requests int64 `json:"downstream_rq_total"`
				}
			}
		}
	}
	c.json("GET", fmt.Sprintf("/api/v1/environments/%d", env.ID), "", nil, 200, &full)
	reqs := map[string]int64{}
	for _, l := range full.Plane.Stats.Listeners {
		reqs[l.Name] = l.Requests
	}
	// The refused CONNECT is a request of the egress too.
	if reqs["mesh"] != 3 || reqs["svc:httpbin:8000"] != 1 || full.Plane.Stats.TunnelsRefused != 1 {
		t.Errorf("counters: requests %v, tunnels refused %d", reqs, full.Plane.Stats.TunnelsRefused)
	}
	// The access log is flushed shortly after the requests.
	var log []byte
	if !wait.Until(10*time.Second, func() bool {
		_, log = c.do("GET", fmt.Sprintf("/api/v1/environments/%d/access-log", env.ID), "", nil)
		return strings.Count(string(log), "\n") >= 4 && strings.Contains(string(log), `"GET /headers HTTP/1.1" 200`) && strings.Contains(string(log), `"CONNECT - HTTP/1.1" 403`) && strings.Contains(string(log), `"203.0.113.7:443"`)
	}) {
		t.Fatalf("access log (%d lines):\n%s", strings.Count(string(log), "\n"), log)
	}
	_, metrics := c.do("GET", "/metrics", "", nil)
	for _, want := range []string{`faultline_environment_up{environment="staging"} 1`, `envoy_http_downstream_rq_total{environment="staging",listener="mesh"} 3`,
		`faultline_environment_edge_requests_total{destination="httpbin",environment="staging",source="unknown"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s; edges:\n%s", want, grepLines(string(metrics), "edge_"))
		}
	}
}

func TestEnvironmentRunRevertsToTheBaselineOnEveryEnding(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	env := createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	hc := viaEgress(t, egress)
	baseline := func(when string) {
		t.Helper()
		// The run's end is recorded after the baseline is back: the first
		// request after it must see no fault.
		if code, body := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
			t.Errorf("%s: got %d %.80s, want the baseline's 200", when, code, body)
		}
	}

	t.Run("succeeded", func(t *testing.T) {
		id := startRun(t, c, createExp(t, c, envAbort("abort-ok", "staging", "requests: 20")))
		r := waitRun(t, c, id)
		var rep struct {
			Environment string
			Codes       map[string]int64
			Proxy       struct{ FaultsAborted int64 }
		}
		if err := json.Unmarshal(r.Report, &rep); err != nil {
			t.Fatal(err)
		}
		if r.Status != "succeeded" || rep.Environment != "staging" || rep.Codes["418"] != 20 || rep.Proxy.FaultsAborted != 20 {
			t.Errorf("run: %s %s, report %+v", r.Status, r.Reason, rep)
		}
		baseline("after a run that succeeded")
	})
	t.Run("failed", func(t *testing.T) {
		src := strings.Replace(envAbort("abort-fails", "staging", "requests: 5"), `value: 1}`, `value: 0}`, 1)
		r := waitRun(t, c, startRun(t, c, createExp(t, c, src)))
		if r.Status != "failed" {
			t.Errorf("run: %s %s", r.Status, r.Reason)
		}
		baseline("after a run that failed")
	})
	t.Run("stopped", func(t *testing.T) {
		id := startRun(t, c, createExp(t, c, envAbort("abort-stopped", "staging", "qps: 20, duration: 30s")))
		waitStatus(t, c, id, "running", 10*time.Second)
		waitFault(t, hc, 418)
		c.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", id), "", nil, http.StatusAccepted, nil)
		if r := waitRun(t, c, id); r.Status != "stopped" {
			t.Errorf("run: %s %s", r.Status, r.Reason)
		}
		baseline("after a stopped run")
	})
	t.Run("lever", func(t *testing.T) {
		id := startRun(t, c, createExp(t, c, envAbort("abort-lever", "staging", "qps: 20, duration: 30s")))
		waitStatus(t, c, id, "running", 10*time.Second)
		waitFault(t, hc, 418)
		c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "game day over"}`), http.StatusOK, nil)
		if r := waitRun(t, c, id); r.Status != "stopped" || !strings.Contains(r.Reason, "lever") {
			t.Errorf("run: %s %s", r.Status, r.Reason)
		}
		baseline("after the lever")
		c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": false, "reason": "done"}`), http.StatusOK, nil)
	})
	if e := getEnv(t, c, env.ID); e.Plane.Holder != nil {
		t.Errorf("still held after the runs: %+v", e.Plane.Holder)
	}
}

// waitFault polls through the egress until a request gets code: the run's
// resources are in force.
func waitFault(t *testing.T, hc *http.Client, code int) {
	t.Helper()
	wait.For(t, 10*time.Second, fmt.Sprintf("a %d through the egress", code), func() bool {
		got, _ := status(t, hc, "http://httpbin:8000/get", nil)
		return got == code
	})
}

func TestEnvironmentRunsOneAtATime(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	env := createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	first := startRun(t, c, createExp(t, c, envAbort("first", "staging", "qps: 20, duration: 1500ms")))
	waitStatus(t, c, first, "running", 10*time.Second)
	second := createExp(t, c, envAbort("second", "staging", "requests: 5"))

	// Asked not to wait, a second run is refused; by default it queues.
	var refused errorJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", second), "application/json", []byte(`{"wait": false}`), http.StatusConflict, &refused)
	if refused.Error.Code != "busy" {
		t.Errorf("refusal: %+v", refused.Error)
	}
	queued := startRun(t, c, second)
	// Nothing should happen to it while the first holds the environment,
	// which can only be seen over a window.
	time.Sleep(200 * time.Millisecond)
	var q runJSON
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", queued), "", nil, 200, &q)
	if q.Status != "queued" {
		t.Errorf("second run while the first holds the environment: %s", q.Status)
	}
	// An overlay and a delete are refused while a run holds it; an update
	// waits for the run.
	c.json("POST", fmt.Sprintf("/api/v1/environments/%d/overlays", env.ID), "application/json",
		[]byte(`{"ttl": "5s", "source": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: httpbin}\nspec: {host: httpbin}\n"}`), http.StatusConflict, &refused)
	if refused.Error.Code != "busy" {
		t.Errorf("overlay during a run: %+v", refused.Error)
	}
	c.json("DELETE", fmt.Sprintf("/api/v1/environments/%d", env.ID), "", nil, http.StatusConflict, &refused)
	if refused.Error.Code != "busy" {
		t.Errorf("delete during a run: %+v", refused.Error)
	}
	// The refused delete left the queued run waiting.
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", queued), "", nil, 200, &q)
	if q.Status != "queued" {
		t.Errorf("the queued run after a refused delete: %s (%s)", q.Status, q.Reason)
	}
	var updated envJSON
	c.json("PUT", fmt.Sprintf("/api/v1/environments/%d", env.ID), "application/yaml",
		[]byte(strings.Replace(httpbinEnv("staging", egress, freeAddr(t), target), "metadata: {name: staging}", "metadata: {name: staging, description: v2}", 1)), http.StatusOK, &updated)
	if updated.Version != 2 || updated.Plane.PendingVersion != 2 || updated.Plane.Holder == nil || updated.Plane.Holder.RunID != first {
		t.Errorf("update during a run: version %d, plane %+v", updated.Version, updated.Plane)
	}

	r1, r2 := waitRun(t, c, first), waitRun(t, c, queued)
	if r1.Status != "succeeded" || r2.Status != "succeeded" {
		t.Fatalf("runs: %s (%s), %s (%s)", r1.Status, r1.Reason, r2.Status, r2.Reason)
	}
	var t1, t2 struct {
		EndedAt   time.Time `json:"endedAt"`
		StartedAt time.Time `json:"startedAt"`
	}
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", first), "", nil, 200, &t1)
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", queued), "", nil, 200, &t2)
	if t2.StartedAt.Before(t1.EndedAt) {
		t.Errorf("the second run started at %s, before the first ended at %s", t2.StartedAt, t1.EndedAt)
	}
	if e := getEnv(t, c, env.ID); e.Plane.PendingVersion != 0 || e.Version != 2 {
		t.Errorf("after the runs the update is in force: %+v", e)
	}
	c.json("DELETE", fmt.Sprintf("/api/v1/environments/%d", env.ID), "", nil, http.StatusNoContent, nil)
	if code, _ := status(t, viaEgress(t, egress), "http://httpbin:8000/get", nil); code != 0 {
		t.Errorf("a deleted environment still answers: %d", code)
	}
}

func TestEnvironmentOverlayWithATimeToLive(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	env := createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	hc := viaEgress(t, egress)
	path := fmt.Sprintf("/api/v1/environments/%d/overlays", env.ID)
	abort := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: httpbin}\nspec:\n  hosts: [httpbin]\n  http:\n  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n    route: [{destination: {host: httpbin}}]\n"
	body := func(ttl string) []byte {
		b, _ := json.Marshal(map[string]string{"ttl": ttl, "source": abort})
		return b
	}

	var bad errorJSON
	for _, ttl := range []string{"", "2h", "soon"} {
		c.json("POST", path, "application/json", body(ttl), http.StatusUnprocessableEntity, &bad)
		if bad.Error.Field != "ttl" {
			t.Errorf("ttl %q: %+v", ttl, bad.Error)
		}
	}
	c.json("POST", path, "application/json", []byte(`{"ttl": "5s", "source": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec: {hosts: [x], http: [{route: [{destination: {host: nowhere}}]}]}\n"}`),
		http.StatusUnprocessableEntity, &bad)
	if bad.Error.Field == "" {
		t.Errorf("an overlay naming an unbound host: %+v", bad.Error)
	}

	// It ends with its TTL: YAML with ?ttl=.
	start := time.Now()
	var ov struct {
		ID        int64
		ExpiresAt time.Time
	}
	c.json("POST", path+"?ttl=700ms", "application/yaml", []byte(abort), http.StatusCreated, &ov)
	if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 418 {
		t.Errorf("under the overlay: %d, want 418", code)
	}
	if e := getEnv(t, c, env.ID); e.Plane.Holder == nil || e.Plane.Holder.Overlay == nil || e.Plane.Holder.Overlay.ID != ov.ID {
		t.Errorf("holder: %+v", e.Plane.Holder)
	}
	waitBaseline(t, hc, 5*time.Second)
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("the overlay ended after %v, before its TTL", d)
	}
	if e := getEnv(t, c, env.ID); e.Plane.Holder != nil || e.Plane.LastOverlay == nil || !strings.Contains(e.Plane.LastOverlay.Reason, "TTL") {
		t.Errorf("after the TTL: holder %+v, last %+v", e.Plane.Holder, e.Plane.LastOverlay)
	}

	// It ends when deleted.
	c.json("POST", path, "application/json", body("1m"), http.StatusCreated, &ov)
	c.json("DELETE", fmt.Sprintf("%s/%d", path, ov.ID), "", nil, http.StatusNoContent, nil)
	if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
		t.Errorf("after DELETE: %d", code)
	}
	c.json("DELETE", fmt.Sprintf("%s/%d", path, ov.ID), "", nil, http.StatusNotFound, nil)

	// It ends when the lever is engaged, and none is laid while it is.
	c.json("POST", path, "application/json", body("1m"), http.StatusCreated, &ov)
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "stop everything"}`), http.StatusOK, nil)
	if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
		t.Errorf("after the lever: %d", code)
	}
	c.json("POST", path, "application/json", body("1m"), http.StatusConflict, &bad)
	if bad.Error.Code != "lever" {
		t.Errorf("overlay under the lever: %+v", bad.Error)
	}
}

// waitBaseline polls through the egress until a request gets 200.
func waitBaseline(t *testing.T, hc *http.Client, within time.Duration) {
	t.Helper()
	wait.For(t, within, "the baseline (a 200 through the egress)", func() bool {
		code, _ := status(t, hc, "http://httpbin:8000/get", nil)
		return code == 200
	})
}

func TestEnvironmentRefusalsNameTheField(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{}))
	createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	cases := []struct {
		name, src, field, code string
	}{
		{"an address another environment listens on", httpbinEnv("other", egress, freeAddr(t), target), "spec.egress", "address_in_use"},
		{"a listener beyond loopback", httpbinEnv("open", "0.0.0.0:"+strings.Split(freeAddr(t), ":")[1], freeAddr(t), target), "spec.egress", ""},
		{"an endpoint beyond loopback", httpbinEnv("far", freeAddr(t), freeAddr(t), "10.1.2.3:80"), "spec.services[0].endpoints[0].address", ""},
		{"a port that is not fixed", httpbinEnv("zero", "127.0.0.1:0", freeAddr(t), target), "spec.egress", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e errorJSON
			c.json("POST", "/api/v1/environments", "application/yaml", []byte(tc.src), http.StatusUnprocessableEntity, &e)
			if e.Error.Field != tc.field || e.Error.Code != tc.code {
				t.Errorf("got field %q code %q (%s), want %q %q", e.Error.Field, e.Error.Code, e.Error.Message, tc.field, tc.code)
			}
			// Nothing was stored.
			var list struct{ Total int }
			c.json("GET", "/api/v1/environments", "", nil, 200, &list)
			if list.Total != 1 {
				t.Errorf("environments stored: %d", list.Total)
			}
		})
	}
	t.Run("an experiment on no stored environment", func(t *testing.T) {
		var e errorJSON
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(envAbort("x", "prod", "requests: 1")), http.StatusUnprocessableEntity, &e)
		if e.Error.Field != "spec.environment" {
			t.Errorf("got %+v", e.Error)
		}
	})
	t.Run("an experiment rebinding a service of the environment", func(t *testing.T) {
		src := strings.Replace(envAbort("y", "staging", "requests: 1"), "  environment: staging\n",
			"  environment: staging\n  services: [{host: httpbin, port: 8000, endpoints: [{address: "+target+"}]}]\n", 1)
		var e errorJSON
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(src), http.StatusUnprocessableEntity, &e)
		if e.Error.Field != "spec.services[0].host" {
			t.Errorf("got %+v", e.Error)
		}
	})
	t.Run("validate checks an environment as saving does", func(t *testing.T) {
		var v struct {
			Valid    bool
			Problems []struct {
				Path string
				Line int
			}
		}
		c.json("POST", "/api/v1/validate", "application/yaml", []byte(httpbinEnv("other", egress, freeAddr(t), target)), 200, &v)
		if v.Valid || len(v.Problems) != 1 || v.Problems[0].Path != "spec.egress" || v.Problems[0].Line != 5 {
			t.Errorf("validate: %+v", v)
		}
		// Its own addresses are not "in use" for the environment itself.
		c.json("POST", "/api/v1/validate", "application/yaml", []byte(httpbinEnv("staging", egress, freeAddr(t), target)), 200, &v)
		if !v.Valid {
			t.Errorf("validate of the stored environment: %+v", v)
		}
	})
}

func TestEnvironmentsListenAgainAtTheirBaselineAfterARestart(t *testing.T) {
	db := t.TempDir() + "/faultline.db"
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{}))
	dead := freeAddr(t) // nothing listens there
	src := httpbinEnv("staging", egress, freeAddr(t), target) +
		fmt.Sprintf("  - {host: ratings, port: 9080, endpoints: [{address: %s}]}\n", dead)
	base, stop := testserver.Start(t, server.Config{DB: db})
	c := client{t: t, base: base}
	env := createEnv(t, c, src)
	var ov struct{ ID int64 }
	c.json("POST", fmt.Sprintf("/api/v1/environments/%d/overlays?ttl=10m", env.ID), "application/yaml",
		[]byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: httpbin}\nspec:\n  hosts: [httpbin]\n  http:\n  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n    route: [{destination: {host: httpbin}}]\n"),
		http.StatusCreated, &ov)
	hc := viaEgress(t, egress)
	waitFault(t, hc, 418)
	stop()

	// A new process starts the environment at its baseline: no fault
	// outlives the process that laid it.
	base, _ = testserver.Start(t, server.Config{DB: db})
	c = client{t: t, base: base}
	if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
		t.Errorf("after the restart: %d, want the baseline's 200", code)
	}
	// The endpoint that is down: the environment still listens, answers
	// 503 UF as Envoy does, and its page says so.
	if code, body := status(t, hc, "http://ratings:9080/", nil); code != 503 || !strings.Contains(body, "upstream connect error") {
		t.Errorf("a down endpoint: %d %q", code, body)
	}
	var e envJSON
	if !wait.Until(10*time.Second, func() bool {
		e = getEnv(t, c, env.ID)
		var down []string
		for _, ep := range e.Plane.Endpoints {
			if !ep.Up {
				down = append(down, ep.Address)
			}
		}
		return e.Plane.Listening && len(down) == 1 && down[0] == dead
	}) {
		t.Fatalf("plane after the restart: %+v", e.Plane)
	}
}

func TestServeAppliesEnvironmentFiles(t *testing.T) {
	dir := t.TempDir()
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{}))
	file := dir + "/env.yaml"
	write := func(src string) {
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(httpbinEnv("staging", egress, freeAddr(t), target))
	base, stop := testserver.Start(t, server.Config{DB: dir + "/faultline.db", EnvironmentFiles: []string{file}})
	c := client{t: t, base: base}
	var list struct {
		Items []envJSON
	}
	c.json("GET", "/api/v1/environments", "", nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Version != 1 || !list.Items[0].Plane.Listening {
		t.Fatalf("environments: %+v", list.Items)
	}
	stop()
	// The same file again makes no new version; a changed one does.
	for i, change := range []bool{false, true} {
		if change {
			write(strings.Replace(httpbinEnv("staging", egress, freeAddr(t), target), "{name: staging}", "{name: staging, description: changed}", 1))
		}
		base, stop = testserver.Start(t, server.Config{DB: dir + "/faultline.db", EnvironmentFiles: []string{file}})
		c = client{t: t, base: base}
		c.json("GET", "/api/v1/environments", "", nil, 200, &list)
		if want := 1 + i; list.Items[0].Version != want {
			t.Errorf("start %d: version %d, want %d", i+2, list.Items[0].Version, want)
		}
		stop()
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestGameDaysAndAbortConditionsWorkOnEnvironments(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{}))
	createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	hc := viaEgress(t, egress)
	steady := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady-staging}
spec:
  environment: staging
  load: {url: "http://httpbin:8000/get", requests: 10}
  hypothesis:
  - {metric: error_ratio, op: "==", value: 0}
`
	storeExperiments(t, c, steady, envAbort("abort-a", "staging", "requests: 10"), envAbort("abort-b", "staging", "requests: 10"))

	t.Run("a game day whose steps run on the environment", func(t *testing.T) {
		// The parallel steps share the environment: one waits for the other.
		gd := postGameDay(t, c, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: staging-day}
spec:
  steadyState: steady-staging
  steps:
  - experiment: abort-a
  - parallel:
    - experiment: abort-a
    - experiment: abort-b
`)
		r := waitGameDay(t, c, startGameDay(t, c, gd.ID).ID, 60*time.Second, ended)
		if r.Status != "succeeded" || r.Report == nil || len(r.Report.Steps) != 2 {
			t.Fatalf("game day: %s %s %+v", r.Status, r.Reason, r.Report)
		}
		runs := append([]gameDayAPIStep{*r.Report.SteadyStateBefore, *r.Report.SteadyStateAfter, r.Report.Steps[0]}, r.Report.Steps[1].Steps...)
		for _, s := range runs {
			if s.RunID == nil {
				t.Fatalf("step %s has no run", s.Path)
			}
			var run struct {
				Environment string `json:"environment"`
				Status      string `json:"status"`
			}
			c.json("GET", fmt.Sprintf("/api/v1/runs/%d", *s.RunID), "", nil, 200, &run)
			if run.Environment != "staging" || run.Status != "succeeded" {
				t.Errorf("step %s: run %+v", s.Path, run)
			}
		}
		if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
			t.Errorf("after the game day: %d", code)
		}
	})
	t.Run("an abort condition halts the run and the baseline comes back", func(t *testing.T) {
		src := strings.Replace(envAbort("abort-halts", "staging", "qps: 50, duration: 30s"), "  hypothesis:",
			"  abort:\n  - {metric: error_ratio, op: \">\", value: 0.5, window: 1s}\n  hypothesis:", 1)
		r := waitRun(t, c, startRun(t, c, createExp(t, c, src)))
		if r.Status != "stopped" || !strings.Contains(r.Reason, "error_ratio") {
			t.Errorf("run: %s %s", r.Status, r.Reason)
		}
		if code, _ := status(t, hc, "http://httpbin:8000/get", nil); code != 200 {
			t.Errorf("after the abort: %d", code)
		}
	})
}
