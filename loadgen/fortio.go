package loadgen

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/log"
)

// percentiles are the percentiles fortio computes; result.go maps them onto
// [Percentiles].
var percentiles = []float64{50, 75, 90, 99, 99.9}

// Fortio is a [Runner] backed by fortio's HTTP runner (fortio.org/fortio/fhttp).
// It holds no state: one Fortio may run any number of runs, concurrently.
type Fortio struct{}

// NewFortio returns a fortio-backed [Runner].
//
// It lowers fortio's logger (fortio.org/log) to errors only. That logger is a
// process-wide global inside fortio and logs every run's start and end at
// Info level on stderr; there is no per-run setting. Callers who want fortio's
// chatter back can raise the level again after NewFortio returns.
func NewFortio() *Fortio {
	log.SetLogLevelQuiet(log.Error)
	return &Fortio{}
}

// Run executes spec and blocks until it ends. See [Runner] for the contract.
//
// If ctx is already done when Run is called, nothing is sent and Run returns
// ctx's error. Once the run has started, cancelling ctx aborts it: calls in
// flight finish (bounded by Spec.Timeout), no new calls start, and Run
// returns the partial result with a nil error. A cancel that lands during
// the warm-up of a duration-bound run yields a result with zero requests.
//
// With Spec.QPS > 0 the Result also has Intended and Schedule; with
// Spec.PhaseEdges it has Phases and a time series (see [Result.Window]).
func (f *Fortio) Run(ctx context.Context, spec Spec) (*Result, error) {
	return f.run(ctx, spec, nil)
}

// run is Run; afterReport, if set, runs after every call on its
// connection's goroutine (tests use it to make the generator late).
func (f *Fortio) run(ctx context.Context, spec Spec, afterReport func()) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: run not started: %w", err)
	}
	start := time.Now()
	spec = spec.withDefaults()
	spec.PhaseEdges = slices.Clone(spec.PhaseEdges) // the run reads them until it ends
	sched := newSchedule(spec.QPS, spec.Connections, spec.Requests, spec.Duration, spec.Uniform)
	t := newTracker(spec, sched)
	t.afterReport = afterReport
	// Our own Aborter: without one fortio installs a SIGINT handler. Keep
	// the pointer, fortio clears opts.Stop when it takes the options over.
	abort := periodic.NewAborter()
	opts, err := fortioOptions(spec, t, abort)
	if err != nil {
		return nil, err
	}
	if spec.TLS != nil {
		// fortio reads certificates by path, once per connection as the
		// run starts.
		dir, err := os.MkdirTemp("", "faultline-load-tls-")
		if err != nil {
			return nil, fmt.Errorf("loadgen: tls: %w", err)
		}
		defer os.RemoveAll(dir)
		if err := applyTLS(&opts.HTTPOptions, spec.TLS, dir); err != nil {
			return nil, fmt.Errorf("loadgen: tls: %w", err)
		}
	}

	// Both helpers stop, and are waited for, before Run returns.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			abort.Abort(false)
		case <-stop:
		}
	})
	if t.phases != nil && spec.OnPhase != nil {
		wg.Go(func() {
			runPhaseCalls(t.began, func() time.Time { return t.countedStart },
				spec.PhaseEdges, spec.OnPhase, stop, ctx.Done())
		})
	}
	var rep *reporter
	if spec.OnProgress != nil {
		rep = newReporter(t, spec, start)
		wg.Go(func() { rep.tick(stop, spec.ProgressInterval, spec.OnProgress) })
	}
	res, runErr := fhttp.RunHTTPTest(opts)
	close(stop)
	wg.Wait()
	if runErr != nil {
		return nil, fmt.Errorf("loadgen: run %s: %w", redactURL(spec.URL), runErr)
	}

	out, err := fromFortio(res)
	if err != nil {
		return nil, err
	}
	if spec.Requests == 0 {
		// fortio warms every connection up with one call before a
		// duration-bound run (RunHTTPTest's parallel warm-up).
		out.Warmup = int64(spec.Connections)
	}
	addScheduleAndPhases(out, t, start)
	if rep != nil {
		final := rep.snapshot(time.Now())
		// Same calls, counted twice; take the Result's numbers so the last
		// snapshot provably agrees with what Run returns.
		final.Requests, final.Errors = out.Requests, out.Errors
		final.Codes = maps.Clone(out.Codes)
		spec.OnProgress(final)
	}
	return out, nil
}

// addScheduleAndPhases fills in the Result fields that come from the
// tracker rather than from fortio: CountedStart (against Run's start),
// Intended, Schedule, Phases and the series.
func addScheduleAndPhases(out *Result, t *tracker, start time.Time) {
	if countedStart, ok := t.counted(); ok {
		out.CountedStart = countedStart.Sub(start)
	}
	if t.lags != nil {
		in := t.lags.intended.percentiles()
		out.Intended = &in
		out.Schedule = t.lags.result(out.ActualQPS)
	}
	if t.phases != nil {
		// fortio's run starts microseconds before the first counted call,
		// so its measured length is the end's offset from the counted start.
		out.Phases = t.phases.results(out.ActualDuration, t.lags != nil)
		out.series = t.phases.series
	}
}

// fortioOptions translates a validated, defaulted spec into fortio's options.
func fortioOptions(spec Spec, al periodic.AccessLogger, abort *periodic.Aborter) (*fhttp.HTTPRunnerOptions, error) {
	qps := spec.QPS
	if qps == 0 {
		qps = -1 // fortio: negative = max speed; 0 would mean 8 qps
	}
	o := &fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			QPS:          qps,
			NumThreads:   spec.Connections,
			Exactly:      spec.Requests,
			Duration:     spec.Duration, // ignored by fortio when Exactly > 0
			Percentiles:  slices.Clone(percentiles),
			Resolution:   spec.Resolution.Seconds(), // 0 = fortio's default
			Uniform:      spec.Uniform,
			Jitter:       spec.Jitter,
			Out:          io.Discard,
			Stop:         abort,
			AccessLogger: al,
		},
		AllowInitialErrors: true, // else a non-2xx warm-up call aborts the whole run
	}
	o.URL = spec.URL
	o.HTTPReqTimeOut = spec.Timeout
	o.DisableFastClient = spec.StdClient
	o.MethodOverride = spec.Method
	o.Payload = spec.Body
	if err := addHeaders(&o.HTTPOptions, spec.Header); err != nil {
		return nil, err
	}
	if spec.ContentType != "" {
		o.ContentType = spec.ContentType
	}
	return o, nil
}

// addHeaders hands h to fortio one "Key: value" line at a time; fortio treats
// Host, User-Agent and Content-Type specially.
func addHeaders(o *fhttp.HTTPOptions, h http.Header) error {
	for name, values := range h {
		for _, v := range values {
			if err := o.AddAndValidateExtraHeader(name + ": " + v); err != nil {
				return &SpecError{Field: "header", Reason: err.Error()}
			}
		}
	}
	return nil
}

var _ Runner = (*Fortio)(nil)
