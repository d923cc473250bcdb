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
	for _, c := range r.Hypothesis {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		ew.printf("%s  %s (observed %g)\n", mark, c.Check, c.Observed)
	}
	for _, warn := range r.Warnings {
		ew.printf("warning: %s\n", warn)
	}
	return ew.err
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
