package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/demo"
)

// Helpers of the end-to-end tests of environments: faultline processes
// the test starts and owns, the API, and Bookinfo's page fetched through an
// environment's egress as a client of the mesh would.

// keptLines bounds the output a process keeps for the test's log.
const keptLines = 400

// proc is a faultline process started by the test: its stdout and stderr
// are read line by line (the last keptLines kept), and it is killed and
// waited for when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned

	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced on every new line
}

// startProc starts the faultline binary with args and env (the whole
// environment of the process).
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(binary, args...), done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.WaitDelay = 5 * time.Second // a child that left the pipes open cannot hang Wait
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("%s (%v) output, last lines:\n%s", p.name, p.cmd.ProcessState, strings.Join(p.output(), "\n"))
		}
	})
	return p
}

// Write splits the process's output into lines.
func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(p.partial[:i]))
		p.partial = p.partial[i+1:]
		added = true
	}
	if n := len(p.lines); n > keptLines {
		p.lines = append(p.lines[:0], p.lines[n-keptLines:]...)
	}
	if added {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return len(b), nil
}

func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits until a line of the output matches re and returns its
// submatches; it fails the test if the process exits first or nothing
// matches within the time given.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing a line matching %s:\n%s", p.name, p.cmd.ProcessState, re, strings.Join(p.output(), "\n"))
		case <-timer.C:
			t.Fatalf("%s printed no line matching %s within %v:\n%s", p.name, re, within, strings.Join(p.output(), "\n"))
		}
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s still running 10s after SIGKILL", p.name)
	}
}

// childEnv is the test's environment for a child process without the
// settings that would change what the test sees: Faultline's own
// (FAULTLINE_TOKEN would make the API ask for a token), and every proxy
// variable. The extra settings follow.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD":
			continue
		}
		if strings.HasPrefix(k, "FAULTLINE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// apiClient calls a Faultline API, with the bearer token when set.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

// json sends body and decodes the answer into out (when not nil); a status
// other than want fails the test.
func (c apiClient) json(method, path, contentType string, body []byte, want int, out any) {
	c.t.Helper()
	code, b := call(c.t, method, c.base+path, c.token, contentType, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

// waitHealthy polls /healthz until it answers 200.
func (c apiClient) waitHealthy(within time.Duration) {
	c.t.Helper()
	var err error
	if !wait.Until(within, func() bool {
		var resp *http.Response
		if resp, err = http.Get(c.base + "/healthz"); err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		c.t.Fatalf("%s/healthz did not answer 200 within %v: %v", c.base, within, err)
	}
}

// createExperiment stores the experiment document src and returns its id.
func (c apiClient) createExperiment(src []byte) int64 {
	c.t.Helper()
	var e struct{ ID int64 }
	c.json("POST", "/api/v1/experiments", "application/yaml", src, http.StatusCreated, &e)
	return e.ID
}

// startRun starts a run of experiment id and returns the run's id.
func (c apiClient) startRun(expID int64) int64 {
	c.t.Helper()
	var r struct{ ID int64 }
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", expID), "", nil, http.StatusAccepted, &r)
	return r.ID
}

// runResult is a run as GET /api/v1/runs/{id} shows it.
type runResult struct {
	ID      int64
	Status  string
	Verdict string
	Reason  string
	Report  *runReport
}

// runReport is the part of a run's report these tests read.
type runReport struct {
	Environment string
	Requests    int64
	Codes       map[string]int64
	LatencyMs   struct{ Min, Max float64 }
	Proxy       struct {
		FaultsDelayed int64 `json:"faultsDelayed"`
		FaultsAborted int64 `json:"faultsAborted"`
		Timeouts      int64 `json:"timeouts"`
	}
	Hypothesis []struct {
		Check    string
		Observed float64
		Pass     bool
	}
}

func (c apiClient) run(id int64) runResult {
	c.t.Helper()
	var r runResult
	c.json("GET", fmt.Sprintf("/api/v1/runs/%d", id), "", nil, http.StatusOK, &r)
	return r
}

// waitRun polls run id until it has ended.
func (c apiClient) waitRun(id int64, within time.Duration) runResult {
	c.t.Helper()
	var r runResult
	if !wait.Until(within, func() bool {
		r = c.run(id)
		switch r.Status {
		case "succeeded", "failed", "stopped", "error", "interrupted":
			return true
		}
		return false
	}) {
		c.t.Fatalf("run %d still %s after %v", id, r.Status, within)
	}
	return r
}

// graphEdges returns the request counts of environment id's service
// graph, by "source→destination".
func (c apiClient) graphEdges(id int64) map[string]int64 {
	c.t.Helper()
	var g struct {
		Edges []struct {
			Source, Destination string
			Requests            int64
		}
	}
	c.json("GET", fmt.Sprintf("/api/v1/environments/%d/graph", id), "", nil, http.StatusOK, &g)
	out := map[string]int64{}
	for _, e := range g.Edges {
		out[e.Source+"→"+e.Destination] = e.Requests
	}
	return out
}

// waitGraph polls environment id's graph until problem finds nothing
// wrong with its request counts (by "source→destination"), and returns
// them.
func (c apiClient) waitGraph(id int64, problem func(map[string]int64) string, within time.Duration) map[string]int64 {
	c.t.Helper()
	var got map[string]int64
	var p string
	if !wait.Until(within, func() bool {
		got = c.graphEdges(id)
		p = problem(got)
		return p == ""
	}) {
		c.t.Fatalf("graph after %v: %s (edges %v)", within, p, got)
	}
	return got
}

// addOverlay lays the Istio resources src over environment id for ttl and
// returns the overlay's id.
func (c apiClient) addOverlay(envID int64, src string, ttl time.Duration) int64 {
	c.t.Helper()
	body, err := json.Marshal(map[string]string{"ttl": ttl.String(), "source": src})
	if err != nil {
		c.t.Fatal(err)
	}
	var ov struct{ ID int64 }
	c.json("POST", fmt.Sprintf("/api/v1/environments/%d/overlays", envID), "application/json", body, http.StatusCreated, &ov)
	return ov.ID
}

// istioResources returns the documents of an experiment file after the
// Experiment itself: what an overlay lays over the environment.
func istioResources(t *testing.T, src []byte) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(src), "\n---\n")
	if !ok || !strings.Contains(rest, "kind: VirtualService") {
		t.Fatalf("no Istio resources after the Experiment:\n%s", src)
	}
	return rest
}

// viaEgress returns an HTTP client whose HTTP_PROXY is an environment's
// egress at addr, as a service of the mesh would have, without
// keep-alives: every request is one connection, so nothing lingers when
// the egress goes away.
func viaEgress(t *testing.T, addr string) *http.Client {
	t.Helper()
	u, err := url.Parse("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// bookPage is productpage's JSON view of the book (demo.Page), the part
// these tests read.
type bookPage struct {
	User          string
	ReviewsStatus int
	ReviewsPod    string
	ReviewsError  string
	DetailsError  string
	Reviews       []struct {
		Reviewer string
		Rating   *demo.Rating
	}
}

// fetchPage asks for Bookinfo's product page by name through hc (the
// egress), as user ("" for an anonymous visitor), within timeout. It
// returns the page and how long it took; an error is no page: no answer,
// or a status other than 200. It may be called off the test's goroutine.
func fetchPage(hc *http.Client, user string, timeout time.Duration) (bookPage, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var p bookPage
	req, err := http.NewRequestWithContext(ctx, "GET", "http://productpage:9080/productpage?json", nil)
	if err != nil {
		return p, 0, err
	}
	if user != "" {
		req.Header.Set("End-User", user)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return p, time.Since(start), err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	took := time.Since(start)
	if err != nil {
		return p, took, err
	}
	if resp.StatusCode != http.StatusOK {
		return p, took, fmt.Errorf("status %d: %.200s", resp.StatusCode, body.String())
	}
	if err := json.Unmarshal(body.Bytes(), &p); err != nil {
		return p, took, fmt.Errorf("%v: %.200s", err, body.String())
	}
	return p, took, nil
}

// pageProblem says what is wrong with a page that should show reviews
// from pod with stars of color ("" for reviews-v1, which shows none), or
// "" when nothing is.
func pageProblem(p bookPage, pod, color string) string {
	var problems []string
	if p.ReviewsPod != pod || p.ReviewsStatus != http.StatusOK || p.ReviewsError != "" {
		problems = append(problems, fmt.Sprintf("reviews from %q (status %d, error %q), want %s", p.ReviewsPod, p.ReviewsStatus, p.ReviewsError, pod))
	}
	if p.DetailsError != "" {
		problems = append(problems, "details error "+p.DetailsError)
	}
	if len(p.Reviews) != 2 {
		problems = append(problems, fmt.Sprintf("%d reviews, want 2", len(p.Reviews)))
	}
	for _, r := range p.Reviews {
		switch {
		case color == "" && r.Rating != nil:
			problems = append(problems, fmt.Sprintf("%s rated %+v, want no rating", r.Reviewer, *r.Rating))
		case color != "" && (r.Rating == nil || r.Rating.Stars == 0 || r.Rating.Color != color || r.Rating.Error != ""):
			problems = append(problems, fmt.Sprintf("%s rated %+v, want %s stars", r.Reviewer, r.Rating, color))
		}
	}
	return strings.Join(problems, "; ")
}

// wantPage fetches the page as user and fails the test unless it shows
// reviews from pod with stars of color, within fast.
func wantPage(t *testing.T, hc *http.Client, when, user, pod, color string, fast time.Duration) {
	t.Helper()
	p, took, err := fetchPage(hc, user, 15*time.Second)
	switch {
	case err != nil:
		t.Errorf("%s: the page of %q: %v", when, user, err)
	case pageProblem(p, pod, color) != "":
		t.Errorf("%s: the page of %q: %s", when, user, pageProblem(p, pod, color))
	case took > fast:
		t.Errorf("%s: the page of %q took %v, want under %v", when, user, took.Round(time.Millisecond), fast)
	}
}
