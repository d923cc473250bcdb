package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/store"
)

// serve starts a server with cfg (testserver.Start) and returns a client
// of it.
func serve(t *testing.T, cfg server.Config) client {
	t.Helper()
	base, _ := testserver.Start(t, cfg)
	return client{t: t, base: base}
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path, contentType string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, out
}

func (c client) json(method, path, contentType string, body []byte, wantStatus int, into any) http.Header {
	c.t.Helper()
	resp, out := c.do(method, path, contentType, body)
	if resp.StatusCode != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, out)
	}
	if into != nil {
		if err := json.Unmarshal(out, into); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, out, err)
		}
	}
	return resp.Header
}

const abortExperiment = `# a comment that must survive verbatim
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: e2e-abort
  description: every call aborted with 503
spec:
  seed: 7
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    requests: 60
  hypothesis:
  - {metric: status_ratio, status: 503, op: "==", value: 1}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault:
      abort: {httpStatus: 503, percentage: {value: 100}}
    route:
    - destination: {host: httpbin}
`

type experimentJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Source  string `json:"source"`
}

type runJSON struct {
	ID                int64           `json:"id"`
	Status            string          `json:"status"`
	Verdict           string          `json:"verdict"`
	Reason            string          `json:"reason"`
	ExperimentVersion int             `json:"experimentVersion"`
	Seed              int64           `json:"seed"`
	Report            json.RawMessage `json:"report"`
}

type errorJSON struct {
	Error struct {
		Message string `json:"message"`
		Field   string `json:"field"`
		Code    string `json:"code"`
	} `json:"error"`
	Problems []struct {
		Path string `json:"path"`
	} `json:"problems"`
}

func TestExperimentLifecycleAndRunThroughAPI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "faultline.db")
	base, stop := testserver.Start(t, server.Config{DB: db, LoadExamples: true})
	c := client{t: t, base: base}

	var list struct {
		Items []experimentJSON `json:"items"`
		Total int64            `json:"total"`
	}
	c.json("GET", "/api/v1/experiments", "", nil, 200, &list)
	if list.Total == 0 {
		t.Fatal("the examples were not loaded into the empty database")
	}
	examples := list.Total

	var created experimentJSON
	h := c.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 201, &created)
	if created.Version != 1 || created.Source != abortExperiment {
		t.Fatalf("created = %+v, want version 1 and the source verbatim", created)
	}
	if want := fmt.Sprintf("/api/v1/experiments/%d", created.ID); h.Get("Location") != want {
		t.Errorf("Location = %q, want %q", h.Get("Location"), want)
	}
	var conflict errorJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 409, &conflict)
	if conflict.Error.Field != "metadata.name" || !strings.Contains(conflict.Error.Message, `"e2e-abort" exists already`) {
		t.Errorf("conflict error = %+v", conflict.Error)
	}

	updated := strings.Replace(abortExperiment, "requests: 60", "requests: 40", 1)
	var got experimentJSON
	c.json("PUT", fmt.Sprintf("/api/v1/experiments/%d", created.ID), "application/yaml", []byte(updated), 200, &got)
	if got.Version != 2 {
		t.Fatalf("version after update = %d, want 2", got.Version)
	}

	var run runJSON
	h = c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", created.ID), "application/json", nil, 202, &run)
	if h.Get("Location") != fmt.Sprintf("/api/v1/runs/%d", run.ID) || run.Status != "queued" {
		t.Fatalf("start: Location %q, run %+v", h.Get("Location"), run)
	}
	events := followEvents(t, c, fmt.Sprintf("/api/v1/runs/%d/events", run.ID), 30*time.Second)
	if events[len(events)-1].name != "end" {
		t.Fatalf("last event = %q, want end; events %v", events[len(events)-1].name, events)
	}

	done := waitRun(t, c, run.ID)
	if done.Status != "succeeded" || done.Verdict != "pass" || done.ExperimentVersion != 2 || done.Seed != 7 {
		t.Fatalf("run = %+v (reason %q)", done, done.Reason)
	}
	var rep struct {
		Requests int64            `json:"requests"`
		Codes    map[string]int64 `json:"codes"`
		Proxy    struct {
			UpstreamRequests int64            `json:"upstreamRequests"`
			FaultsAborted    int64            `json:"faultsAborted"`
			ByFlag           map[string]int64 `json:"byFlag"`
		} `json:"proxy"`
		Fortio map[string]any `json:"fortio"`
	}
	if err := json.Unmarshal(done.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 40 || rep.Codes["503"] != 40 {
		t.Errorf("report requests %d codes %v, want 40 × 503", rep.Requests, rep.Codes)
	}
	if rep.Proxy.UpstreamRequests != 0 || rep.Proxy.FaultsAborted != 40 || rep.Proxy.ByFlag["FI"] != 40 {
		t.Errorf("proxy counters %+v, want 0 upstream, 40 aborted, FI=40", rep.Proxy)
	}
	if rep.Fortio["RetCodes"] == nil {
		t.Error("the report lacks fortio's own JSON")
	}

	var runs struct {
		Items []runJSON `json:"items"`
		Total int64     `json:"total"`
	}
	c.json("GET", fmt.Sprintf("/api/v1/runs?experiment=%d&limit=1", created.ID), "", nil, 200, &runs)
	if runs.Total != 1 || len(runs.Items) != 1 || runs.Items[0].ID != run.ID {
		t.Errorf("runs of the experiment = %+v", runs)
	}
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", run.ID), "", nil, 409, nil)

	// The experiment survives a restart of the server on the same database.
	stop()
	base, _ = testserver.Start(t, server.Config{DB: db, LoadExamples: true})
	c.base = base
	c.json("GET", fmt.Sprintf("/api/v1/experiments/%d", created.ID), "", nil, 200, &got)
	if got.Version != 2 || got.Source != updated {
		t.Errorf("after restart: %+v", got)
	}
	c.json("GET", "/api/v1/experiments", "", nil, 200, &list)
	if list.Total != examples+1 {
		t.Errorf("after restart %d experiments, want %d (examples are not loaded twice)", list.Total, examples+1)
	}
}

// TestExampleGameDayRunsOnAFreshServer checks that a fresh server loads
// the shipped game day beside the example experiments it names, and that
// it runs through and passes.
func TestExampleGameDayRunsOnAFreshServer(t *testing.T) {
	c := serve(t, server.Config{DB: filepath.Join(t.TempDir(), "faultline.db"), LoadExamples: true})
	var list struct {
		Items []gameDayAPIDoc `json:"items"`
		Total int64           `json:"total"`
	}
	c.json("GET", "/api/v1/gamedays", "", nil, 200, &list)
	examples, err := scenarios.GameDayExamples()
	if err != nil {
		t.Fatal(err)
	}
	if list.Total != int64(len(examples)) || list.Items[0].Name != "httpbin-gameday" || list.Items[0].Schedule == nil {
		t.Fatalf("game days on a fresh server = %+v", list)
	}
	run := startGameDay(t, c, list.Items[0].ID)
	got := waitGameDay(t, c, run.ID, time.Minute, ended)
	if got.Status != "succeeded" || got.Verdict != "pass" || got.Report == nil || len(got.Report.Steps) != 4 || got.Report.SteadyStateAfter == nil {
		t.Fatalf("example game day = %s %s (%s), report %+v", got.Status, got.Verdict, got.Reason, got.Report)
	}
}

func TestInvalidDocumentIsRefusedAndNothingStored(t *testing.T) {
	c := serve(t, server.Config{})
	bad := strings.Replace(abortExperiment, "httpStatus: 503", "httpStatus: 700", 1)
	var e errorJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(bad), 422, &e)
	if !strings.Contains(e.Error.Field, "spec.http[0].fault.abort") || !strings.Contains(e.Error.Message, "VirtualService httpbin") {
		t.Errorf("error = %+v, want the field path and document named", e)
	}
	unknown := strings.Replace(abortExperiment, "connections: 2", "connections: 2\n    conections: 3", 1)
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(unknown), 422, &e)
	if e.Error.Field != "spec.load.conections" {
		t.Errorf("unknown field error = %+v", e)
	}
	refused := strings.Replace(abortExperiment, "- demo: httpbin", "- address: 10.1.2.3:80", 1)
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(refused), 422, &e)
	if e.Error.Field != "spec.services[0].endpoints[0].address" || !strings.Contains(e.Error.Message, "10.1.2.3:80") {
		t.Errorf("refused target error = %+v", e)
	}
	c.json("POST", "/api/v1/experiments", "application/yaml", bytes.Repeat([]byte("#"), 2<<20), 413, nil)
	var list struct{ Total int64 }
	c.json("GET", "/api/v1/experiments", "", nil, 200, &list)
	if list.Total != 0 {
		t.Errorf("%d experiments stored after refusals, want 0", list.Total)
	}
	c.json("GET", "/api/v1/experiments/999", "", nil, 404, nil)
	c.json("GET", "/api/v1/experiments/abc", "", nil, 400, nil)
	c.json("POST", "/api/v1/experiments/999/runs", "", nil, 404, nil)
	c.json("GET", "/api/v1/runs?limit=0", "", nil, 400, nil)
}

func TestTokenGuardsTheAPI(t *testing.T) {
	const token = "s3cret-0123456789abcdef"
	base, _ := testserver.Start(t, server.Config{Token: token})
	anon := client{t: t, base: base}
	var e errorJSON
	anon.json("GET", "/api/v1/experiments", "", nil, 401, &e)
	if e.Error.Message == "" {
		t.Error("401 without an error message")
	}
	wrong := client{t: t, base: base, token: "nope"}
	wrong.json("GET", "/api/v1/experiments", "", nil, 401, nil)
	wrong.json("GET", "/metrics", "", nil, 401, nil)
	good := client{t: t, base: base, token: token}
	good.json("GET", "/api/v1/experiments", "", nil, 200, nil)
	anon.json("GET", "/healthz", "", nil, 200, nil)

	err := server.Serve(context.Background(), server.Config{Addr: "0.0.0.0:0", DB: filepath.Join(t.TempDir(), "x.db")}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "FAULTLINE_TOKEN") {
		t.Errorf("serving beyond loopback without a token: err = %v", err)
	}
	err = server.Serve(context.Background(), server.Config{Token: "s3cret", DB: filepath.Join(t.TempDir(), "x.db")}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("serving with a 6-byte token: err = %v, want a refusal saying how long a token must be", err)
	}
}

func TestRunLeftRunningIsInterruptedAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faultline.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	e := &store.Experiment{Name: "left-running", Source: abortExperiment, Format: "yaml"}
	if err := db.CreateExperiment(ctx, e); err != nil {
		t.Fatal(err)
	}
	r := &store.Run{ExperimentID: &e.ID, ExperimentName: e.Name, ExperimentVersion: 1, Status: "queued", Seed: 1}
	if err := db.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRunStatus(ctx, r.ID, "running", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close() // as if the process had died mid-run

	c := serve(t, server.Config{DB: path})
	var got runJSON
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", r.ID), "", nil, 200, &got)
	if got.Status != "interrupted" {
		t.Errorf("status after restart = %q, want interrupted", got.Status)
	}
}

func TestStopARunningRun(t *testing.T) {
	c := serve(t, server.Config{})
	long := strings.Replace(abortExperiment, "requests: 60", "duration: 30s\n    qps: 50", 1)
	var created experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(long), 201, &created)
	var run runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", created.ID), "", nil, 202, &run)
	var r runJSON
	if !wait.Until(10*time.Second, func() bool {
		r = runJSON{}
		c.json(
			"GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), "", nil, 200, &r)
		return r.Status == "running"
	}) {
		t.Fatalf("run never started: %+v", r)
	}
	var live struct {
		Listeners []struct{ Name, Addr string }
		Stats     struct {
			Listeners []struct{ Name string }
		}
	}
	// "running" is recorded just before the run opens its proxy: poll.
	var resp *http.Response
	var body []byte
	if !wait.Until(5*time.Second, func() bool {
		resp, body = c.do("GET", fmt.Sprintf("/api/v1/runs/%d/proxy", run.ID), "", nil)
		return resp.StatusCode == 200
	}) {
		t.Fatalf("live proxy: %d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &live); err != nil {
		t.Fatal(err)
	}
	if len(live.Listeners) == 0 || live.Listeners[0].Name != "mesh" || !strings.HasPrefix(live.Listeners[0].Addr, "127.0.0.1:") {
		t.Errorf("live proxy = %+v", live)
	}
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", run.ID), "", nil, 202, nil)
	got := waitRun(t, c, run.ID)
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d/proxy", run.ID), "", nil, 409, nil)
	if got.Status != "stopped" || got.Reason != "stopped by request" {
		t.Errorf("run after stop = %+v", got)
	}
}

// route is an operation of the API: a method and a path template.
type route struct{ method, path string }

// openAPIDoc reads the server's /openapi.json and fails the test unless
// it is a valid OpenAPI document.
func openAPIDoc(t *testing.T, c client) *openapi3.T {
	t.Helper()
	_, body := c.do("GET", "/openapi.json", "", nil)
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
	return doc
}

// checkRoutes fails for every route that doc does not describe.
func checkRoutes(t *testing.T, doc *openapi3.T, routes []route) {
	t.Helper()
	for _, r := range routes {
		item := doc.Paths.Find(r.path)
		if item == nil || item.GetOperation(r.method) == nil {
			t.Errorf("openapi.json lacks %s %s", r.method, r.path)
		}
	}
}

func TestOpenAPIDocumentIsValidAndCoversTheRoutes(t *testing.T) {
	doc := openAPIDoc(t, serve(t, server.Config{}))
	checkRoutes(t, doc, []route{
		{"GET", "/healthz"}, {"GET", "/metrics"}, {"GET", "/openapi.json"},
		{"GET", "/api/v1/experiments"}, {"POST", "/api/v1/experiments"},
		{"GET", "/api/v1/experiments/{id}"}, {"PUT", "/api/v1/experiments/{id}"}, {"DELETE", "/api/v1/experiments/{id}"},
		{"POST", "/api/v1/experiments/{id}/runs"}, {"POST", "/api/v1/validate"}, {"GET", "/api/v1/runs"}, {"GET", "/api/v1/runs/{id}"},
		{"GET", "/api/v1/runs/{id}/events"}, {"POST", "/api/v1/runs/{id}/stop"}, {"POST", "/api/v1/runs/{id}/rerun"},
		{"GET", "/api/v1/runs/{id}/compare/{other}"}, {"GET", "/api/v1/runs/{id}/fortio.json"},
		{"GET", "/api/v1/runs/{id}/junit.xml"}, {"GET", "/api/v1/runs/{id}/histogram.csv"}, {"GET", "/api/v1/runs/{id}/proxy"},
		{"GET", "/api/v1/safety/lever"}, {"POST", "/api/v1/safety/lever"},
		{"GET", "/api/v1/experiments/{id}/fires"},
		{"GET", "/api/v1/environments"}, {"POST", "/api/v1/environments"},
		{"GET", "/api/v1/environments/{id}"}, {"PUT", "/api/v1/environments/{id}"}, {"DELETE", "/api/v1/environments/{id}"},
		{"GET", "/api/v1/environments/{id}/graph"}, {"GET", "/api/v1/environments/{id}/access-log"}, {"GET", "/api/v1/environments/{id}/runs"},
		{"GET", "/api/v1/environments/{id}/overlays"}, {"POST", "/api/v1/environments/{id}/overlays"}, {"DELETE", "/api/v1/environments/{id}/overlays/{oid}"},
		{"GET", "/api/v1/audit"},
	})
}

func TestMetricsExposeRunsAndProxyCounters(t *testing.T) {
	c := serve(t, server.Config{})
	var created experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 201, &created)
	var run runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", created.ID), "", nil, 202, &run)
	waitRun(t, c, run.ID)
	resp, body := c.do("GET", "/metrics", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{`faultline_runs_finished_total{status="succeeded"} 1`, `envoy_http_fault_aborts_injected_total{environment=""} 60`,
		`envoy_cluster_upstream_rq_total{cluster_name="outbound|8000||httpbin.default.svc.cluster.local",environment=""} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

type event struct{ name, data string }

// followEvents reads the server-sent events at path to the end of the
// stream, for at most within.
func followEvents(t *testing.T, c client, path string, within time.Duration) []event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("events Content-Type = %q", ct)
	}
	var out []event
	var cur event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20) // a game day's state carries its report so far
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			cur.name = strings.TrimPrefix(line, "event:")
		case strings.HasPrefix(line, "data:"):
			cur.data = strings.TrimPrefix(line, "data:")
		case line == "" && cur.name != "":
			out = append(out, cur)
			cur = event{}
		}
	}
	if len(out) == 0 {
		t.Fatal("no events")
	}
	return out
}

func waitRun(t *testing.T, c client, id int64) runJSON {
	t.Helper()
	var r runJSON
	if !wait.Until(30*time.Second, func() bool {
		r = runJSON{}
		c.json("GET", fmt.Sprintf("/api/v1/runs/%d", id), "", nil, 200, &r)
		switch r.Status {
		case "succeeded", "failed", "stopped", "error", "interrupted":
			return true
		}
		return false
	}) {
		t.Fatalf("run %d still %s", id, r.Status)
	}
	return r
}

const halfAbort = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: half-abort}
spec:
  seed: 20261125
  services:
  - {host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 200}
  hypothesis:
  - {metric: status_ratio, status: 503, op: ">", value: 0.3}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: PCT}}}
    route: [{destination: {host: httpbin}}]
`

// runToEnd creates (or reuses) an experiment from src, runs it and returns the finished run.
func runToEnd(t *testing.T, c client, src string) runJSON {
	t.Helper()
	var e experimentJSON
	resp, body := c.do("POST", "/api/v1/experiments", "application/yaml", []byte(src))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	var run runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", e.ID), "", nil, 202, &run)
	return waitRun(t, c, run.ID)
}

type reportJSON struct {
	Codes     map[string]int64 `json:"codes"`
	Seed      int64            `json:"seed"`
	Injection []struct {
		Kind              string  `json:"kind"`
		ConfiguredPercent float64 `json:"configuredPercent"`
		Matched           int64   `json:"matched"`
		Injected          int64   `json:"injected"`
		OK                bool    `json:"ok"`
	} `json:"injection"`
}

func TestRerunReplaysTheSameFaultDecisions(t *testing.T) {
	c := serve(t, server.Config{})
	first := runToEnd(t, c, strings.Replace(halfAbort, "PCT", "50", 1))
	var again runJSON
	h := c.json("POST", fmt.Sprintf("/api/v1/runs/%d/rerun", first.ID), "", nil, 202, &again)
	if h.Get("Location") != fmt.Sprintf("/api/v1/runs/%d", again.ID) || again.Seed != first.Seed {
		t.Fatalf("rerun = %+v, Location %q; want the seed %d", again, h.Get("Location"), first.Seed)
	}
	second := waitRun(t, c, again.ID)
	var a, b reportJSON
	if err := json.Unmarshal(first.Report, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(second.Report, &b); err != nil {
		t.Fatal(err)
	}
	if a.Codes["503"] == 0 || a.Codes["503"] != b.Codes["503"] || a.Codes["200"] != b.Codes["200"] {
		t.Errorf("replay drew differently: %v then %v", a.Codes, b.Codes)
	}
	if len(a.Injection) != 1 || a.Injection[0].Matched != 200 || a.Injection[0].Injected != a.Codes["503"] || !a.Injection[0].OK {
		t.Errorf("injection accounting = %+v, codes %v", a.Injection, a.Codes)
	}
	c.json("POST", "/api/v1/runs/9999/rerun", "", nil, 404, nil)
}

func TestCompareRunsSaysWhatIsSignificant(t *testing.T) {
	c := serve(t, server.Config{})
	half := runToEnd(t, c, strings.Replace(halfAbort, "PCT", "50", 1))
	none := runToEnd(t, c, strings.Replace(strings.Replace(halfAbort, "PCT", "0", 1), "half-abort", "no-abort", 1))
	var cmp struct {
		ErrorRatio struct {
			A, B        float64
			Significant bool
		} `json:"errorRatio"`
		Codes []struct {
			Code string
			A, B int64
		} `json:"codes"`
	}
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d/compare/%d", half.ID, none.ID), "", nil, 200, &cmp)
	if !cmp.ErrorRatio.Significant || cmp.ErrorRatio.B != 0 || cmp.ErrorRatio.A < 0.3 {
		t.Errorf("50 %% aborts against none: %+v", cmp.ErrorRatio)
	}
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d/compare/%d", half.ID, half.ID), "", nil, 200, &cmp)
	if cmp.ErrorRatio.Significant {
		t.Errorf("a run against itself is significant: %+v", cmp.ErrorRatio)
	}
	var warned reportJSON
	if err := json.Unmarshal(none.Report, &warned); err != nil {
		t.Fatal(err)
	}
	if len(warned.Injection) != 1 || warned.Injection[0].Injected != 0 || !warned.Injection[0].OK {
		t.Errorf("0 %% configured, 0 injected is as configured: %+v", warned.Injection)
	}
}

func TestExports(t *testing.T) {
	c := serve(t, server.Config{})
	run := runToEnd(t, c, strings.Replace(halfAbort, "PCT", "50", 1))

	resp, body := c.do("GET", fmt.Sprintf("/api/v1/runs/%d/fortio.json", run.ID), "", nil)
	var fr fhttp.HTTPRunnerResults
	if resp.StatusCode != 200 || json.Unmarshal(body, &fr) != nil || fr.DurationHistogram == nil || fr.DurationHistogram.Count != 200 {
		t.Errorf("fortio.json: %d, %d calls in fortio's own type", resp.StatusCode, fr.DurationHistogram.Count)
	}

	resp, body = c.do("GET", fmt.Sprintf("/api/v1/runs/%d/junit.xml", run.ID), "", nil)
	var suites struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
		Suites  []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(body, &suites); err != nil || resp.StatusCode != 200 {
		t.Fatalf("junit.xml: %d %v\n%s", resp.StatusCode, err, body)
	}
	if len(suites.Suites) != 1 || suites.Suites[0].Tests != 1 || suites.Suites[0].Cases[0].Name != "status_ratio 503 > 0.3" || suites.Suites[0].Cases[0].Failure != nil {
		t.Errorf("junit = %+v", suites)
	}

	resp, body = c.do("GET", fmt.Sprintf("/api/v1/runs/%d/histogram.csv", run.ID), "", nil)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || resp.StatusCode != 200 || len(rows) < 2 || rows[0][0] != "start_ms" || rows[len(rows)-1][4] != "100.000" {
		t.Errorf("histogram.csv: %d %v %v", resp.StatusCode, err, rows)
	}
	c.json("GET", "/api/v1/runs/9999/junit.xml", "", nil, 404, nil)
}

func TestRetentionPrunesTheOldestRuns(t *testing.T) {
	c := serve(t, server.Config{KeepRuns: 2})
	first := runToEnd(t, c, strings.Replace(halfAbort, "PCT", "0", 1))
	var runs struct{ Total int64 }
	for range 3 {
		var run runJSON
		c.json("POST", fmt.Sprintf("/api/v1/runs/%d/rerun", first.ID), "", nil, 202, &run)
		waitRun(t, c, run.ID)
		first = run
	}
	c.json("GET", "/api/v1/runs", "", nil, 200, &runs)
	if runs.Total != 2 {
		t.Errorf("%d runs stored, want 2", runs.Total)
	}
}

func TestUnreachableTargetMakesTheRunAnError(t *testing.T) {
	c := serve(t, server.Config{})
	src := strings.Replace(strings.Replace(halfAbort, "PCT", "0", 1), "[{demo: httpbin}]", "[{address: 127.0.0.1:1}]", 1)
	run := runToEnd(t, c, src)
	if run.Status != "error" || !strings.Contains(run.Reason, "127.0.0.1:1 of httpbin is unreachable") {
		t.Errorf("run = %+v", run)
	}
}

func TestNoGoroutineOrListenerOutlivesTheServer(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		base, stop := testserver.Start(t, server.Config{})
		c := client{t: t, base: base}
		runToEnd(t, c, strings.Replace(halfAbort, "PCT", "50", 1))
		runToEnd(t, c, strings.NewReplacer("PCT", "0", "[{demo: httpbin}]", "[{address: 127.0.0.1:1}]", "half-abort", "down").Replace(halfAbort))
		long := strings.NewReplacer("requests: 200", "duration: 30s, qps: 20", "half-abort", "long", "PCT", "0").Replace(halfAbort)
		var e experimentJSON
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(long), 201, &e)
		var run runJSON
		c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", e.ID), "", nil, 202, &run)
		// Stop the server with the run still going: it must end as stopped.
		wait.For(t, 10*time.Second, "the long run to start", func() bool {
			c.json("GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), "", nil, 200, &run)
			return run.Status == "running"
		})
		stop()
	}()
	http.DefaultClient.CloseIdleConnections()
	wait.Until(10*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 })
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the server stopped, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestMain(m *testing.M) {
	testserver.DisableRyuk() // before the first container starts
	os.Exit(m.Run())
}

func TestAddressInUseIsAnErrorAndLeaksNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	before := runtime.NumGoroutine()
	err = server.Serve(context.Background(), server.Config{Addr: taken.Addr().String(), DB: filepath.Join(t.TempDir(), "x.db")}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Serve on a taken address: %v", err)
	}
	wait.Until(5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after a failed start, %d before", n, before)
	}
}

func TestASecondServerOnTheDatabaseIsRefusedAndChangesNothing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "faultline.db")
	c := serve(t, server.Config{DB: db})
	long := strings.Replace(abortExperiment, "requests: 60", "duration: 30s\n    qps: 20", 1)
	var created experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(long), 201, &created)
	var run runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", created.ID), "", nil, 202, &run)
	waitStatus(t, c, run.ID, "running", 10*time.Second)

	err := server.Serve(context.Background(), server.Config{DB: db, Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "another faultline may be using this database") {
		t.Fatalf("a second server on the database: %v", err)
	}
	// The first server's run is still running: the second marked nothing.
	var got runJSON
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), "", nil, 200, &got)
	if got.Status != "running" {
		t.Errorf("the first server's run is %s (%s), want running", got.Status, got.Reason)
	}
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", run.ID), "", nil, http.StatusAccepted, nil)
	waitRun(t, c, run.ID)
}
