package loadgen_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fortio.org/fortio/rapi"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/loadgen"
)

// fortioCLI returns the path of the fortio CLI (`go install
// fortio.org/fortio@v1.68.2`, as .ci/run does): on PATH or in GOPATH's bin.
// Without it the test is skipped, or fails under CI.
func fortioCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("fortio"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "fortio")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the fortio CLI is on neither PATH nor GOPATH/bin: go install fortio.org/fortio@v1.68.2")
	}
	t.Skip("the fortio CLI is not installed (go install fortio.org/fortio@v1.68.2); CI runs this test")
	return ""
}

// fortio prints its listening address before it adds the REST API to the
// server: the address is only usable once it says every server started.
var (
	fortioListening = regexp.MustCompile(`http-echo server listening on tcp (127\.0\.0\.1:\d+)`)
	fortioStarted   = regexp.MustCompile(`servers started!`)
)

// fortioServer starts `fortio server` on a loopback port with a data
// directory of its own and returns its URL; it is killed when the test
// ends.
func fortioServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(fortioCLI(t), "server", "-http-port", "127.0.0.1:0", "-grpc-port", "disabled",
		"-redirect-port", "disabled", "-tcp-port", "disabled", "-udp-port", "disabled", "-data-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() { // reads the log to its end, so fortio never blocks on it
		sc := bufio.NewScanner(stderr)
		listening := ""
		for sc.Scan() {
			if m := fortioListening.FindStringSubmatch(sc.Text()); m != nil {
				listening = m[1]
			}
			if listening != "" && fortioStarted.MatchString(sc.Text()) {
				select {
				case addr <- listening:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("fortio server printed no listening address within 30s")
		return ""
	}
}

// rapiLock serialises the requests to the in-process agents. rapi keeps
// its state in process-wide variables (the run table, the data directory,
// a flag it sets on every run request), which agents in separate
// processes do not share but these do.
var rapiLock sync.Mutex

// rapiAgents starts n in-process fortio REST APIs (fortio.org/fortio/rapi,
// what `faultline agent` serves) on loopback ports and returns their URLs,
// with and without the /fortio/ prefix. They share one data directory:
// rapi keeps it in a process-wide variable.
func rapiAgents(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	urls := make([]string, n)
	for i := range urls {
		mux := http.NewServeMux()
		rapi.AddHandlers(mux, "", "/fortio/", dir)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rapiLock.Lock()
			defer rapiLock.Unlock()
			mux.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
		if i%2 == 1 {
			urls[i] += "/fortio/"
		}
	}
	return urls
}

// checkMerged checks that res is the exact merge of its agents' shares.
func checkMerged(t *testing.T, res *loadgen.Result, agents int) {
	t.Helper()
	if len(res.Agents) != agents {
		t.Fatalf("%d agents in the breakdown, want %d", len(res.Agents), agents)
	}
	var requests, errs, warmup int64
	codes := map[int]int64{}
	for _, a := range res.Agents {
		if a.Requests == 0 || sum(a.Codes) != a.Requests {
			t.Errorf("agent %s: %d requests, codes %v", a.URL, a.Requests, a.Codes)
		}
		requests += a.Requests
		errs += a.Errors
		warmup += a.Warmup
		for c, n := range a.Codes {
			codes[c] += n
		}
	}
	if res.Requests != requests || res.Errors != errs || res.Warmup != warmup {
		t.Errorf("merged requests %d, errors %d, warm-up %d; the agents' sums are %d, %d, %d", res.Requests, res.Errors, res.Warmup, requests, errs, warmup)
	}
	if !mapsEqual(res.Codes, codes) {
		t.Errorf("merged codes %v, the agents' sum %v", res.Codes, codes)
	}
	var inHistogram int64
	for _, b := range res.Histogram {
		inHistogram += b.Count
	}
	if inHistogram != res.Requests {
		t.Errorf("the merged histogram holds %d calls, want the %d requests", inHistogram, res.Requests)
	}
	l := res.Latency
	if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("merged latency not ordered: %+v", l)
	}
	for _, a := range res.Agents {
		if a.Latency.Min < l.Min || a.Latency.Max > l.Max {
			t.Errorf("agent %s latency [%v, %v] outside the merged [%v, %v]", a.URL, a.Latency.Min, a.Latency.Max, l.Min, l.Max)
		}
	}
}

func TestAgentsMergeExactly(t *testing.T) {
	urls := append([]string{fortioServer(t)}, rapiAgents(t, 2)...)
	cases := []struct {
		name        string
		spec        loadgen.Spec
		connections []int
		requests    []int64 // each agent's; nil for a duration-bound run
	}{
		{
			name:        "count-bound at max speed, faults from the target",
			spec:        loadgen.Spec{Requests: 301, Connections: 5, StdClient: true},
			connections: []int{2, 2, 1},
			requests:    []int64{101, 100, 100},
		},
		{
			name:        "duration-bound and paced, a warm-up call per connection",
			spec:        loadgen.Spec{QPS: 90, Duration: time.Second, Connections: 4},
			connections: []int{2, 1, 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, served := countingEcho(t)
			spec := tc.spec
			spec.URL = srv.URL + "/?status=503:30"
			spec.Resolution = 100 * time.Microsecond
			res, err := loadgen.NewAgents(urls).Run(t.Context(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkMerged(t, res, len(urls))
			for i, a := range res.Agents {
				if a.URL != urls[i] || a.Connections != tc.connections[i] {
					t.Errorf("agent %d: %s with %d connections, want %s with %d", i, a.URL, a.Connections, urls[i], tc.connections[i])
				}
				if tc.requests != nil && a.Requests != tc.requests[i] {
					t.Errorf("agent %s sent %d requests, want %d", a.URL, a.Requests, tc.requests[i])
				}
			}
			if tc.requests != nil && res.Requests != spec.Requests {
				t.Errorf("merged requests %d, want %d", res.Requests, spec.Requests)
			}
			if got, want := served.Load(), res.Requests+res.Warmup; got != want {
				t.Errorf("the target received %d requests; the agents counted %d plus %d warm-up calls", got, res.Requests, res.Warmup)
			}
			if res.Codes[503] == 0 || res.Codes[200] == 0 || res.Errors != res.Codes[503] {
				t.Errorf("codes %v, errors %d: want both 200 and 503, the 503s as errors", res.Codes, res.Errors)
			}
			t.Logf("%d requests (+%d warm-up) from %d agents, codes %v, p50 %v p99 %v", res.Requests, res.Warmup, len(res.Agents), res.Codes, res.Latency.P50, res.Latency.P99)
			for _, a := range res.Agents {
				t.Logf("  %s: %d requests, %d connections, codes %v", a.URL, a.Requests, a.Connections, a.Codes)
			}
		})
	}
}

func TestAgentsDownOrWrongFailBeforeAnyLoad(t *testing.T) {
	srv, served := countingEcho(t)
	live := rapiAgents(t, 1)[0]
	notFortio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	t.Cleanup(notFortio.Close)
	down := "http://" + deadAddr(t)
	_, err := loadgen.NewAgents([]string{live, down, notFortio.URL}).Run(t.Context(), loadgen.Spec{URL: srv.URL, Requests: 30})
	if err == nil {
		t.Fatal("Run with an agent down: no error")
	}
	named := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ae *loadgen.AgentError
		if errors.As(e, &ae) {
			named[ae.URL] = true
		}
	}
	if !named[down] || !named[notFortio.URL] || named[live] {
		t.Errorf("error %q names %v; want the agent down and the one that is not fortio, not the live one", err, named)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the target received %d requests; want none (every agent is probed first)", n)
	}
}

func TestAgentsCancelStopsEveryAgent(t *testing.T) {
	urls := append([]string{fortioServer(t)}, rapiAgents(t, 1)...)
	srv, served := countingEcho(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { // cancel once the load is flowing
		wait.Until(time.Minute, func() bool { return served.Load() >= 50 })
		cancel()
	}()
	start := time.Now()
	var progress []loadgen.Progress
	res, err := loadgen.NewAgents(urls).Run(ctx, loadgen.Spec{
		URL: srv.URL, QPS: 200, Connections: 2, Duration: 60 * time.Second,
		OnProgress: func(p loadgen.Progress) { progress = append(progress, p) },
	})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v, want the partial result", err)
	}
	if took > 15*time.Second {
		t.Errorf("Run took %v after a cancel in a 60s run", took)
	}
	checkMerged(t, res, len(urls))
	atReturn := served.Load()
	// That no agent goes on sending can only be seen over a window.
	time.Sleep(500 * time.Millisecond)
	if after := served.Load(); after != atReturn {
		t.Errorf("the target received %d requests in the 500ms after Run returned: an agent was not stopped", after-atReturn)
	}
	if want := res.Requests + res.Warmup; atReturn != want {
		t.Errorf("the target received %d requests; the agents counted %d plus %d warm-up calls", atReturn, res.Requests, res.Warmup)
	}
	if len(progress) == 0 || progress[len(progress)-1].Requests != res.Requests || progress[0].Planned != 60*time.Second {
		t.Errorf("progress %+v: want the planned time, and the final counts last", progress)
	}
	t.Logf("stopped after %v: %d requests (+%d warm-up), %d progress calls", took, res.Requests, res.Warmup, len(progress))
}

func TestAgentsRejectInvalidURLs(t *testing.T) {
	srv, served := countingEcho(t)
	for _, tc := range []struct {
		name string
		urls []string
		spec loadgen.Spec
	}{
		{"none", nil, loadgen.Spec{Requests: 5}},
		{"no port", []string{"http://127.0.0.1"}, loadgen.Spec{Requests: 5}},
		{"https", []string{"https://127.0.0.1:8080"}, loadgen.Spec{Requests: 5}},
		{"another path", []string{"http://127.0.0.1:8080/api/"}, loadgen.Spec{Requests: 5}},
		{"the same agent twice", []string{"http://127.0.0.1:8080", "http://127.0.0.1:8080/fortio/"}, loadgen.Spec{Requests: 5}},
		{"fewer requests than agents", []string{"http://127.0.0.1:8080", "http://127.0.0.1:8081"}, loadgen.Spec{Requests: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.URL = srv.URL
			_, err := loadgen.NewAgents(tc.urls).Run(t.Context(), spec)
			var se *loadgen.SpecError
			if !errors.As(err, &se) {
				t.Errorf("Run: %v, want a *SpecError", err)
			}
		})
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the target received %d requests", n)
	}
}
