package loadgen

import (
	"fmt"
	"maps"
	"math"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/fortio/stats"
)

// mergeResults merges the results of the agents' shares of one run into
// one fortio result, exactly: counts, codes, sockets and IP addresses
// summed, histograms merged bucket by bucket (mergeHistograms) and the
// percentiles computed again from the merged latency histogram. The run's
// options are the first agent's with the totals of spec; its duration is
// the longest agent's, and its rate the calls over that duration.
func mergeResults(spec Spec, rs []*fhttp.HTTPRunnerResults) (*fhttp.HTTPRunnerResults, error) {
	divider := spec.Resolution.Seconds()
	if divider == 0 {
		divider = periodic.DefaultRunnerOptions.Resolution
	}
	first := rs[0]
	m := &fhttp.HTTPRunnerResults{
		RunnerResults: periodic.RunnerResults{
			RunType:           first.RunType,
			Labels:            fmt.Sprintf("%d agents", len(rs)),
			StartTime:         first.StartTime,
			RequestedQPS:      "max",
			RequestedDuration: first.RequestedDuration,
			Version:           first.Version,
			Exactly:           spec.Requests,
			Jitter:            first.Jitter,
			Uniform:           first.Uniform,
			NoCatchUp:         first.NoCatchUp,
		},
		HTTPOptions: first.HTTPOptions,
		RetCodes:    make(map[int]int64),
		IPCountMap:  make(map[string]int),
		AbortOn:     first.AbortOn,
	}
	if spec.QPS > 0 {
		m.RequestedQPS = fmt.Sprintf("%.9g", spec.QPS)
	}
	if spec.Requests > 0 {
		m.RequestedDuration = fmt.Sprintf("exactly %d calls", spec.Requests)
	}
	var durations, errs, sizes, headerSizes, connects []*stats.HistogramData
	for _, r := range rs {
		if r.StartTime.Before(m.StartTime) {
			m.StartTime = r.StartTime
		}
		m.ActualDuration = max(m.ActualDuration, r.ActualDuration)
		m.NumThreads += r.NumThreads
		for code, n := range r.RetCodes {
			m.RetCodes[code] += n
		}
		for ip, n := range r.IPCountMap {
			m.IPCountMap[ip] += n
		}
		m.Sockets = append(m.Sockets, r.Sockets...)
		m.SocketCount += r.SocketCount
		durations = append(durations, r.DurationHistogram)
		errs = append(errs, r.ErrorsDurationHistogram)
		sizes = append(sizes, r.Sizes)
		headerSizes = append(headerSizes, r.HeaderSizes)
		connects = append(connects, r.ConnectionStats)
	}
	var err error
	if m.DurationHistogram, err = mergeHistograms(divider, 0, durations, percentiles); err != nil {
		return nil, fmt.Errorf("latency histogram: %w", err)
	}
	if m.ErrorsDurationHistogram, err = mergeHistograms(divider, 0, errs, percentiles); err != nil {
		return nil, fmt.Errorf("error latency histogram: %w", err)
	}
	if d := m.ActualDuration.Seconds(); d > 0 {
		m.ActualQPS = float64(m.DurationHistogram.Count) / d
	}
	// fortio's fixed units for the sizes (httprunner.go) and the run's
	// resolution for connection times. They only describe the run, so a
	// histogram that does not merge is left out rather than failing it.
	m.Sizes, _ = mergeHistograms(100, 0, sizes, nil)
	m.HeaderSizes, _ = mergeHistograms(5, 0, headerSizes, nil)
	m.ConnectionStats, _ = mergeHistograms(divider, 0, connects, nil)
	return m, nil
}

// mergeHistograms merges fortio histograms of one bucket layout (divider
// and offset, as in stats.NewHistogram) bucket by bucket, the way fortio
// merges its connections' histograms: each exported bucket's count goes
// back into the bucket its bounds belong to (fortio's own stats.Histogram,
// fed the bucket's midpoint, as Histogram.copyHDataFrom does), and the
// counters (count, min, max, sum, sum of squares) merge exactly. It refuses
// a histogram whose buckets are not those of the layout, which a merge
// would silently blur, and computes the given percentiles of the merge.
func mergeHistograms(divider, offset float64, in []*stats.HistogramData, percentiles []float64) (*stats.HistogramData, error) {
	merged := stats.NewHistogram(offset, divider)
	var count int64
	var lo, hi, sum, sumSquares float64
	for i, d := range in {
		if d == nil || d.Count == 0 {
			continue
		}
		one := stats.NewHistogram(offset, divider)
		var n int64
		for _, b := range d.Data {
			if b.Count < 0 {
				return nil, fmt.Errorf("histogram %d: a bucket counts %d", i+1, b.Count)
			}
			one.RecordN((b.Start+b.End)/2, int(b.Count))
			n += b.Count
		}
		if n != d.Count {
			return nil, fmt.Errorf("histogram %d: its buckets hold %d values, its count says %d", i+1, n, d.Count)
		}
		one.Min, one.Max = d.Min, d.Max
		if err := sameBuckets(one.Export().Data, d.Data); err != nil {
			return nil, fmt.Errorf("histogram %d is not in buckets of %gs: %w", i+1, divider, err)
		}
		if count == 0 || d.Min < lo {
			lo = d.Min
		}
		if count == 0 || d.Max > hi {
			hi = d.Max
		}
		count += d.Count
		sum += d.Sum
		// fortio exports the standard deviation, not the sum of squares.
		c := float64(d.Count)
		sumSquares += c*d.StdDev*d.StdDev + d.Sum*d.Sum/c
		merged.Transfer(one)
	}
	if count == 0 {
		return stats.NewHistogram(offset, divider).Export(), nil
	}
	// The buckets hold the midpoints; the counters take the exact values.
	merged.Min, merged.Max, merged.Sum = lo, hi, sum
	out := merged.Export()
	c := float64(count)
	out.Avg = sum / c
	out.StdDev = math.Sqrt(max(0, (sumSquares-sum*sum/c)/c))
	return out.CalcPercentiles(percentiles), nil
}

// sameBuckets reports how got (a histogram rebuilt in a known layout)
// differs from want (as an agent exported it). The first bucket starts at
// the minimum and the last ends at the maximum, so those two bounds carry
// no layout; fortio before 1.7x also starts a lone overflow bucket at its
// lower bound rather than at the minimum.
func sameBuckets(got, want []stats.Bucket) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d buckets, not %d", len(want), len(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.Count != w.Count:
			return fmt.Errorf("bucket %d holds %d values, not %d", i+1, w.Count, g.Count)
		case i > 0 && !near(g.Start, w.Start):
			return fmt.Errorf("bucket %d starts at %g, not %g", i+1, w.Start, g.Start)
		case i < len(got)-1 && !near(g.End, w.End):
			return fmt.Errorf("bucket %d ends at %g, not %g", i+1, w.End, g.End)
		}
	}
	return nil
}

// near compares bucket bounds, which went through JSON as decimals.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b), 1e-12)
}

// agentResult is one agent's share as its own result tells it.
func agentResult(url string, spec Spec, r *Result) AgentResult {
	a := AgentResult{
		URL:         url,
		Connections: spec.Connections,
		Requests:    r.Requests,
		Errors:      r.Errors,
		ActualQPS:   r.ActualQPS,
		Codes:       maps.Clone(r.Codes),
		Latency:     r.Latency,
	}
	if spec.Requests == 0 {
		a.Warmup = int64(spec.Connections)
	}
	return a
}

// sumWarmup adds up the agents' warm-up calls.
func sumWarmup(agents []AgentResult) int64 {
	var n int64
	for _, a := range agents {
		n += a.Warmup
	}
	return n
}
