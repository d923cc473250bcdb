package report

import (
	"math"
	"slices"
	"sort"

	"github.com/faultline/faultline/server/runstatus"
)

// Comparison sets two runs side by side: B against A.
type Comparison struct {
	A RunSummary `json:"a"`
	B RunSummary `json:"b"`
	// Codes lists every status code seen in either run.
	Codes []CodeDelta `json:"codes"`
	// ErrorRatio compares the share of failed requests with a
	// two-proportion z-test.
	ErrorRatio ProportionTest `json:"errorRatio"`
	// Latency compares the percentiles and, on the histograms, the whole
	// distribution (two-sample Kolmogorov–Smirnov).
	Latency  LatencyComparison `json:"latency"`
	Counters []CounterDelta    `json:"counters"`
}

// RunSummary identifies one side of a comparison.
type RunSummary struct {
	RunID      int64            `json:"runId,omitempty"`
	Experiment string           `json:"experiment"`
	Version    int              `json:"experimentVersion,omitempty"`
	Status     runstatus.Status `json:"status"`
	Verdict    string           `json:"verdict"`
	Requests   int64            `json:"requests"`
	QPS        float64          `json:"qps"`
	Seed       int64            `json:"seed"`
}

// CodeDelta is one status code's count and share in both runs.
type CodeDelta struct {
	Code   string  `json:"code"`
	A      int64   `json:"a"`
	B      int64   `json:"b"`
	RatioA float64 `json:"ratioA"`
	RatioB float64 `json:"ratioB"`
	Delta  float64 `json:"delta"`
}

// ProportionTest is a two-proportion z-test at 95 %.
type ProportionTest struct {
	A           float64 `json:"a"`
	B           float64 `json:"b"`
	Delta       float64 `json:"delta"`
	Z           float64 `json:"z"`
	PValue      float64 `json:"pValue"`
	Significant bool    `json:"significant"`
}

// LatencyComparison holds percentile deltas and a distribution test.
type LatencyComparison struct {
	Percentiles []MetricDelta `json:"percentiles"`
	// KS is the Kolmogorov–Smirnov statistic between the two latency
	// distributions (their histograms), with its 95 % critical value.
	KS          float64 `json:"ks"`
	KSCritical  float64 `json:"ksCritical"`
	Significant bool    `json:"significant"`
}

// MetricDelta is one number in both runs.
type MetricDelta struct {
	Name  string  `json:"name"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
	Delta float64 `json:"delta"`
	// Change is Delta relative to A, or 0 when A is 0.
	Change float64 `json:"change"`
}

// CounterDelta is one proxy counter in both runs.
type CounterDelta = MetricDelta

// Compare sets b against a.
func Compare(a, b *Report) Comparison {
	c := Comparison{A: summary(a), B: summary(b)}
	codes := map[string]int64{}
	for k := range a.Codes {
		codes[k] = 0
	}
	for k := range b.Codes {
		codes[k] = 0
	}
	for _, k := range sortedCodes(codes) {
		ra, rb := ratio(a.Codes[k], a.Requests), ratio(b.Codes[k], b.Requests)
		c.Codes = append(c.Codes, CodeDelta{Code: k, A: a.Codes[k], B: b.Codes[k], RatioA: round(ra), RatioB: round(rb), Delta: round(rb - ra)})
	}
	c.ErrorRatio = TwoProportion(a.Errors, a.Requests, b.Errors, b.Requests)
	c.Latency.Percentiles = latencyDeltas(a.LatencyMs, b.LatencyMs)
	c.Latency.KS, c.Latency.KSCritical = KolmogorovSmirnov(a.Histogram, b.Histogram)
	c.Latency.Significant = c.Latency.KSCritical > 0 && c.Latency.KS > c.Latency.KSCritical
	ta, tb := a.Proxy.Totals, b.Proxy.Totals
	for _, n := range []struct {
		name string
		a, b int64
	}{{"upstreamRequests", ta.UpstreamRequests, tb.UpstreamRequests}, {"retries", ta.Retries, tb.Retries},
		{"timeouts", ta.Timeouts, tb.Timeouts}, {"overflows", ta.Overflows, tb.Overflows}, {"ejections", ta.Ejections, tb.Ejections},
		{"faultsDelayed", ta.FaultsDelayed, tb.FaultsDelayed}, {"faultsAborted", ta.FaultsAborted, tb.FaultsAborted},
		{"mirrored", ta.Mirrored, tb.Mirrored}} {
		c.Counters = append(c.Counters, delta(n.name, float64(n.a), float64(n.b)))
	}
	return c
}

// latencyDeltas sets every latency statistic of b beside a's.
func latencyDeltas(la, lb Latency) []MetricDelta {
	var out []MetricDelta
	for _, p := range []struct {
		name string
		a, b float64
	}{{"min", la.Min, lb.Min}, {"avg", la.Avg, lb.Avg}, {"p50", la.P50, lb.P50}, {"p75", la.P75, lb.P75},
		{"p90", la.P90, lb.P90}, {"p99", la.P99, lb.P99}, {"p999", la.P999, lb.P999}, {"max", la.Max, lb.Max}} {
		out = append(out, delta(p.name, p.a, p.b))
	}
	return out
}

func summary(r *Report) RunSummary {
	return RunSummary{RunID: r.RunID, Experiment: r.Experiment, Version: r.ExperimentVersion, Status: r.Status,
		Verdict: r.Verdict, Requests: r.Requests, QPS: r.QPS, Seed: r.Seed}
}

func delta(name string, a, b float64) MetricDelta {
	d := MetricDelta{Name: name, A: round(a), B: round(b), Delta: round(b - a)}
	if a != 0 {
		d.Change = round((b - a) / a)
	}
	return d
}

// TwoProportion tests whether x1/n1 and x2/n2 differ at 95 % (pooled
// two-proportion z-test, two-sided).
func TwoProportion(x1, n1, x2, n2 int64) ProportionTest {
	t := ProportionTest{A: round(ratio(x1, n1)), B: round(ratio(x2, n2))}
	t.Delta = round(t.B - t.A)
	if n1 == 0 || n2 == 0 {
		t.PValue = 1
		return t
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	p := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		t.PValue = 1
		if p1 != p2 {
			t.PValue = 0
		}
	} else {
		t.Z = (p2 - p1) / se
		t.PValue = math.Erfc(math.Abs(t.Z) / math.Sqrt2)
	}
	t.Z, t.PValue = round(t.Z), round(t.PValue)
	t.Significant = t.PValue < 0.05
	return t
}

// KolmogorovSmirnov returns the two-sample KS statistic between two latency
// histograms (the largest gap between their cumulative distributions,
// interpolated linearly inside buckets) and its 95 % critical value
// 1.358·√((n+m)/(n·m)). Both are 0 when a histogram is empty.
func KolmogorovSmirnov(a, b []Bucket) (d, critical float64) {
	na, nb := histCount(a), histCount(b)
	if na == 0 || nb == 0 {
		return 0, 0
	}
	var edges []float64
	for _, h := range [][]Bucket{a, b} {
		for _, bk := range h {
			edges = append(edges, bk.StartMs, bk.EndMs)
		}
	}
	sort.Float64s(edges)
	edges = slices.Compact(edges)
	for _, x := range edges {
		d = math.Max(d, math.Abs(cdf(a, na, x)-cdf(b, nb, x)))
	}
	critical = 1.358 * math.Sqrt(float64(na+nb)/float64(na*nb))
	return round(d), round(critical)
}

func histCount(h []Bucket) int64 {
	var n int64
	for _, b := range h {
		n += b.Count
	}
	return n
}

// cdf is the share of samples at or below x.
func cdf(h []Bucket, n int64, x float64) float64 {
	var below float64
	for _, b := range h {
		switch {
		case x >= b.EndMs:
			below += float64(b.Count)
		case x > b.StartMs && b.EndMs > b.StartMs:
			below += float64(b.Count) * (x - b.StartMs) / (b.EndMs - b.StartMs)
		}
	}
	return below / float64(n)
}
