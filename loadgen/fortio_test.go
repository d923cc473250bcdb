package loadgen_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/loadgen"
)

// countingEcho starts fortio's echo handler on a loopback port and counts
// the requests it serves. fortio's echo honours ?status=503:50 and
// ?delay=10ms.
func countingEcho(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fhttp.EchoHandler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// rawField decodes one top-level field of fortio's result JSON.
func rawField(t *testing.T, raw json.RawMessage, key string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("Raw is not JSON: %v", err)
	}
	return m[key]
}

func sum(codes map[int]int64) int64 {
	var n int64
	for _, c := range codes {
		n += c
	}
	return n
}

func TestRunExactRequestCount(t *testing.T) {
	cases := []struct {
		name string
		spec loadgen.Spec
	}{
		{name: "max speed fast client", spec: loadgen.Spec{Requests: 50}},
		{name: "max speed std client", spec: loadgen.Spec{Requests: 50, StdClient: true}},
		{name: "paced run splits the count over connections", spec: loadgen.Spec{Requests: 50, QPS: 500, Connections: 3}},
		{name: "fewer requests than connections must not overshoot", spec: loadgen.Spec{Requests: 3, Connections: 8}},
		{name: "one paced request is one request (fortio would make 2)", spec: loadgen.Spec{Requests: 1, QPS: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, served := countingEcho(t)
			spec := tc.spec
			spec.URL = srv.URL + "/echo"
			res, err := loadgen.NewFortio().Run(t.Context(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := tc.spec.Requests
			if got := res.Requests; got != want {
				t.Errorf("Requests: got %d, want %d", got, want)
			}
			if got := sum(res.Codes); got != want {
				t.Errorf("sum(Codes): got %d, want %d (%v)", got, want, res.Codes)
			}
			if got := res.Codes[200]; got != want {
				t.Errorf("Codes[200]: got %d, want %d", got, want)
			}
			if got := served.Load(); got != want {
				t.Errorf("server saw %d requests, want %d (count-bound runs have no warm-up)", got, want)
			}
			if res.Errors != 0 {
				t.Errorf("Errors: got %d, want 0", res.Errors)
			}
			var inHistogram int64
			for _, b := range res.Histogram {
				inHistogram += b.Count
			}
			if inHistogram != want {
				t.Errorf("histogram counts: got %d, want %d", inHistogram, want)
			}
			l := res.Latency
			if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P99 && l.P99 <= l.Max) {
				t.Errorf("latency not ordered: %+v", l)
			}
			if res.ActualDuration <= 0 || res.ActualQPS <= 0 {
				t.Errorf("ActualDuration %v, ActualQPS %v: want both > 0", res.ActualDuration, res.ActualQPS)
			}
		})
	}
}

func TestRunQPSMapping(t *testing.T) {
	cases := []struct {
		name string
		qps  float64
		want string
	}{
		{name: "zero means max speed, not fortio's 8 qps", qps: 0, want: "max"},
		{name: "a rate is passed through", qps: 200, want: "200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := countingEcho(t)
			res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{URL: srv.URL, QPS: tc.qps, Requests: 10})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := rawField(t, res.Raw, "RequestedQPS"); got != tc.want {
				t.Errorf("RequestedQPS: got %v, want %q", got, tc.want)
			}
		})
	}
}

func TestRunResolution(t *testing.T) {
	cases := []struct {
		name       string
		resolution time.Duration
		want       float64 // seconds, as fortio reports it
	}{
		{name: "zero keeps fortio's 1ms", resolution: 0, want: 0.001},
		{name: "finer unit for sub-millisecond targets", resolution: 10 * time.Microsecond, want: 0.00001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := countingEcho(t)
			res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{URL: srv.URL, Requests: 10, Resolution: tc.resolution})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := rawField(t, res.Raw, "Resolution"); got != tc.want {
				t.Errorf("fortio Resolution: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRunStatusDistribution(t *testing.T) {
	srv, _ := countingEcho(t)
	const n = 400
	res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{
		URL:       srv.URL + "/?status=503:50",
		Requests:  n,
		StdClient: true, // keep-alive through the 503s
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := res.Codes[200] + res.Codes[503]; got != n {
		t.Fatalf("200+503: got %d, want %d (%v)", got, n, res.Codes)
	}
	// Binomial(400, 0.5): mean 200, sd 10; ±6 sd never fails by chance.
	if got := res.Codes[503]; got < 140 || got > 260 {
		t.Errorf("Codes[503]: got %d, want 200±60", got)
	}
	if got, want := res.Errors, res.Codes[503]; got != want {
		t.Errorf("Errors: got %d, want %d (the 503s)", got, want)
	}
}

func TestRunSocketErrorsAreData(t *testing.T) {
	res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{
		URL:      "http://" + deadAddr(t) + "/",
		Requests: 5,
		Timeout:  time.Second,
	})
	if err != nil {
		t.Fatalf("Run: got error %v, want failed requests reported as data", err)
	}
	if got, want := res.Codes[-1], int64(5); got != want {
		t.Errorf("Codes[-1]: got %d, want %d (%v)", got, want, res.Codes)
	}
	if got, want := res.Errors, int64(5); got != want {
		t.Errorf("Errors: got %d, want %d", got, want)
	}
}

// seen is what the recording handler saw of one request.
type seen struct {
	method, host, contentType, body string
	xTest, xMulti                   []string
}

func TestRunSendsRequestAsSpecified(t *testing.T) {
	cases := []struct {
		name       string
		std        bool
		method     string
		body       string
		wantMethod string
	}{
		{name: "fast client defaults to GET without a body", wantMethod: "GET"},
		{name: "std client defaults to GET without a body", std: true, wantMethod: "GET"},
		{name: "fast client posts a body", body: "hello", wantMethod: "POST"},
		{name: "std client posts a body", std: true, body: "hello", wantMethod: "POST"},
		{name: "explicit method wins over the body default", method: "PUT", body: "hello", wantMethod: "PUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []seen
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, seen{
					method: r.Method, host: r.Host, contentType: r.Header.Get("Content-Type"), body: string(b),
					xTest: r.Header.Values("X-Test"), xMulti: r.Header.Values("X-Multi"),
				})
				mu.Unlock()
			}))
			t.Cleanup(srv.Close)

			spec := loadgen.Spec{
				URL:       srv.URL,
				Method:    tc.method,
				Requests:  3,
				StdClient: tc.std,
				Header: http.Header{
					"X-Test":  {"faultline"},
					"X-Multi": {"one", "two"},
					"Host":    {"target.test"},
				},
			}
			if tc.body != "" {
				spec.Body = []byte(tc.body)
				spec.ContentType = "text/plain"
			}
			if _, err := loadgen.NewFortio().Run(t.Context(), spec); err != nil {
				t.Fatalf("Run: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(got))
			}
			for _, s := range got {
				if s.method != tc.wantMethod {
					t.Errorf("method: got %q, want %q", s.method, tc.wantMethod)
				}
				if s.host != "target.test" {
					t.Errorf("Host: got %q, want %q", s.host, "target.test")
				}
				if !slices.Equal(s.xTest, []string{"faultline"}) {
					t.Errorf("X-Test: got %q, want [faultline]", s.xTest)
				}
				if !slices.Equal(s.xMulti, []string{"one", "two"}) {
					t.Errorf("X-Multi: got %q, want [one two]", s.xMulti)
				}
				if s.body != tc.body {
					t.Errorf("body: got %q, want %q", s.body, tc.body)
				}
				if tc.body != "" && s.contentType != "text/plain" {
					t.Errorf("Content-Type: got %q, want text/plain", s.contentType)
				}
			}
		})
	}
}

func TestRunCancelReturnsPartialResult(t *testing.T) {
	srv, _ := countingEcho(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const planned = 10 * time.Second
	res, err := loadgen.NewFortio().Run(ctx, loadgen.Spec{
		URL:              srv.URL,
		QPS:              100,
		Connections:      2,
		Duration:         planned,
		ProgressInterval: 10 * time.Millisecond,
		OnProgress: func(p loadgen.Progress) {
			if p.Requests >= 5 {
				cancel()
			}
		},
	})
	if err != nil {
		t.Fatalf("Run: got error %v, want the partial result", err)
	}
	if res.Requests < 5 {
		t.Errorf("Requests: got %d, want >= 5 (cancel came after 5)", res.Requests)
	}
	if res.ActualDuration >= planned/2 {
		t.Errorf("ActualDuration: got %v, want well under the planned %v", res.ActualDuration, planned)
	}
	if got := sum(res.Codes); got != res.Requests {
		t.Errorf("sum(Codes): got %d, want Requests %d", got, res.Requests)
	}
}

func TestRunCancelDuringWarmUp(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived); <-release }) // hold the warm-up call
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-arrived
		cancel()
		close(release)
	}()
	res, err := loadgen.NewFortio().Run(ctx, loadgen.Spec{URL: srv.URL, Connections: 1, Duration: 10 * time.Second})
	if err != nil {
		t.Fatalf("Run: got error %v, want a (near-)empty result", err)
	}
	// Usually 0; the abort races the end of the warm-up by a call or two.
	if res.Requests > 10 {
		t.Errorf("Requests: got %d, want the run stopped at once", res.Requests)
	}
}

func TestRunContextDoneBeforeStart(t *testing.T) {
	srv, served := countingEcho(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := loadgen.NewFortio().Run(ctx, loadgen.Spec{URL: srv.URL, Requests: 5})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: got (%v, %v), want context.Canceled", res, err)
	}
	if got := served.Load(); got != 0 {
		t.Errorf("server saw %d requests, want 0", got)
	}
}

func TestRunProgress(t *testing.T) {
	srv, _ := countingEcho(t)
	var calls []loadgen.Progress // written by Run's goroutines, read after Run returns
	res, err := loadgen.NewFortio().Run(t.Context(), loadgen.Spec{
		URL:              srv.URL + "/?status=503:10",
		Requests:         200,
		QPS:              400, // ~0.5s, many 20ms ticks
		Connections:      2,
		ProgressInterval: 20 * time.Millisecond,
		OnProgress:       func(p loadgen.Progress) { calls = append(calls, p) },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(calls) < 2 {
		t.Fatalf("OnProgress called %d times, want ticks plus a final call", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Requests < calls[i-1].Requests {
			t.Errorf("call %d: Requests went from %d to %d", i, calls[i-1].Requests, calls[i].Requests)
		}
		if calls[i].Elapsed < calls[i-1].Elapsed {
			t.Errorf("call %d: Elapsed went from %v to %v", i, calls[i-1].Elapsed, calls[i].Elapsed)
		}
	}
	last := calls[len(calls)-1]
	if got, want := last.Requests, res.Requests; got != want {
		t.Errorf("final Requests: got %d, want Result.Requests %d", got, want)
	}
	if got, want := last.Errors, res.Errors; got != want {
		t.Errorf("final Errors: got %d, want Result.Errors %d", got, want)
	}
	if !mapsEqual(last.Codes, res.Codes) {
		t.Errorf("final Codes: got %v, want %v", last.Codes, res.Codes)
	}
	if got, want := last.PlannedRequests, int64(200); got != want {
		t.Errorf("PlannedRequests: got %d, want %d", got, want)
	}
	if last.Planned != 0 {
		t.Errorf("Planned: got %v, want 0 for a count-bound run", last.Planned)
	}
	if last.P50 <= 0 || last.P99 < last.P50 {
		t.Errorf("final window percentiles: P50 %v, P99 %v; want 0 < P50 <= P99", last.P50, last.P99)
	}
}

func mapsEqual(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// settledGoroutines waits for the goroutine count to drop to at most want
// and returns the last count seen.
func settledGoroutines(want int, within time.Duration) int {
	var n int
	wait.Until(within, func() bool {
		n = runtime.NumGoroutine()
		return n <= want
	})
	return n
}

func TestRunLeavesNoGoroutines(t *testing.T) {
	f := loadgen.NewFortio()
	run := func(ctx context.Context, spec loadgen.Spec) {
		srv := httptest.NewServer(http.HandlerFunc(fhttp.EchoHandler))
		spec.URL = srv.URL
		if _, err := f.Run(ctx, spec); err != nil {
			t.Fatalf("Run: %v", err)
		}
		srv.Close()
	}
	// A first run absorbs any one-time goroutines of the libraries, if any.
	start := runtime.NumGoroutine()
	run(t.Context(), loadgen.Spec{Requests: 5})
	base := settledGoroutines(start, time.Second)

	progress := func(loadgen.Progress) {}
	run(t.Context(), loadgen.Spec{Requests: 20, QPS: 200, OnProgress: progress, ProgressInterval: 10 * time.Millisecond})
	run(t.Context(), loadgen.Spec{Duration: 100 * time.Millisecond, QPS: 100, StdClient: true, OnProgress: progress})
	ctx, cancel := context.WithCancel(t.Context())
	run(ctx, loadgen.Spec{Duration: 10 * time.Second, QPS: 50, OnProgress: func(p loadgen.Progress) {
		if p.Requests > 2 {
			cancel()
		}
	}, ProgressInterval: 10 * time.Millisecond})
	cancel()

	if got := settledGoroutines(base, 2*time.Second); got > base {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d after runs, %d before\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestRunRejectsInvalidSpec(t *testing.T) {
	srv, served := countingEcho(t)
	cases := []struct {
		name  string
		spec  loadgen.Spec
		field string
	}{
		{name: "url is required", spec: loadgen.Spec{}, field: "url"},
		{name: "only http and https", spec: loadgen.Spec{URL: "ftp://127.0.0.1/"}, field: "url"},
		{name: "scheme is not guessed", spec: loadgen.Spec{URL: "127.0.0.1:8080/x"}, field: "url"},
		{name: "host is required", spec: loadgen.Spec{URL: "http:///path"}, field: "url"},
		{name: "method must be a token", spec: loadgen.Spec{URL: srv.URL, Method: "GET /x"}, field: "method"},
		{name: "header names must be tokens", spec: loadgen.Spec{URL: srv.URL, Header: http.Header{"Bad Name": {"v"}}}, field: "header"},
		{name: "header values cannot smuggle lines", spec: loadgen.Spec{URL: srv.URL, Header: http.Header{"X-A": {"v\r\nX-B: w"}}}, field: "header"},
		{name: "negative qps", spec: loadgen.Spec{URL: srv.URL, QPS: -1}, field: "qps"},
		{name: "NaN qps", spec: loadgen.Spec{URL: srv.URL, QPS: math.NaN()}, field: "qps"},
		{name: "negative connections", spec: loadgen.Spec{URL: srv.URL, Connections: -1}, field: "connections"},
		{name: "negative requests", spec: loadgen.Spec{URL: srv.URL, Requests: -1}, field: "requests"},
		{name: "negative duration (fortio would run until stopped)", spec: loadgen.Spec{URL: srv.URL, Duration: -time.Second}, field: "duration"},
		{name: "negative timeout", spec: loadgen.Spec{URL: srv.URL, Timeout: -time.Second}, field: "timeout"},
		{name: "negative progress interval", spec: loadgen.Spec{URL: srv.URL, ProgressInterval: -time.Second}, field: "progressInterval"},
		{name: "negative resolution", spec: loadgen.Spec{URL: srv.URL, Resolution: -time.Millisecond}, field: "resolution"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := loadgen.NewFortio().Run(t.Context(), tc.spec)
			if err == nil {
				t.Fatalf("Run: got %+v, want an error", res)
			}
			var se *loadgen.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SpecError", err, err)
			}
			if se.Field != tc.field {
				t.Errorf("Field: got %q, want %q (%v)", se.Field, tc.field, err)
			}
			if prefix := "loadgen: spec." + tc.field + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("message %q does not start with %q", err, prefix)
			}
		})
	}
	if got := served.Load(); got != 0 {
		t.Errorf("server saw %d requests, want 0", got)
	}
}

// OnWarmedUp marks where the counted calls begin: the target has answered
// every warm-up call (one per connection, duration-bound runs only) and no
// counted call yet, so a caller that snapshots the target's counters there
// leaves the warm-up out exactly.
func TestOnWarmedUpSeparatesTheWarmUpFromTheCountedCalls(t *testing.T) {
	cases := []struct {
		name       string
		spec       loadgen.Spec
		wantWarmup int64
	}{
		{name: "a duration-bound run warms each connection up once", spec: loadgen.Spec{Connections: 3, Duration: 200 * time.Millisecond, QPS: 100}, wantWarmup: 3},
		{name: "a max-speed duration-bound run too", spec: loadgen.Spec{Connections: 2, Duration: 100 * time.Millisecond}, wantWarmup: 2},
		{name: "a count-bound run has no warm-up", spec: loadgen.Spec{Connections: 3, Requests: 30}, wantWarmup: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, served := countingEcho(t)
			spec := tc.spec
			spec.URL = srv.URL + "/echo"
			var calls int
			var atWarmedUp int64
			spec.OnWarmedUp = func() {
				calls++
				atWarmedUp = served.Load()
			}
			res, err := loadgen.NewFortio().Run(t.Context(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if calls != 1 {
				t.Fatalf("OnWarmedUp called %d times, want once", calls)
			}
			if got, want := res.Warmup, tc.wantWarmup; got != want {
				t.Errorf("Warmup: got %d, want %d", got, want)
			}
			if got, want := atWarmedUp, tc.wantWarmup; got != want {
				t.Errorf("the target had served %d calls at OnWarmedUp, want the %d warm-up calls", got, want)
			}
			if got, want := served.Load(), res.Warmup+res.Requests; got != want {
				t.Errorf("the target served %d calls, want Warmup + Requests = %d", got, want)
			}
		})
	}
}
