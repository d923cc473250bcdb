package experiment_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/safety"
)

// scenarioSource returns the source of a shipped example scenario.
func scenarioSource(t *testing.T, file string) []byte {
	t.Helper()
	examples, err := scenarios.Examples()
	if err != nil {
		t.Fatalf("shipped examples: %v", err)
	}
	for _, ex := range examples {
		if ex.File == file {
			return ex.Source
		}
	}
	t.Fatalf("scenarios/%s is not shipped", file)
	return nil
}

// parseSource parses src after applying edits (old, new pairs) to it.
func parseSource(t *testing.T, src []byte, edits ...string) *scenarios.Document {
	t.Helper()
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("edit: %q is not in the scenario", edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	doc, err := scenarios.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// lockedBuffer is an io.Writer safe for the proxy's access log.
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

// run is one experiment.Execute of a scenario and what the test can see of it.
type run struct {
	doc       *scenarios.Document
	report    *report.Report
	targets   *experiment.DemoTargets
	mesh      string
	listeners []proxy.Listener
	accessLog *lockedBuffer
	took      time.Duration
}

// execute runs doc as `faultline run` would, through real listeners, real
// fortio load and real demo targets on loopback.
func execute(t *testing.T, doc *scenarios.Document) *run {
	t.Helper()
	r := &run{doc: doc, accessLog: &lockedBuffer{}}
	start := time.Now()
	rep, err := experiment.Execute(t.Context(), doc, experiment.Options{
		AccessLog: r.accessLog,
		Limits:    safety.DefaultLimits,
		OnTargets: func(tg *experiment.DemoTargets) { r.targets = tg },
		OnProxy: func(px *proxy.Proxy) {
			r.mesh, r.listeners = px.MeshAddr(), px.Listeners()
		},
	})
	if err != nil {
		t.Fatalf("execute %s: %v", doc.Name(), err)
	}
	r.report, r.took = rep, time.Since(start)
	return r
}

// target returns the demo target of endpoint index of host.
func (r *run) target(t *testing.T, host string, index int) demo.Target {
	t.Helper()
	return mustTarget(t, r.targets, host, index)
}

func mustTarget(t *testing.T, tg *experiment.DemoTargets, host string, index int) demo.Target {
	t.Helper()
	d, ok := tg.Target(host, index)
	if !ok {
		t.Fatalf("no demo target for %s endpoint %d", host, index)
	}
	return d
}

// listenerAddr returns the address of the named listener of the run.
func (r *run) listenerAddr(t *testing.T, name string) string {
	t.Helper()
	for _, l := range r.listeners {
		if l.Name == name {
			return l.Addr
		}
	}
	t.Fatalf("no listener %s among %v", name, r.listeners)
	return ""
}

// harness is a scenario's proxy and demo targets started directly, so a
// test can drive its own requests through the listeners.
type harness struct {
	doc       *scenarios.Document
	px        *proxy.Proxy
	targets   *experiment.DemoTargets
	accessLog *lockedBuffer
}

// start starts doc's demo targets and proxy on loopback, as Execute does,
// and stops them when the test ends.
func start(t *testing.T, doc *scenarios.Document) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	targets, err := experiment.StartDemoTargets(ctx, doc)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h := &harness{doc: doc, targets: targets, accessLog: &lockedBuffer{}}
	px, err := proxy.Start(ctx, doc, "127.0.0.1:0", nil, proxy.Options{Seed: 1, AccessLog: h.accessLog})
	if err != nil {
		cancel()
		_ = targets.Close()
		t.Fatal(err)
	}
	targets.SetMesh(px.MeshAddr())
	h.px = px
	t.Cleanup(func() {
		_ = px.Close()
		cancel()
		_ = targets.Close()
	})
	return h
}

// target returns the demo target of endpoint index of host.
func (h *harness) target(t *testing.T, host string, index int) demo.Target {
	t.Helper()
	return mustTarget(t, h.targets, host, index)
}

// gateway returns the address of a Gateway server port's listener.
func (h *harness) gateway(t *testing.T, name string, port uint32) string {
	t.Helper()
	a, ok := h.px.GatewayAddr(name, port)
	if !ok {
		t.Fatalf("no listener for gateway %s port %d", name, port)
	}
	return a
}

// closeLog stops the proxy, so its access log is complete, and returns it.
func (h *harness) closeLog() string {
	_ = h.px.Close()
	return h.accessLog.String()
}

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

// client sends the tests' own requests; it never follows redirects nor
// uses HTTP_PROXY from the environment.
var client = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// get sends GET path to the listener addr with the given Host and headers.
func get(t *testing.T, addr, host, path string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s via %s: %v", host, path, addr, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("GET %s%s: read: %v", host, path, err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: string(body), took: time.Since(start)}
}

// parallelGets sends the requests at once and returns the answers in order.
func parallelGets(t *testing.T, reqs ...func() answer) []answer {
	t.Helper()
	out := make([]answer, len(reqs))
	var wg sync.WaitGroup
	for i, f := range reqs {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = f() }()
	}
	wg.Wait()
	return out
}

// logLines returns the access-log lines naming cluster and entering on
// the listener at addr (%DOWNSTREAM_LOCAL_ADDRESS%).
func logLines(log, cluster, addr string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, " "+cluster+" ") && strings.Contains(line, " "+addr+" ") {
			out = append(out, line)
		}
	}
	return out
}
