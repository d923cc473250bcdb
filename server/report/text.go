package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// WriteText prints the report: first what `fortio load` prints for the
// same load (at -loglevel Warning, as the Istio docs run it), line for line
// in fortio's own formats and units (seconds), read from fortio's result;
// then Faultline's own lines: the experiment and its verdict, the proxy's
// counters, retry amplification, injection accounting, container
// actions, the abort, each hypothesis check and the warnings.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	if f, ok := decodeFortio(r.Fortio); ok {
		writeFortio(ew, r, f)
	} else {
		writeFortioFromReport(ew, r)
	}
	ew.printf("\n")
	ew.printf("Experiment %s: %s, verdict %s", r.Experiment, r.Status, r.Verdict)
	if r.Reason != "" {
		ew.printf(" (%s)", r.Reason)
	}
	ew.printf("\n")
	ew.printf("Target %s via %s, Istio %s defaults, seed %d\n", r.Target, r.Via, r.IstioVersion, r.Seed)
	t := r.Proxy.Totals
	ew.printf("Proxy: upstream requests %d, retries %d, timeouts %d, overflows %d, ejections %d, delayed %d, aborted %d, mirrored %d\n",
		t.UpstreamRequests, t.Retries, t.Timeouts, t.Overflows, t.Ejections, t.FaultsDelayed, t.FaultsAborted, t.Mirrored)
	if len(r.Proxy.ByFlag) > 0 {
		flags := make([]string, 0, len(r.Proxy.ByFlag))
		for f, n := range r.Proxy.ByFlag {
			flags = append(flags, fmt.Sprintf("%s=%d", f, n))
		}
		slices.Sort(flags)
		ew.printf("Response flags: %s\n", strings.Join(flags, " "))
	}
	if r.Requests > 0 {
		ew.printf("Retry amplification: %.3f× (%d upstream attempts for %d calls", r.RetryAmplification, t.UpstreamRequests, r.Requests)
		if r.Warmup > 0 {
			ew.printf(", the %d warm-up calls left out of both", r.Warmup)
		}
		ew.printf(")\n")
	}
	writeSchedule(ew, r)
	writePhases(ew, r)
	for _, in := range r.Injection {
		ew.printf("Injected %s %s[%d]: configured %g %%, realised %g %% (95 %% %g–%g %%) of %d matched\n",
			in.Kind, in.VirtualService, in.Rule, in.ConfiguredPercent, in.RealisedPercent, in.CI95[0], in.CI95[1], in.Matched)
	}
	for _, a := range r.Actions {
		outcome := "ok"
		if !a.OK {
			outcome = "failed: " + a.Error
		}
		ew.printf("Container action at %s: %s %s, %s\n", a.At, a.Action, a.Target, outcome)
	}
	if r.Abort != nil {
		ew.printf("Aborted: %s at %.1fs (observed %g)\n", r.Abort.Condition, r.Abort.AtMs/1000, r.Abort.Observed)
	}
	for _, p := range r.Predictions {
		ew.printf("Predicted %s", p.Metric)
		if p.Route != "" {
			ew.printf(" for %s", p.Route)
		}
		ew.printf(": %g (95 %% %g–%g)", p.Predicted, p.Low, p.High)
		if p.Observed != nil {
			mark := "within"
			if p.Within != nil && !*p.Within {
				mark = "OUTSIDE"
			}
			ew.printf(", observed %g: %s", *p.Observed, mark)
		}
		ew.printf(" (%s)\n", p.Basis)
	}
	for _, c := range r.Hypothesis {
		mark := "PASS"
		switch {
		case c.NotGradable:
			mark = "N/G "
		case !c.Pass:
			mark = "FAIL"
		}
		ew.printf("%s  %s (observed %g)", mark, c.Check, c.Observed)
		if c.Note != "" {
			ew.printf(": %s", c.Note)
		}
		ew.printf("\n")
	}
	for _, warn := range r.Warnings {
		ew.printf("warning: %s\n", warn)
	}
	return ew.err
}

// writeSchedule prints how the load kept its rate and the latency from
// each request's intended start.
func writeSchedule(ew *errWriter, r *Report) {
	if s := r.Schedule; s != nil {
		ew.printf("Schedule: %g qps asked, %.2f %% achieved; start lag p50 %.3f ms, p99 %.3f ms, max %.3f ms; the generator's own p99 %.3f ms (bound %.3f ms)",
			s.QPS, 100*s.AchievedRatio, s.StartLagMs.P50, s.StartLagMs.P99, s.StartLagMs.Max, s.OwnLagMs.P99, s.BoundMs)
		if r.GeneratorBehind {
			ew.printf(": BEHIND, latency checks not gradable")
		}
		ew.printf("\n")
	}
	if l := r.IntendedLatencyMs; l != nil {
		ew.printf("Latency from the intended start (coordinated omission corrected): p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; service time p50 %.3f ms, p99 %.3f ms\n",
			l.P50, l.P99, l.P999, l.Max, r.LatencyMs.P50, r.LatencyMs.P99)
	}
}

// writePhases prints a phased run's phases as a table and its time to
// recover.
func writePhases(ew *errWriter, r *Report) {
	if len(r.Phases) == 0 {
		return
	}
	ew.printf("%-9s %15s %9s %11s %10s %10s  %s\n", "phase", "from–to s", "requests", "error ratio", "p50 ms", "p99 ms", "against the baseline")
	for _, p := range r.Phases {
		against := ""
		if d := p.Delta; d != nil {
			against = fmt.Sprintf("error ratio %+.4f (p = %.4f, %s), latency %s", d.ErrorRatio.Delta, d.ErrorRatio.PValue,
				significance(d.ErrorRatio.Significant), significance(d.Latency.Significant))
		}
		ew.printf("%-9s %7.2f–%-7.2f %9d %11.4f %10.3f %10.3f", p.Name, p.StartMs/1000, p.EndMs/1000, p.Requests, p.ErrorRatio, p.LatencyMs.P50, p.LatencyMs.P99)
		if against != "" {
			ew.printf("  %s", against)
		}
		ew.printf("\n")
	}
	switch {
	case r.TimeToRecoverMs != nil && r.Recovery != nil:
		ew.printf("Time to recover: %.2f s after the fault phase (first %g s window with error ratio ≤ %g and p50 ≤ %.3f ms)\n",
			*r.TimeToRecoverMs/1000, r.Recovery.WindowMs/1000, r.Recovery.MaxErrorRatio, r.Recovery.MaxP50Ms)
	case r.Recovery != nil:
		ew.printf("Time to recover: did not recover within the recovery phase (no %g s window with error ratio ≤ %g and p50 ≤ %.3f ms)\n",
			r.Recovery.WindowMs/1000, r.Recovery.MaxErrorRatio, r.Recovery.MaxP50Ms)
	}
}

// CodesSummary renders a code distribution in code order: "200×186 503×214".
func CodesSummary(codes map[string]int64) string {
	parts := make([]string, 0, len(codes))
	for _, c := range sortedCodes(codes) {
		parts = append(parts, fmt.Sprintf("%s×%d", c, codes[c]))
	}
	return strings.Join(parts, " ")
}

func sortedCodes(codes map[string]int64) []string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return keys
}

// errWriter keeps the first write error so printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteComparison prints a comparison as aligned tables: codes, error
// ratio with its test, latency percentiles, proxy counters.
func WriteComparison(w io.Writer, c Comparison) error {
	ew := &errWriter{w: w}
	side := func(s RunSummary) string {
		id := ""
		if s.RunID != 0 {
			id = fmt.Sprintf("run %d, ", s.RunID)
		}
		return fmt.Sprintf("%s%s v%d, %s/%s, %d requests at %.1f qps, seed %d", id, s.Experiment, s.Version, s.Status, s.Verdict, s.Requests, s.QPS, s.Seed)
	}
	ew.printf("A: %s\nB: %s\n\n", side(c.A), side(c.B))
	ew.printf("%-8s %10s %10s %9s %9s %9s\n", "code", "A", "B", "A %", "B %", "Δ pts")
	for _, d := range c.Codes {
		ew.printf("%-8s %10d %10d %9.2f %9.2f %+9.2f\n", d.Code, d.A, d.B, 100*d.RatioA, 100*d.RatioB, 100*d.Delta)
	}
	e := c.ErrorRatio
	ew.printf("\nerror ratio %.4f → %.4f (Δ %+.4f), z = %.2f, p = %.4f: %s\n", e.A, e.B, e.Delta, e.Z, e.PValue, significance(e.Significant))
	ew.printf("\n%-8s %12s %12s %12s %9s\n", "latency", "A ms", "B ms", "Δ ms", "change")
	for _, d := range c.Latency.Percentiles {
		ew.printf("%-8s %12.3f %12.3f %+12.3f %+8.1f%%\n", d.Name, d.A, d.B, d.Delta, 100*d.Change)
	}
	ew.printf("distribution: KS D = %.4f against %.4f at 95 %%: %s\n", c.Latency.KS, c.Latency.KSCritical, significance(c.Latency.Significant))
	ew.printf("\n%-18s %10s %10s %10s\n", "proxy counter", "A", "B", "Δ")
	for _, d := range c.Counters {
		ew.printf("%-18s %10.0f %10.0f %+10.0f\n", d.Name, d.A, d.B, d.Delta)
	}
	return ew.err
}

func significance(s bool) string {
	if s {
		return "significant"
	}
	return "not significant"
}
