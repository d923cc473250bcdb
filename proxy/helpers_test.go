package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// upstream is a real HTTP server that records what it saw.
type upstream struct {
	*httptest.Server
	name string
	hits atomic.Int64

	mu   sync.Mutex
	seen []*http.Request
}

// newUpstream answers "<name>" by default, /status/<code> with that code,
// /delay/<ms> after that many milliseconds.
func newUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		rec := r.Clone(context.Background())
		rec.Body = nil
		u.mu.Lock()
		u.seen = append(u.seen, rec)
		u.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Server", "upstream-"+name)
		w.Header().Set("X-Upstream", name)
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			w.WriteHeader(code)
			return
		case strings.HasPrefix(r.URL.Path, "/delay/"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/delay/"))
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.Close)
	return u
}

// addr is the upstream's host:port.
func (u *upstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatalf("upstream %s saw no request", u.name)
	}
	return u.seen[len(u.seen)-1]
}

// deadAddr is a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// parse parses an experiment stream, failing the test on error.
func parse(t testing.TB, src string) *scenarios.Document {
	t.Helper()
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return doc
}

// experiment renders an Experiment document with the given services YAML
// (indented under spec.services) followed by extra resources.
func experiment(services string, extra ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: t}\nspec:\n  services:\n")
	b.WriteString(services)
	b.WriteString("  load: {url: \"http://reviews:9080/\"}\n")
	for _, e := range extra {
		b.WriteString("---\n")
		b.WriteString(e)
		if !strings.HasSuffix(e, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// svc renders one spec.services entry with endpoints "addr[:label=value]".
func svc(host string, port int, endpoints ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - host: %s\n    port: %d\n    endpoints:\n", host, port)
	for _, ep := range endpoints {
		addr, label, _ := strings.Cut(ep, "@")
		fmt.Fprintf(&b, "    - address: %q\n", addr)
		if label != "" {
			k, v, _ := strings.Cut(label, "=")
			fmt.Fprintf(&b, "      labels: {%s: %s}\n", k, v)
		}
	}
	return b.String()
}

type harness struct {
	t      testing.TB
	p      *proxy.Proxy
	client *http.Client
	log    *syncBuffer
}

// syncBuffer is an access-log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start starts a proxy for src with an access log, closed at cleanup.
func start(t testing.TB, src string, opts ...func(*proxy.Options)) *harness {
	t.Helper()
	log := &syncBuffer{}
	o := proxy.Options{Seed: 42, AccessLog: log}
	for _, f := range opts {
		f(&o)
	}
	p, err := proxy.Start(context.Background(), parse(t, src), "127.0.0.1:0", nil, o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
	h := &harness{t: t, p: p, client: &http.Client{Transport: tr}, log: log}
	t.Cleanup(func() {
		p.Close()
		tr.CloseIdleConnections()
	})
	return h
}

type response struct {
	code   int
	header http.Header
	body   string
}

// do sends a request to addr with the given Host and headers
// ("Name: value" strings).
func (h *harness) do(addr, method, host, path string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = host
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(body)}
}

// get sends GET through the mesh listener.
func (h *harness) get(host, path string, headers ...string) response {
	h.t.Helper()
	return h.do(h.p.MeshAddr(), http.MethodGet, host, path, headers...)
}

// viaProxy sends GET absoluteURL using the mesh listener as HTTP_PROXY.
func (h *harness) viaProxy(absoluteURL string) response {
	h.t.Helper()
	pu, _ := url.Parse("http://" + h.p.MeshAddr())
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get(absoluteURL)
	if err != nil {
		h.t.Fatalf("GET %s via proxy: %v", absoluteURL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{code: res.StatusCode, header: res.Header, body: string(body)}
}

func (h *harness) flag(name string) int64 { return h.p.Stats().ByFlag[name] }

// accessLog closes the proxy (flushing the log) and returns its lines.
func (h *harness) accessLog() []string {
	h.t.Helper()
	h.p.Close()
	return strings.Split(strings.TrimSpace(h.log.String()), "\n")
}

func expect(t testing.TB, r response, code int, body string) {
	t.Helper()
	if r.code != code || r.body != body {
		t.Fatalf("got %d %q, want %d %q", r.code, r.body, code, body)
	}
}

// within checks a count against a binomial expectation ±5σ.
func within(t testing.TB, what string, got, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if d := float64(got) - mean; d > 5*sd || d < -5*sd {
		t.Errorf("%s: got %d of %d, want %.0f ± %.0f (5σ)", what, got, n, mean, 5*sd)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// quietGoroutines waits (half a second at most) until the number of
// goroutines stops changing, as earlier tests' connections wind down, and
// returns it.
func quietGoroutines() int {
	before := runtime.NumGoroutine()
	for range 50 {
		// Quiet is a count that holds over an interval, so the
		// interval is the measurement, not a guess at a duration.
		time.Sleep(10 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == before {
			break
		}
		before = n
	}
	return before
}

// settleGoroutines waits (five seconds at most) for the number of
// goroutines to fall to limit, and returns it.
func settleGoroutines(limit int) int {
	var n int
	wait.Until(5*time.Second, func() bool {
		n = runtime.NumGoroutine()
		return n <= limit
	})
	return n
}
