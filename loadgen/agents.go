package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/fortio/stats"
	"fortio.org/log"
)

// Agents is a [Runner] that sends the load from remote fortio agents
// instead of this process: `fortio server`, or `faultline agent`, which
// serves the same REST API (fortio.org/fortio/rapi). The agents send to
// Spec.URL with Spec's headers, so they must reach that address.
//
//	probe every agent ──► start its share (rest/run, async, saved) ──► poll for its saved result (data/ID.json)
//	  ctx.Done() ──► rest/stop?runid= on every agent ──► their partial results
//	results ──► one Result: counts and codes summed, histograms merged bucket by bucket
//
// Each agent gets a share of the run: Connections and Requests are split
// as evenly as whole numbers allow, every agent with at least one
// connection; a whole QPS is split the same way, a smaller or fractional
// one evenly; all agents run for the same Duration. An agent that is down
// or does not answer as fortio's REST API fails the run before any agent
// starts, naming it (all are probed first). The merge is exact:
// Result.Requests and Codes are the sums of the agents', and the latency
// percentiles are computed again from the merged histogram, whose buckets
// need one Resolution for all (Run sends it to every agent).
//
// Two things a remote run cannot do as a local one does. Spec.OnWarmedUp
// is never called: each agent warms its connections up on its own, so the
// target's own counters of a duration-bound run include the warm-up calls
// (Result.Warmup says how many). And fortio's REST status gives no counts,
// so OnProgress reports the elapsed and planned time only, at least once a
// second, and the counts once, as the run ends.
type Agents struct {
	// URLs are the agents' base URLs, http://host:port with or without
	// fortio's /fortio/ prefix; at least one, each once.
	URLs []string
	// Client makes the calls to the agents. nil means a client of the
	// run's own that reaches them directly (no proxy), 10s per call.
	Client *http.Client
}

// NewAgents returns a [Runner] that sends the load from the fortio agents
// at urls. Like [NewFortio], it lowers fortio's process-wide logger to
// errors only.
func NewAgents(urls []string) *Agents {
	log.SetLogLevelQuiet(log.Error)
	return &Agents{URLs: slices.Clone(urls)}
}

// The agents' timings.
const (
	// agentPoll is how often a running share's saved result is asked for.
	agentPoll = 100 * time.Millisecond
	// agentCheck is how often an agent is asked whether a share whose
	// result is not saved yet is still running.
	agentCheck = 5 * time.Second
	// agentLost is how long an agent may fail every call before the run
	// gives it up.
	agentLost = 5 * time.Second
	// agentStopWait is how long, beyond the per-request timeout, stopped
	// agents have to save their results.
	agentStopWait = 10 * time.Second
	// agentCallTimeout bounds one call to an agent (default client).
	agentCallTimeout = 10 * time.Second
	// maxAgentResult bounds a saved result's size.
	maxAgentResult = 64 << 20
)

// AgentError is a failure of one agent; Run returns these joined with
// errors.Join when several agents fail.
type AgentError struct {
	// URL is the agent's URL as given.
	URL string
	Err error
}

// Error returns "loadgen: agent <url>: <reason>".
func (e *AgentError) Error() string { return "loadgen: agent " + e.URL + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *AgentError) Unwrap() error { return e.Err }

// Run sends spec's load from the agents and blocks until every agent's
// share has ended and its result is merged. See [Runner] for the contract
// and [Agents] for how the load is split and merged.
//
// If ctx is done before every agent has started, the started ones are
// stopped and Run returns ctx's error. Once all have started, cancelling
// ctx stops every agent (rest/stop) and Run returns the merge of their
// partial results with a nil error. An agent lost during the run, or one
// whose result never comes, fails the run, and the others are stopped.
func (a *Agents) Run(ctx context.Context, spec Spec) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.TLS != nil {
		return nil, &SpecError{Field: "tls", Reason: "is not sent to fortio agents: their load cannot trust this run's certificates"}
	}
	if len(spec.PhaseEdges) > 0 {
		return nil, &SpecError{Field: "phaseEdges", Reason: "phases are not supported for a run sent from fortio agents: their calls' start times stay on the agents"}
	}
	agents, err := a.agents(spec)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: run not started: %w", err)
	}
	start := time.Now()
	client := a.Client
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		defer t.CloseIdleConnections()
		client = &http.Client{Transport: t, Timeout: agentCallTimeout}
	}
	for _, ag := range agents {
		ag.client = client
	}
	spec = spec.withDefaults()

	if err := eachAgent(agents, func(ag *agent) error { return ag.probe(ctx) }); err != nil {
		return nil, err
	}
	if err := eachAgent(agents, func(ag *agent) error { return ag.start(ctx, len(agents)) }); err != nil {
		stopAll(agents)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loadgen: run not started: %w", ctx.Err())
		}
		return nil, err
	}
	if err := wait(ctx, agents, spec, start); err != nil {
		stopAll(agents)
		return nil, err
	}
	out, err := merge(agents, spec)
	if err != nil {
		return nil, err
	}
	if spec.OnProgress != nil {
		spec.OnProgress(Progress{
			Elapsed:         time.Since(start),
			Planned:         plannedDuration(spec),
			Requests:        out.Requests,
			PlannedRequests: spec.Requests,
			Errors:          out.Errors,
			Codes:           maps.Clone(out.Codes),
			QPS:             out.ActualQPS,
			P50:             out.Latency.P50,
			P99:             out.Latency.P99,
		})
	}
	return out, nil
}

// agents checks the URLs and gives each agent its share of spec (valid,
// without defaults).
func (a *Agents) agents(spec Spec) ([]*agent, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, &SpecError{Field: "agents", Reason: fmt.Sprintf(format, args...)})
	}
	if len(a.URLs) == 0 {
		bad("at least one agent URL is required")
	}
	seen := map[string]int{}
	bases := make([]string, len(a.URLs))
	for i, raw := range a.URLs {
		base, err := agentBase(raw)
		if err != nil {
			bad("%q: %v", raw, err)
			continue
		}
		if j, dup := seen[base]; dup {
			bad("%q is agent %d again (%s)", raw, j+1, base)
		}
		seen[base], bases[i] = i, base
	}
	if n := int64(len(a.URLs)); spec.Requests > 0 && spec.Requests < n {
		errs = append(errs, &SpecError{Field: "requests", Reason: fmt.Sprintf("%d requests cannot be split over %d agents: each sends at least one", spec.Requests, n)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	shares := splitSpec(spec, len(bases))
	agents := make([]*agent, len(bases))
	for i := range bases {
		agents[i] = &agent{url: a.URLs[i], base: bases[i], spec: shares[i], index: i}
	}
	return agents, nil
}

// agentBase returns the REST API base of an agent URL, normalised to
// http://host:port/fortio/.
func agentBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http":
		return "", fmt.Errorf("scheme must be http, got %q", u.Scheme)
	case u.Host == "" || u.Port() == "":
		return "", errors.New("must name host:port, e.g. http://10.0.0.7:8080")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("must be http://host:port, optionally with /fortio/, and nothing else")
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" && p != "/fortio" {
		return "", fmt.Errorf("path must be empty or /fortio/, got %q", u.Path)
	}
	return "http://" + strings.ToLower(u.Host) + "/fortio/", nil
}

// splitSpec gives each of n agents its share of spec (valid, without
// defaults): connections and requests split as evenly as whole numbers
// allow, each agent at least one connection; a whole rate of at least n
// split the same way, any other evenly. Each share then gets the defaults
// and quirk fixes of a local run (withDefaults).
func splitSpec(spec Spec, n int) []Spec {
	conns := spec.Connections
	if conns == 0 {
		conns = DefaultConnections
	}
	wholeQPS := spec.QPS == math.Trunc(spec.QPS) && spec.QPS >= float64(n)
	out := make([]Spec, n)
	for i := range out {
		s := spec
		s.Connections = max(1, evenShare(conns, n, i))
		s.Requests = evenShare(spec.Requests, n, i)
		if wholeQPS {
			s.QPS = float64(evenShare(int64(spec.QPS), n, i))
		} else {
			s.QPS = spec.QPS / float64(n)
		}
		out[i] = s.withDefaults()
	}
	return out
}

// evenShare is agent i's share of total split over n as evenly as whole
// numbers allow: the first total%n agents get one more.
func evenShare[T int | int64](total T, n, i int) T {
	share := total / T(n)
	if T(i) < total%T(n) {
		share++
	}
	return share
}

// plannedDuration is a duration-bound run's length, 0 for a count-bound one.
func plannedDuration(spec Spec) time.Duration {
	if spec.Requests > 0 {
		return 0
	}
	return spec.Duration
}

// agent is one agent and its share of the run. Its fields are used by one
// goroutine at a time (eachAgent hands each agent to one).
type agent struct {
	url    string // as given
	base   string // http://host:port/fortio/
	index  int
	spec   Spec // its share, with defaults
	client *http.Client

	runID    int64
	resultID string
	res      *fhttp.HTTPRunnerResults // its saved result, once fetched

	failingSince time.Time // first of the calls failing in a row
	badResult    error     // why the last saved result read did not decode
}

func (ag *agent) fail(format string, args ...any) error {
	return &AgentError{URL: ag.url, Err: fmt.Errorf(format, args...)}
}

// probe checks that the agent answers as fortio's REST API and keeps its
// results (a data directory), which is how Run gets them back.
func (ag *agent) probe(ctx context.Context) error {
	// A run id that cannot exist keeps the answer small.
	var status map[string]json.RawMessage
	if err := ag.getJSON(ctx, "rest/status?runid=-1", &status); err != nil {
		return ag.fail("%w", err)
	}
	if _, ok := status["Statuses"]; !ok {
		return ag.fail("does not answer as fortio's REST API: GET %srest/status has no Statuses", ag.base)
	}
	body, code, err := ag.get(ctx, "data/index.tsv", 64)
	if err != nil {
		return ag.fail("%w", err)
	}
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte("TsvHttpData-1.0")) {
		return ag.fail("keeps no results, so its share could not be read back (GET %sdata/index.tsv: %d): start fortio server with -data-dir", ag.base, code)
	}
	return nil
}

// start starts the agent's share, asynchronous and saved.
func (ag *agent) start(ctx context.Context, n int) error {
	u := ag.base + "rest/run?" + ag.query(n).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return ag.fail("%w", err)
	}
	var reply struct {
		Error     bool   `json:"error"`
		Message   string `json:"message"`
		Exception string `json:"exception"`
		RunID     int64
		ResultID  string
	}
	if err := ag.do(req, &reply); err != nil {
		return ag.fail("start: %w", err)
	}
	if reply.Error || reply.RunID <= 0 || reply.ResultID == "" {
		return ag.fail("refused the run: %s", strings.TrimSuffix(reply.Message+": "+reply.Exception, ": "))
	}
	ag.runID, ag.resultID = reply.RunID, reply.ResultID
	return nil
}

// query is the agent's share as fortio's REST run arguments. Every value
// travels as a query argument: fortio ignores JSON numbers, and a JSON
// string would mangle a binary payload.
func (ag *agent) query(n int) url.Values {
	s := ag.spec
	q := url.Values{}
	q.Set("async", "on")
	q.Set("save", "on")
	q.Set("url", s.URL)
	qps := s.QPS
	if qps == 0 {
		qps = -1 // fortio: negative = max speed; 0 would mean 8 qps
	}
	q.Set("qps", strconv.FormatFloat(qps, 'g', -1, 64))
	q.Set("c", strconv.Itoa(s.Connections))
	if s.Requests > 0 {
		q.Set("n", strconv.FormatInt(s.Requests, 10))
	} else {
		q.Set("t", s.Duration.String())
	}
	resolution := s.Resolution.Seconds()
	if resolution == 0 {
		resolution = periodic.DefaultRunnerOptions.Resolution // the same for every agent
	}
	q.Set("r", strconv.FormatFloat(resolution, 'g', -1, 64))
	ps := make([]string, len(percentiles))
	for i, p := range percentiles {
		ps[i] = strconv.FormatFloat(p, 'g', -1, 64)
	}
	q.Set("p", strings.Join(ps, ","))
	q.Set("timeout", s.Timeout.String())
	q.Set("X", s.Method)
	if len(s.Body) > 0 {
		q.Set("payload", string(s.Body))
	}
	for _, name := range slices.Sorted(maps.Keys(s.Header)) {
		for _, v := range s.Header[name] {
			q.Add("H", name+": "+v)
		}
	}
	if s.ContentType != "" {
		q.Add("H", "Content-Type: "+s.ContentType) // after the headers: it wins, as locally
	}
	for arg, on := range map[string]bool{"stdclient": s.StdClient, "uniform": s.Uniform, "jitter": s.Jitter} {
		if on {
			q.Set(arg, "on")
		}
	}
	q.Set("labels", fmt.Sprintf("faultline agent %d of %d", ag.index+1, n))
	return q
}

// poll asks for the share's saved result; an agent that fails every call
// for agentLost is given up.
func (ag *agent) poll(ctx context.Context, now time.Time) error {
	res, err := ag.fetch(ctx)
	if err != nil {
		if ag.failingSince.IsZero() {
			ag.failingSince = now
		}
		if now.Sub(ag.failingSince) >= agentLost {
			return ag.fail("lost during run %d: %w", ag.runID, err)
		}
		return nil
	}
	ag.failingSince = time.Time{}
	ag.res = res
	return nil
}

// check asks whether a share without a saved result is still running:
// fortio saves the result before it drops the run from its status, so a
// run gone from the status without a result never saved one.
func (ag *agent) check(ctx context.Context) error {
	var status struct{ Statuses map[string]json.RawMessage }
	if err := ag.getJSON(ctx, "rest/status?runid="+strconv.FormatInt(ag.runID, 10), &status); err != nil {
		return nil // poll decides when the agent is lost
	}
	if _, running := status.Statuses[strconv.FormatInt(ag.runID, 10)]; running {
		return nil
	}
	res, err := ag.fetch(ctx)
	switch {
	case res != nil:
		ag.res = res
		return nil
	case err != nil:
		return ag.fail("run %d ended; its result: %w", ag.runID, err)
	case ag.badResult != nil:
		return ag.fail("run %d ended with a result that is not fortio's: %w", ag.runID, ag.badResult)
	}
	return ag.fail("run %d ended without saving its result", ag.runID)
}

// fetch reads the share's saved result: nil and no error while it is not
// saved, or while it reads as incomplete JSON (fortio writes the file in
// place, so it may be read half written).
func (ag *agent) fetch(ctx context.Context) (*fhttp.HTTPRunnerResults, error) {
	body, code, err := ag.get(ctx, "data/"+url.PathEscape(ag.resultID)+".json", maxAgentResult)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, nil
	case code != http.StatusOK:
		return nil, fmt.Errorf("GET %sdata/%s.json: %d %s", ag.base, ag.resultID, code, http.StatusText(code))
	}
	var res fhttp.HTTPRunnerResults
	if err := json.Unmarshal(body, &res); err != nil {
		ag.badResult = err
		return nil, nil
	}
	return &res, nil
}

// stop stops the share; it does not wait for it to end.
func (ag *agent) stop(ctx context.Context) {
	if ag.runID > 0 && ag.res == nil {
		_, _, _ = ag.get(ctx, "rest/stop?runid="+strconv.FormatInt(ag.runID, 10), 1<<10)
	}
}

// get makes a GET to path under the agent's base and returns at most limit
// bytes of the body with the status code.
func (ag *agent) get(ctx context.Context, path string, limit int64) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ag.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := ag.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, 0, err
	}
	return body, resp.StatusCode, nil
}

// getJSON makes a GET to path under the agent's base and decodes its JSON
// answer into v.
func (ag *agent) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ag.base+path, nil)
	if err != nil {
		return err
	}
	return ag.do(req, v)
}

// do sends req and decodes its JSON answer into v; fortio answers errors
// in JSON too, so any status with a JSON body decodes.
func (ag *agent) do(req *http.Request, v any) error {
	resp, err := ag.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s answered %d, not fortio's JSON: %.80q", req.Method, req.URL.Redacted(), resp.StatusCode, body)
	}
	return nil
}

// eachAgent calls fn for every agent at once and joins their errors, in
// the agents' order.
func eachAgent(agents []*agent, fn func(*agent) error) error {
	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, ag := range agents {
		wg.Go(func() { errs[i] = fn(ag) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stopAll stops every started share that has no result yet. The calls
// outlive the run's context, which may be what ended it.
func stopAll(agents []*agent) {
	ctx, cancel := context.WithTimeout(context.Background(), agentCallTimeout)
	defer cancel()
	_ = eachAgent(agents, func(ag *agent) error {
		ag.stop(ctx)
		return nil
	})
}

// pending lists the agents without a saved result.
func pending(agents []*agent) []*agent {
	var out []*agent
	for _, ag := range agents {
		if ag.res == nil {
			out = append(out, ag)
		}
	}
	return out
}

// wait polls the agents until every share's result is saved. Cancelling
// ctx stops them all (again every second, should a share have been
// between pending and running), and they then have the request timeout
// plus agentStopWait to save what they did. It calls spec.OnProgress with
// the elapsed and planned time at least once a second.
func wait(ctx context.Context, agents []*agent, spec Spec, start time.Time) error {
	calls := context.WithoutCancel(ctx) // the calls that stop and collect outlive ctx
	poll := time.NewTicker(agentPoll)
	defer poll.Stop()
	check := time.NewTicker(agentCheck)
	defer check.Stop()
	var progress <-chan time.Time
	if spec.OnProgress != nil {
		t := time.NewTicker(min(spec.ProgressInterval, time.Second))
		defer t.Stop()
		progress = t.C
	}
	done := ctx.Done()
	var stopped <-chan time.Time
	var lastStop time.Time
	for {
		left := pending(agents)
		if len(left) == 0 {
			return nil
		}
		select {
		case <-done:
			done = nil
			stopAll(left)
			lastStop = time.Now()
			t := time.NewTimer(spec.Timeout + agentStopWait)
			defer t.Stop()
			stopped = t.C
		case <-stopped:
			errs := make([]error, len(left))
			for i, ag := range left {
				errs[i] = ag.fail("no result for run %d %v after it was stopped", ag.runID, spec.Timeout+agentStopWait)
			}
			return errors.Join(errs...)
		case now := <-progress:
			spec.OnProgress(Progress{Elapsed: now.Sub(start), Planned: plannedDuration(spec), PlannedRequests: spec.Requests})
		case <-check.C:
			if err := eachAgent(left, func(ag *agent) error { return ag.check(calls) }); err != nil {
				return err
			}
		case now := <-poll.C:
			if err := eachAgent(left, func(ag *agent) error { return ag.poll(calls, now) }); err != nil {
				return err
			}
			if done == nil && now.Sub(lastStop) >= time.Second {
				stopAll(pending(agents))
				lastStop = now
			}
		}
	}
}

// merge turns the agents' saved results into one Result with the
// per-agent breakdown.
func merge(agents []*agent, spec Spec) (*Result, error) {
	divider := spec.Resolution.Seconds()
	if divider == 0 {
		divider = periodic.DefaultRunnerOptions.Resolution
	}
	rs := make([]*fhttp.HTTPRunnerResults, len(agents))
	breakdown := make([]AgentResult, len(agents))
	for i, ag := range agents {
		res := ag.res
		if res.Error {
			return nil, ag.fail("run %d failed: %s", ag.runID, strings.TrimSuffix(res.Message+": "+res.Exception, ": "))
		}
		if res.DurationHistogram == nil {
			return nil, ag.fail("run %d's result has no latency histogram", ag.runID)
		}
		// Check its buckets alone, to name the agent whose do not merge.
		if _, err := mergeHistograms(divider, 0, []*stats.HistogramData{res.DurationHistogram}, nil); err != nil {
			return nil, ag.fail("run %d: %w", ag.runID, err)
		}
		one, err := fromFortio(res)
		if err != nil {
			return nil, err
		}
		rs[i] = res
		breakdown[i] = agentResult(ag.url, ag.spec, one)
	}
	merged, err := mergeResults(spec, rs)
	if err != nil {
		return nil, fmt.Errorf("loadgen: merge the agents' results: %w", err)
	}
	out, err := fromFortio(merged)
	if err != nil {
		return nil, err
	}
	out.Warmup = sumWarmup(breakdown)
	out.Agents = breakdown
	return out, nil
}

var _ Runner = (*Agents)(nil)
