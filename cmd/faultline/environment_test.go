package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/server/demo"
)

// bookinfoEnvironment is the bookinfo environment of
// examples/bookinfo/environment.yaml on loopback: the egress at a fixed
// address, each service bound to the process that serves it, and the
// baseline of Istio's request-routing task (reviews v1 for everyone, v2
// for end-user jason).
const bookinfoEnvironment = `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: bookinfo}
spec:
  egress: %s
  services:
  - host: productpage
    port: 9080
    endpoints: [{address: %s, labels: {version: v1}}]
  - host: details
    port: 9080
    endpoints: [{address: %s, labels: {version: v1}}]
  - host: reviews
    port: 9080
    endpoints:
    - {address: %s, labels: {version: v1}}
    - {address: %s, labels: {version: v2}}
    - {address: %s, labels: {version: v3}}
  - host: ratings
    port: 9080
    endpoints: [{address: %s, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`

var (
	servingLine = regexp.MustCompile(`msg="faultline serving" addr=(\S+)`)
	demoLine    = regexp.MustCompile(`^demo \S+ \S+ on http://(\S+)$`)
)

// startServe starts `faultline serve` on addr with the database db and
// returns the API's address once it serves: every stored environment
// listens by then.
func startServe(t *testing.T, addr, db string) (*proc, string) {
	t.Helper()
	p := startProc(t, "serve", childEnv(), "serve", "--addr", addr, "--db", db, "--no-examples")
	return p, p.waitLine(t, servingLine, 30*time.Second)[1]
}

// environmentPages counts the product pages the test asked for through
// the egress (its own and the runs' load), to check the service graph: one
// productpage→details call per page, one or two productpage→reviews calls
// (two when reviews failed), and a reviews→ratings call per call to
// reviews v2 (jason's).
type environmentPages struct {
	pages, failed, jasonReviewsCalls int64
}

// add counts n pages as user, whose reviews failed or not.
func (c *environmentPages) add(n int64, user string, reviewsFailed bool) {
	calls := n
	if reviewsFailed {
		c.failed += n
		calls = 2 * n
	}
	c.pages += n
	if user == "jason" {
		c.jasonReviewsCalls += calls
	}
}

// graphProblem says how the request counts of the environment's graph
// (by "source→destination") differ from the pages sent, or "" when they
// agree. The calls to reviews are checked in total, and productpage as
// the source of at least the first try of each page: the second try,
// which productpage sends the moment it gives up on the first, carries
// the first's x-request-id and can reach the egress before the egress has
// finished the abandoned first try; the graph then takes that try's
// destination, reviews, for the source (an edge reviews→reviews).
func (c *environmentPages) graphProblem(got map[string]int64) string {
	var problems []string
	exact := func(what string, n, want int64) {
		if n != want {
			problems = append(problems, fmt.Sprintf("%s: %d requests, want %d", what, n, want))
		}
	}
	var reviewsCalls int64
	for edge, n := range got {
		if strings.HasSuffix(edge, "→reviews") {
			reviewsCalls += n
		}
	}
	exact("unknown→productpage", got["unknown→productpage"], c.pages)
	exact("productpage→details", got["productpage→details"], c.pages)
	exact("calls to reviews", reviewsCalls, c.pages+c.failed)
	if n := got["productpage→reviews"]; n < c.pages {
		problems = append(problems, fmt.Sprintf("productpage→reviews: %d requests, want at least one per page, %d", n, c.pages))
	}
	exact("reviews→ratings", got["reviews→ratings"], c.jasonReviewsCalls)
	return strings.Join(problems, "; ")
}

// TestEnvironmentBookinfoInSeparateProcesses runs the Bookinfo walkthrough
// on an environment of `faultline serve`, every service its own `faultline
// demo bookinfo --service` process calling the others by name through the
// environment's egress (HTTP_PROXY), and the test a client of the mesh
// through the same egress. The experiments are examples/bookinfo's own
// files. Each run's faults reach the pages while it runs and are gone the
// moment its end is recorded; a serve killed during a run comes back with
// the run interrupted and the baseline in force.
func TestEnvironmentBookinfoInSeparateProcesses(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	db := filepath.Join(dir, "faultline.db")
	egress := "127.0.0.1:" + freePort(t)
	serve, apiAddr := startServe(t, "127.0.0.1:0", db)
	c := apiClient{t: t, base: "http://" + apiAddr}

	// Bookinfo, one process per service, each on a port of its own.
	services := []struct{ name, service, version string }{
		{"productpage", "productpage", "v1"},
		{"details", "details", "v1"},
		{"reviews-v1", "reviews", "v1"},
		{"reviews-v2", "reviews", "v2"},
		{"reviews-v3", "reviews", "v3"},
		{"ratings", "ratings", "v1"},
	}
	procs := make([]*proc, len(services))
	for i, s := range services {
		procs[i] = startProc(t, s.name, childEnv("HTTP_PROXY=http://"+egress),
			"demo", "bookinfo", "--service", s.service, "--version", s.version, "--listen", "127.0.0.1:0")
	}
	addrs := make([]any, len(services))
	for i, p := range procs {
		addrs[i] = p.waitLine(t, demoLine, 15*time.Second)[1]
	}
	var env struct {
		ID    int64
		Plane struct{ Listening bool }
	}
	c.json("POST", "/api/v1/environments", "application/yaml", fmt.Appendf(nil, bookinfoEnvironment, append([]any{egress}, addrs...)...), http.StatusCreated, &env)
	if !env.Plane.Listening {
		t.Fatalf("the environment does not listen: %+v", env)
	}
	t.Logf("serve and 6 services up, environment listening: %v", time.Since(start).Round(time.Millisecond))
	hc := viaEgress(t, egress)
	const fast = time.Second // a page that waits for no fault
	var sent environmentPages

	// The baseline: jason's reviews are v2's black stars, everyone
	// else's v1's, without stars.
	for range 2 {
		wantPage(t, hc, "baseline", "jason", "reviews-v2", "black", fast)
		wantPage(t, hc, "baseline", "", "reviews-v1", "", fast)
	}
	sent.add(2, "jason", false)
	sent.add(2, "", false)
	// Every call went through the egress, and the graph knows who called
	// whom: the services propagate x-request-id.
	c.waitGraph(env.ID, sent.graphProblem, 5*time.Second)

	// The seed's per-user fault: jason's ratings calls delayed 7 s. His
	// page comes after productpage's two 3 s tries of reviews, without
	// reviews; everyone else's is untouched.
	delayExp := c.createExperiment(bookinfoExample(t, "ratings-delay-jason.yaml"))
	ok := t.Run("ratings delayed for jason", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		phase := time.Now()
		run := c.startRun(delayExp)
		jasonDelayed(c, hc, run)
		type result struct {
			page bookPage
			took time.Duration
			err  error
		}
		jason := make(chan result, 1)
		go func() {
			p, took, err := fetchPage(hc, "jason", 15*time.Second)
			jason <- result{p, took, err}
		}()
		wantPage(t, hc, "during the delay", "", "reviews-v1", "", fast)
		j := <-jason
		switch {
		case j.err != nil:
			t.Errorf("jason's page during the delay: %v", j.err)
		case j.page.ReviewsError != demo.ReviewsUnavailable || len(j.page.Reviews) != 0 || j.page.DetailsError != "":
			t.Errorf("jason's page during the delay: %+v, want %q and no reviews", j.page, demo.ReviewsUnavailable)
		case j.took < 2*demo.DefaultReviewsTimeout || j.took >= 7*time.Second:
			t.Errorf("jason's page during the delay took %v, want productpage's two 3s tries (6s to 7s)", j.took)
		}
		sent.add(1, "jason", true)
		sent.add(1, "", false)

		r := c.waitRun(run, 30*time.Second)
		// The run's end is recorded after the baseline is back.
		wantPage(t, hc, "right after the delay run", "jason", "reviews-v2", "black", fast)
		sent.add(1, "jason", false)
		sent.add(2, "jason", true) // the run's load
		if r.Status != "succeeded" || r.Verdict != "pass" || r.Report == nil {
			t.Fatalf("run: %s %s (%s), report %+v", r.Status, r.Verdict, r.Reason, r.Report)
		}
		rep := r.Report
		if rep.Environment != "bookinfo" || rep.Codes["200"] != 2 || len(rep.Codes) != 1 {
			t.Errorf("report: environment %q, codes %v; want bookinfo, 2 × 200", rep.Environment, rep.Codes)
		}
		if rep.LatencyMs.Min < 6000 || rep.LatencyMs.Max >= 7000 {
			t.Errorf("report latency %+v ms: want productpage's two 3s tries, 6s to 7s", rep.LatencyMs)
		}
		// Two per page of the load, two of the test's own page, and the
		// probe that saw the delay in force.
		if rep.Proxy.FaultsDelayed < 4 {
			t.Errorf("report: %d faults delayed, want at least the load's 4", rep.Proxy.FaultsDelayed)
		}
		t.Logf("delay run and its checks: %v", time.Since(phase).Round(time.Millisecond))
	})

	// A 1 s timeout on jason's reviews route while his ratings calls are
	// delayed 2 s: the page in about 2 s, without reviews.
	ok = t.Run("reviews timeout for jason", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		phase := time.Now()
		run := c.startRun(c.createExperiment(bookinfoExample(t, "reviews-timeout.yaml")))
		jasonDelayed(c, hc, run)
		p, took, err := fetchPage(hc, "jason", 15*time.Second)
		switch {
		case err != nil:
			t.Errorf("jason's page under the timeout: %v", err)
		case p.ReviewsError != demo.ReviewsUnavailable || p.ReviewsStatus != http.StatusGatewayTimeout:
			t.Errorf("jason's page under the timeout: %+v, want %q after reviews' 504", p, demo.ReviewsUnavailable)
		case took < 2*time.Second || took >= 3*time.Second:
			t.Errorf("jason's page under the timeout took %v, want two 1s timeouts (2s to 3s)", took)
		}
		wantPage(t, hc, "under jason's timeout", "", "reviews-v1", "", fast)
		sent.add(1, "jason", true)
		sent.add(1, "", false)

		r := c.waitRun(run, 30*time.Second)
		wantPage(t, hc, "right after the timeout run", "jason", "reviews-v2", "black", fast)
		sent.add(1, "jason", false)
		sent.add(4, "jason", true)
		if r.Status != "succeeded" || r.Verdict != "pass" || r.Report == nil {
			t.Fatalf("run: %s %s (%s), report %+v", r.Status, r.Verdict, r.Reason, r.Report)
		}
		rep := r.Report
		if rep.Environment != "bookinfo" || rep.Codes["200"] != 4 || len(rep.Codes) != 1 ||
			rep.LatencyMs.Min < 2000 || rep.LatencyMs.Max >= 3000 || rep.Proxy.Timeouts < 8 || rep.Proxy.FaultsDelayed < 8 {
			t.Errorf("report: environment %q, codes %v, latency %+v ms, %d timeouts, %d faults delayed; want 4 × 200 in 2s to 3s, at least 8 of each",
				rep.Environment, rep.Codes, rep.LatencyMs, rep.Proxy.Timeouts, rep.Proxy.FaultsDelayed)
		}
		t.Logf("timeout run and its checks: %v", time.Since(phase).Round(time.Millisecond))
	}) && ok

	// jason's ratings calls aborted with 500: his page at once, with the
	// ratings error in place of the stars. The run is over in a moment, so
	// the page is checked under an overlay of the same resources first.
	ok = t.Run("ratings aborted for jason", func(t *testing.T) {
		c := apiClient{t: t, base: c.base}
		phase := time.Now()
		src := bookinfoExample(t, "ratings-abort-jason.yaml")
		ov := c.addOverlay(env.ID, istioResources(t, src), 30*time.Second)
		p, took, err := fetchPage(hc, "jason", 15*time.Second)
		if err != nil {
			t.Errorf("jason's page under the abort: %v", err)
		} else {
			wantRatingsError(t, "under the abort overlay", p, took, fast)
		}
		wantPage(t, hc, "under jason's abort", "", "reviews-v1", "", fast)
		c.json("DELETE", fmt.Sprintf("/api/v1/environments/%d/overlays/%d", env.ID, ov), "", nil, http.StatusNoContent, nil)
		wantPage(t, hc, "right after the overlay", "jason", "reviews-v2", "black", fast)
		sent.add(2, "jason", false)
		sent.add(1, "", false)

		r := c.waitRun(c.startRun(c.createExperiment(src)), 30*time.Second)
		wantPage(t, hc, "right after the abort run", "jason", "reviews-v2", "black", fast)
		sent.add(21, "jason", false)
		if r.Status != "succeeded" || r.Verdict != "pass" || r.Report == nil {
			t.Fatalf("run: %s %s (%s), report %+v", r.Status, r.Verdict, r.Reason, r.Report)
		}
		rep := r.Report
		if rep.Environment != "bookinfo" || rep.Codes["200"] != 20 || len(rep.Codes) != 1 || rep.Proxy.FaultsAborted != 20 {
			t.Errorf("report: environment %q, codes %v, %d faults aborted; want 20 × 200, 20 aborted", rep.Environment, rep.Codes, rep.Proxy.FaultsAborted)
		}
		t.Logf("abort overlay, run and checks: %v", time.Since(phase).Round(time.Millisecond))
	}) && ok

	// Every page the test and the runs asked for is on the graph: one
	// productpage call from outside, one details call, reviews once or
	// twice, and ratings for each call to reviews v2. (The count is off
	// when a phase stopped half-way.)
	if ok {
		got := c.waitGraph(env.ID, sent.graphProblem, 10*time.Second)
		t.Logf("graph: %v", got)
	}

	// serve killed while a delay run holds jason's page: the egress goes
	// with it. The next serve marks the run interrupted and listens at the
	// baseline before it serves: no fault outlives its process.
	phase := time.Now()
	run := c.startRun(delayExp)
	jasonDelayed(c, hc, run)
	if _, _, err := fetchPage(hc, "jason", time.Second); err == nil {
		t.Fatal("jason's page came back within 1s while his ratings are delayed 7s")
	}
	serve.kill(t)
	if _, _, err := fetchPage(hc, "", 5*time.Second); err == nil {
		t.Fatal("a page came through the egress of a killed serve")
	}
	startServe(t, apiAddr, db) // the same address and database
	if r := c.run(run); r.Status != "interrupted" {
		t.Errorf("the run of the killed serve: %s (%s), want interrupted", r.Status, r.Reason)
	}
	wantPage(t, hc, "right after the restart", "jason", "reviews-v2", "black", fast)
	wantPage(t, hc, "right after the restart", "", "reviews-v1", "", fast)
	var after struct {
		Plane struct {
			Listening bool
			Holder    any
		}
	}
	c.json("GET", fmt.Sprintf("/api/v1/environments/%d", env.ID), "", nil, http.StatusOK, &after)
	if !after.Plane.Listening || after.Plane.Holder != nil {
		t.Errorf("the environment after the restart: %+v, want listening, held by nothing", after.Plane)
	}
	t.Logf("kill -9 during a run and restart: %v", time.Since(phase).Round(time.Millisecond))
}

// ratingsAnswers asks ratings for the book through hc as user and reports
// whether it answered within timeout.
func ratingsAnswers(t *testing.T, hc *http.Client, user string, timeout time.Duration) bool {
	t.Helper()
	req, err := http.NewRequest("GET", "http://ratings:9080/ratings/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("End-User", user)
	hc2 := *hc
	hc2.Timeout = timeout
	resp, err := hc2.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// wantRatingsError fails the test unless p is jason's page from reviews v2
// with the ratings error in place of each review's stars, served within
// fast.
func wantRatingsError(t *testing.T, when string, p bookPage, took, fast time.Duration) {
	t.Helper()
	if p.ReviewsPod != "reviews-v2" || p.ReviewsError != "" || len(p.Reviews) != 2 {
		t.Errorf("%s: jason's page: %+v, want reviews-v2's two reviews", when, p)
		return
	}
	for _, r := range p.Reviews {
		if r.Rating == nil || r.Rating.Error != demo.RatingsUnavailable || r.Rating.Stars != 0 {
			t.Errorf("%s: %s rated %+v, want the error %q", when, r.Reviewer, r.Rating, demo.RatingsUnavailable)
		}
	}
	if took > fast {
		t.Errorf("%s: jason's page took %v, want under %v", when, took.Round(time.Millisecond), fast)
	}
}

// bookinfoExample reads a file of examples/bookinfo.
func bookinfoExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "bookinfo", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jasonDelayed waits until run's resources are laid over the baseline:
// jason's ratings calls are held, and the probe gives up after 300ms.
func jasonDelayed(c apiClient, hc *http.Client, run int64) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if !ratingsAnswers(c.t, hc, "jason", 300*time.Millisecond) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("jason's ratings calls are not delayed 20s after run %d was started: %+v", run, c.run(run))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
