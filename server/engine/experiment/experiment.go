// Package experiment executes one experiment run: it starts the run's demo
// targets and its own proxy listeners, drives fortio load through them,
// collects the proxy's counters, evaluates the hypothesis and tears
// everything down. It stores nothing; callers decide what to keep.
package experiment

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
)

// Options configure one run.
type Options struct {
	// Seed draws every fault and routing decision; 0 means the
	// experiment's spec.seed, or a fresh random seed.
	Seed int64
	// AllowTarget refuses upstream addresses outside the allow-list; nil
	// allows loopback only.
	AllowTarget func(hostport string) error
	Limits      safety.Limits
	// OnProgress receives live snapshots, at least once a second.
	OnProgress func(report.Progress)
	// AccessLog receives the proxy's access log in Istio's format; nil = off.
	AccessLog io.Writer
	Logger    *slog.Logger
	// Runner sends the load; nil means fortio.
	Runner loadgen.Runner
	// OnProxy, when set, is called once the run's proxy is listening, so a
	// caller can read its live counters until the run ends.
	OnProxy func(*proxy.Proxy)
	// OnTargets, when set, is called once the run's demo targets are
	// started and pointed at the proxy, so a caller can read what reached
	// each of them.
	OnTargets func(*DemoTargets)
	// BaseDir is the experiment file's directory: relative container
	// build contexts resolve against it. Empty (the API) refuses them.
	BaseDir string
	// Plane is the environment's data plane an experiment with
	// spec.environment runs on; nil for the others.
	Plane Plane
	// Containers is what container endpoints the run may start; nil
	// allows every one (the files a user runs with `faultline run`).
	Containers *safety.ContainerPolicy
	// Credentials is the credentials directory (--credentials-dir) that
	// Gateway servers and DestinationRules name certificates in
	// (proxy.Options.Credentials); nil: terminating gateways present
	// certificates of the run's own CA, which the run's load trusts.
	Credentials fs.FS
}

// Plane is the data plane of an environment, leased to one run: the run
// lays its document over the environment's baseline, sends its load
// through the environment's listeners, and reverts (RunOn).
type Plane interface {
	// Proxy is the environment's data plane, for its counters.
	Proxy() (*proxy.Proxy, error)
	// Apply lays the run's document over the baseline, atomically.
	Apply(doc *scenarios.Document) error
	// Revert puts the baseline back; it is safe to call more than once.
	Revert()
	// Entry is the listener address the load enters through: a Gateway's
	// (via) on port, or the mesh's egress (else host's own listener).
	Entry(via, host string, port uint32) (string, error)
}

// MeshPlane is the Plane of a mesh environment: a namespace of a
// cluster whose Istio enforces the run's resources. There is no proxy of
// Faultline's (Proxy returns nil): the load goes to Entry directly, and
// the report says what was applied and put back instead of counters.
type MeshPlane interface {
	Plane
	// ApplyMesh applies the run's Istio resources to the namespace, each
	// saved first, to be put back by expires at the latest.
	ApplyMesh(ctx context.Context, doc *scenarios.Document, expires time.Time) error
	// MeshRecord is what the run applied and how each was put back.
	MeshRecord() *report.Mesh
}

// Execute runs doc once. It returns an error only when the run could not
// happen (a target refused, a port in use); a stopped run (ctx cancelled)
// returns its partial report with status "stopped". An experiment on an
// environment (spec.environment) runs on opts.Plane, which must be set.
func Execute(ctx context.Context, doc *scenarios.Document, opts Options) (*report.Report, error) {
	load := doc.Experiment.Spec.Load
	if err := safety.CheckLimits(load, opts.Limits); err != nil {
		return nil, err
	}
	if err := safety.CheckContainers(doc, opts.Containers); err != nil {
		return nil, err
	}
	if opts.Seed == 0 {
		opts.Seed = doc.Experiment.Spec.Seed
	}
	if opts.Seed == 0 {
		opts.Seed = NewSeed()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	name := doc.Experiment.Spec.Environment
	if name != "" && opts.Plane == nil {
		return nil, fmt.Errorf("engine: the experiment runs on environment %s, which only `faultline serve` keeps: store both there and start the run from its API", name)
	}
	// What validate would say of the document, the run refuses with the
	// same words (Check).
	if err := CheckError(Check(doc, opts)); err != nil {
		return nil, err
	}
	if name != "" {
		return runOnPlane(ctx, doc, opts)
	}
	return runOwnPlane(ctx, doc, opts)
}

// runOwnPlane runs doc on data plane of its own: its demo targets and
// containers, its proxy on ephemeral loopback ports, all torn down after.
func runOwnPlane(ctx context.Context, doc *scenarios.Document, opts Options) (*report.Report, error) {
	log := opts.Logger
	if err := Preflight(ctx, doc); err != nil {
		return nil, err
	}
	targets, err := StartDemoTargets(ctx, doc)
	if err != nil {
		return nil, err
	}
	defer targets.Close()

	// Container endpoints (spec.services[].endpoints[].container): started
	// before the proxy reads the endpoint addresses, always removed.
	ctrs, err := containers.StartAll(ctx, doc, opts.BaseDir)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	defer func() {
		if err := ctrs.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("removing the run's containers", "err", err)
		}
	}()

	// The run's CA signs the certificates of gateways that terminate TLS
	// with none from the credentials directory, and the load's own.
	ca, err := proxy.NewCA()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	phases := newPhaser(doc, log)
	px, err := proxy.Start(ctx, phases.first(doc), "127.0.0.1:0", nil, proxy.Options{Seed: opts.Seed, AccessLog: opts.AccessLog, AllowTarget: opts.AllowTarget, Logger: log,
		Credentials: opts.Credentials, CA: ca})
	if err != nil {
		return nil, fmt.Errorf("engine: start proxy: %w", err)
	}
	defer px.Close()
	targets.SetMesh(px.MeshAddr()) // the Bookinfo targets call each other through the mesh
	if opts.OnTargets != nil {
		opts.OnTargets(targets)
	}
	entry, err := entryAddr(doc.Experiment.Spec.Load, px)
	if err != nil {
		return nil, err
	}
	return drive(ctx, doc, opts, dataPlane{
		px: px, entry: entry, ctrs: ctrs, ca: ca, phases: phases, apply: px.Apply,
		cut: func() { _ = px.Close() },
		// Let requests still in the proxy (a delayed call whose client
		// gave up, say) finish before reading the counters, so every
		// request is counted once it has its flags. The demo services
		// hang up first, so the drain does not wait for a connection
		// they keep without a request on it.
		end: func() proxy.Stats {
			targets.HangUp()
			if err := px.Close(); err != nil {
				log.Warn("closing the run's proxy", "err", err)
			}
			return px.Stats()
		},
	})
}

// runOnPlane runs doc on an environment's data plane: its resources laid
// over the baseline for the load, the baseline back as soon as the load
// ends (and on every other ending), the counters of the run's window.
func runOnPlane(ctx context.Context, doc *scenarios.Document, opts Options) (*report.Report, error) {
	plane := opts.Plane
	if mp, ok := plane.(MeshPlane); ok {
		return runOnMesh(ctx, doc, opts, mp)
	}
	px, err := plane.Proxy()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	load := doc.Experiment.Spec.Load
	u, err := url.Parse(load.URL)
	if err != nil {
		return nil, fmt.Errorf("engine: spec.load.url: %w", err)
	}
	entry, err := plane.Entry(via(load), u.Hostname(), urlPort(u))
	if err != nil {
		return nil, fmt.Errorf("engine: spec.load: %w", err)
	}
	down := unreachable(ctx, doc)
	before := px.Stats()
	phases := newPhaser(doc, opts.Logger)
	if err := plane.Apply(phases.first(doc)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	defer plane.Revert()
	r, err := drive(ctx, doc, opts, dataPlane{px: px, entry: entry, ctrs: &containers.Targets{}, before: &before, phases: phases, apply: plane.Apply,
		end: func() proxy.Stats {
			plane.Revert()
			return px.Stats()
		},
	})
	if r != nil {
		r.Environment = doc.Experiment.Spec.Environment
		r.Warnings = append(r.Warnings, down...)
	}
	return r, err
}

// runOnMesh runs doc on a mesh environment: its Istio resources applied
// to the cluster's namespace for the load, which goes straight to the
// environment's entry, and put back as soon as the load ends (and on
// every other ending).
func runOnMesh(ctx context.Context, doc *scenarios.Document, opts Options, mp MeshPlane) (*report.Report, error) {
	load := doc.Experiment.Spec.Load
	u, err := url.Parse(load.URL)
	if err != nil {
		return nil, fmt.Errorf("engine: spec.load.url: %w", err)
	}
	entry, err := mp.Entry(via(load), u.Hostname(), urlPort(u))
	if err != nil {
		return nil, fmt.Errorf("engine: spec.load: %w", err)
	}
	allow := opts.AllowTarget
	if allow == nil {
		allow = scenarios.LoopbackOnly
	}
	if err := allow(entry); err != nil {
		return nil, &safety.TargetError{Field: "spec.load.url", Err: err}
	}
	planned, grace := RunCap(load, opts.Limits)
	defer mp.Revert()
	// A stopped run (the lever, a stop, a shutdown) puts the namespace
	// back at once, while the load winds down.
	defer context.AfterFunc(ctx, mp.Revert)()
	if err := mp.ApplyMesh(ctx, doc, time.Now().Add(planned+grace)); err != nil {
		mp.Revert()
		return nil, fmt.Errorf("engine: %w%s", err, restoredNote(mp.MeshRecord()))
	}
	r, err := drive(ctx, doc, opts, dataPlane{entry: entry, ctrs: &containers.Targets{},
		end: func() proxy.Stats {
			mp.Revert()
			return proxy.Stats{}
		},
	})
	if r != nil {
		r.Environment = doc.Experiment.Spec.Environment
		r.Mesh = mp.MeshRecord()
		if r.Mesh == nil {
			r.Mesh = &report.Mesh{}
		}
		r.Mesh.Entry = entry
		for _, res := range r.Mesh.Resources {
			if res.State != "restored" {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s %s in namespace %s: %s %s", res.Kind, res.Name, r.Mesh.Namespace, res.State, res.Detail))
			}
		}
	}
	return r, err
}

// restoredNote says, after a failed apply, what was put back.
func restoredNote(m *report.Mesh) string {
	if m == nil || len(m.Resources) == 0 {
		return ""
	}
	out := "; put back:"
	for _, res := range m.Resources {
		out += fmt.Sprintf(" %s %s (%s)", res.Kind, res.Name, res.State)
	}
	return out
}

// unreachable lists, as report warnings, the endpoints that cannot be
// dialled as a run on an environment starts: the run goes on (the data
// plane answers 503 UF for them, as Envoy does), but says so.
func unreachable(ctx context.Context, doc *scenarios.Document) []string {
	err := Preflight(ctx, doc)
	if err == nil {
		return nil
	}
	return []string{fmt.Sprintf("%v; the run went on: requests to these endpoints get 503 (UF)", err)}
}

// dataPlane is where a run's load goes and whose counters it reports.
type dataPlane struct {
	// px is the proxy whose counters the run reports; nil on a mesh.
	px *proxy.Proxy
	// entry is the listener address the load enters through.
	entry string
	ctrs  *containers.Targets
	// end stops the run's faults once the load is done and returns the
	// data plane's counters.
	end func() proxy.Stats
	// before holds the counters of a long-lived data plane as the run
	// began, for the run's window; nil for a run's own proxy.
	before *proxy.Stats
	// cut, when set, ends the calls in flight at once (a run stopped at
	// its cap); the run's own proxy closes its connections.
	cut func()
	// ca is the run's CA, which signed the certificates of its gateways
	// that terminate TLS; nil on an environment's data plane.
	ca *proxy.CA
	// phases switches a phased run's faults on and off through apply;
	// nil when the run is not phased.
	phases *phaser
	apply  func(*scenarios.Document) error
}

// drive sends the experiment's load through the data plane and makes the
// report: codes, latency, the run's counters, injection accounting, the
// verdict.
func drive(ctx context.Context, doc *scenarios.Document, opts Options, dp dataPlane) (*report.Report, error) {
	log, load := opts.Logger, doc.Experiment.Spec.Load
	if opts.OnProxy != nil && dp.px != nil {
		opts.OnProxy(dp.px)
	}
	spec := loadSpec(load, dp.entry)
	warnings, err := loadTLS(&spec, load, dp)
	if err != nil {
		return nil, err
	}
	if ph := dp.phases; ph != nil {
		ph.apply = dp.apply
		if dp.px != nil {
			ph.stats = dp.px.Stats
		}
		spec.PhaseEdges, spec.OnPhase = ph.edges(), ph.enter
	}
	// fortio's warm-up calls (one per connection before a duration-bound
	// run) are not the run's: the counters they leave are taken out, as
	// fortio leaves them out of its own counts.
	var warmedUp atomic.Pointer[proxy.Stats]
	if dp.px != nil {
		spec.OnWarmedUp = func() {
			s := settledStats(dp.px)
			warmedUp.Store(&s)
		}
	}
	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	watch := newAbortWatch(doc.Experiment.Spec.Abort, stopLoad)
	progress := &progressLog{}
	spec.OnProgress = func(p loadgen.Progress) {
		if !progress.add(p) {
			return // the run ended at its cap without this load
		}
		watch.observe(p)
		if opts.OnProgress != nil {
			pr := progressOf(p)
			pr.Phase = dp.phases.name()
			opts.OnProgress(pr)
		}
	}
	runner := opts.Runner
	switch {
	case runner != nil:
	case len(load.Agents) > 0:
		runner = loadgen.NewAgents(load.Agents) // the load comes from fortio agents
	default:
		runner = loadgen.NewFortio()
	}
	planned, grace := RunCap(load, opts.Limits)

	r := &report.Report{
		Experiment:   doc.Name(),
		Seed:         opts.Seed,
		IstioVersion: doc.Istio.String(),
		Target:       load.URL,
		Via:          via(load),
		Connections:  spec.Connections,
		StartedAt:    time.Now().UTC(),
	}
	log.Info("run started", "experiment", r.Experiment, "seed", opts.Seed, "entry", dp.entry)
	waitActions := dp.ctrs.RunActions(loadCtx, &doc.Experiment.Spec, time.Now())
	res, capped, err := runCapped(loadCtx, runner, spec, &CapError{Planned: planned, Grace: grace}, stopLoad, dp, progress)
	r.Actions = waitActions()
	r.EndedAt = time.Now().UTC()
	switch {
	case err != nil && loadCtx.Err() != nil:
		// Stopped before the load began: an empty, stopped report.
		res = &loadgen.Result{}
	case err != nil:
		dp.end()
		return nil, fmt.Errorf("engine: load: %w", err)
	}
	fill(r, res)
	fillSchedule(r, res)
	fillPhases(r, res)
	r.Timeline = progress.points()
	r.Proxy = dp.end()
	if err := dp.phases.err(); err != nil {
		return nil, err
	}
	switch w := warmedUp.Load(); {
	case r.Warmup > 0 && w != nil:
		r.Proxy = r.Proxy.Sub(*w)
	case dp.before != nil:
		r.Proxy = r.Proxy.Sub(*dp.before)
	}
	r.Containers = dp.ctrs.Report(context.WithoutCancel(ctx))
	for _, w := range doc.Warnings {
		r.Warnings = append(r.Warnings, w.String())
	}
	r.Warnings = append(r.Warnings, warnings...)

	if dp.px != nil {
		dp.phases.account(doc, r) // the counters say what was injected
		// What the configuration says the run should show, beside it.
		if preds, err := Predict(doc, r); err != nil {
			r.Warnings = append(r.Warnings, "predictions: "+err.Error())
		} else {
			r.Predictions = preds
			report.ObservePredictions(r)
		}
	}
	r.Verdict = report.Evaluate(doc.Experiment.Spec.Hypothesis, r)
	switch {
	case capped != nil:
		r.Status, r.Verdict, r.Reason = runstatus.Stopped, report.VerdictNone, capped.Error()
	case watch.fired != nil:
		r.Status, r.Verdict = runstatus.Stopped, report.VerdictNone
		r.Abort, r.Reason = watch.fired, watch.reason()
	case ctx.Err() != nil:
		r.Status, r.Verdict = runstatus.Stopped, report.VerdictNone
		r.Reason = "stopped before the load finished"
	case r.Verdict == report.VerdictFail:
		r.Status = runstatus.Failed
		r.Reason = "hypothesis falsified"
	case r.Verdict == report.VerdictInconclusive:
		r.Status = runstatus.Failed
		r.Reason = "latency checks not gradable: the load generator fell behind its schedule"
	default:
		r.Status = runstatus.Succeeded
	}
	log.Info("run ended", "experiment", r.Experiment, "status", r.Status, "verdict", r.Verdict, "requests", r.Requests)
	return r, nil
}

// entryAddr is the listener of the run's own proxy that the load enters
// through: the mesh, or the Gateway server its via names on the URL's port.
func entryAddr(l *scenarios.Load, px *proxy.Proxy) (string, error) {
	v := via(l)
	if v == scenarios.MeshGateway {
		return px.MeshAddr(), nil
	}
	u, err := url.Parse(l.URL)
	if err != nil {
		return "", fmt.Errorf("engine: spec.load.url: %w", err)
	}
	port := urlPort(u)
	a, ok := px.GatewayAddr(v, port)
	if !ok {
		return "", fmt.Errorf("engine: spec.load.via: gateway %s has no server on port %d", v, port)
	}
	return a, nil
}

// urlPort is the URL's port, 80 (443 for https) when it names none.
func urlPort(u *url.URL) uint32 {
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 32); err == nil {
			return uint32(n)
		}
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

// loadSpec aims the experiment's load at the listener address addr,
// keeping the URL's host as the Host header. The URL was validated.
func loadSpec(l *scenarios.Load, addr string) loadgen.Spec {
	u, _ := url.Parse(l.URL)
	target := *u
	target.Host = addr
	h := http.Header{}
	for k, v := range l.Headers {
		h.Set(k, v)
	}
	h.Set("Host", u.Host)
	spec := loadgen.Spec{
		URL:         target.String(),
		Method:      l.Method,
		Header:      h,
		Body:        []byte(l.Body),
		ContentType: l.ContentType,
		QPS:         l.QPS,
		Connections: l.Connections,
		Requests:    l.Requests,
		Uniform:     l.Uniform,
		Jitter:      l.Jitter,
		// 100 µs buckets: loopback latencies are sub-millisecond, and the
		// histogram still reaches 10 s before its overflow bucket.
		Resolution: 100 * time.Microsecond,
	}
	if l.Duration != nil {
		spec.Duration = l.Duration.D()
	}
	if l.Timeout != nil {
		spec.Timeout = l.Timeout.D()
	}
	return spec
}

func via(l *scenarios.Load) string {
	if l.Via == "" {
		return scenarios.MeshGateway
	}
	return l.Via
}

// fill copies the load result into the report.
func fill(r *report.Report, res *loadgen.Result) {
	r.Requests = res.Requests
	r.QPS = res.ActualQPS
	r.Errors = res.Errors
	r.Sockets = res.Sockets
	r.DurationMs = ms(res.ActualDuration)
	r.Codes = codesOf(res.Codes)
	r.LatencyMs = latencyOf(res.Latency)
	r.Histogram = bucketsOf(res.Histogram)
	r.Warmup = res.Warmup
	r.Fortio = res.Raw
	for _, a := range res.Agents {
		r.Agents = append(r.Agents, report.AgentResult{URL: a.URL, Connections: a.Connections, Requests: a.Requests, QPS: a.ActualQPS,
			Codes: codesOf(a.Codes), Errors: a.Errors, LatencyMs: report.AgentLatency{P50: ms(a.Latency.P50), P99: ms(a.Latency.P99)}})
	}
}

// settledStats returns px's counters once no request is in its listeners,
// when every request's counts are in (see proxy.ListenerStats.Active). It
// waits at most settleLimit: on an environment's data plane, traffic from
// elsewhere need never pause.
func settledStats(px *proxy.Proxy) proxy.Stats {
	deadline := time.Now().Add(settleLimit)
	for {
		s := px.Stats()
		busy := false
		for _, l := range s.Listeners {
			busy = busy || l.Active > 0
		}
		if !busy || time.Now().After(deadline) {
			return s
		}
		time.Sleep(time.Millisecond)
	}
}

// settleLimit bounds settledStats. The calls it waits for have been
// answered already; only the proxy's bookkeeping after the reply is left.
const settleLimit = 250 * time.Millisecond

// appendPoint adds a progress snapshot to the run's timeline, at most one
// a second (plus the final one), so a long run stays small.
func appendPoint(tl []report.Point, p loadgen.Progress) []report.Point {
	pt := report.Point{ElapsedMs: ms(p.Elapsed), Requests: p.Requests, Errors: p.Errors, QPS: p.QPS, P50Ms: ms(p.P50), P99Ms: ms(p.P99)}
	n := len(tl)
	replace := n > 1 && pt.ElapsedMs-tl[n-1].ElapsedMs < 1000 && tl[n-1].ElapsedMs-tl[n-2].ElapsedMs < 1000
	if replace {
		n-- // replace the interim point; keep one a second
	}
	// Throughput between points, from the counts: the load generator's own
	// figure covers its last short interval only.
	if n > 0 {
		prev := tl[n-1]
		if dt := pt.ElapsedMs - prev.ElapsedMs; dt > 0 {
			pt.QPS = float64(pt.Requests-prev.Requests) / (dt / 1000)
		}
	}
	return append(tl[:n], pt)
}

func progressOf(p loadgen.Progress) report.Progress {
	return report.Progress{
		Status:          runstatus.Running,
		ElapsedMs:       ms(p.Elapsed),
		PlannedMs:       ms(p.Planned),
		Requests:        p.Requests,
		PlannedRequests: p.PlannedRequests,
		Errors:          p.Errors,
		QPS:             p.QPS,
		Codes:           codesOf(p.Codes),
		P50Ms:           ms(p.P50),
		P99Ms:           ms(p.P99),
	}
}

func codesOf(codes map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(codes))
	for c, n := range codes {
		out[strconv.Itoa(c)] = n
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// NewSeed returns a fresh non-zero random seed.
func NewSeed() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if s := int64(binary.LittleEndian.Uint64(b[:]) >> 1); s != 0 {
			return s
		}
	}
}
