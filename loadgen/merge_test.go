package loadgen

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"fortio.org/fortio/stats"
)

// roundTrip sends a histogram through JSON, as an agent's result comes.
func roundTrip(t *testing.T, h *stats.HistogramData) *stats.HistogramData {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var out stats.HistogramData
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestMergeHistogramsIsTheHistogramOfAllValues(t *testing.T) {
	const divider = 0.0001 // 100µs, the engine's resolution
	rng := rand.New(rand.NewPCG(1, 2))
	all := stats.NewHistogram(0, divider)
	var parts []*stats.HistogramData
	for _, n := range []int{1, 700, 2000, 0, 35} {
		one := stats.NewHistogram(0, divider)
		for range n {
			// Log-uniform from 20µs to 20s: every bucket kind, the
			// overflow bucket above 10s included.
			v := 20e-6 * math.Pow(1e6, rng.Float64())
			one.Record(v)
			all.Record(v)
		}
		parts = append(parts, roundTrip(t, one.Export().CalcPercentiles(percentiles)))
	}
	got, err := mergeHistograms(divider, 0, parts, percentiles)
	if err != nil {
		t.Fatal(err)
	}
	want := all.Export().CalcPercentiles(percentiles)
	if got.Count != want.Count || got.Min != want.Min || got.Max != want.Max {
		t.Errorf("count, min, max: got %d %g %g, want %d %g %g", got.Count, got.Min, got.Max, want.Count, want.Min, want.Max)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"sum", got.Sum, want.Sum}, {"avg", got.Avg, want.Avg}, {"stddev", got.StdDev, want.StdDev}} {
		if !nearRel(c.got, c.want, 1e-9) {
			t.Errorf("%s: got %g, want %g", c.what, c.got, c.want)
		}
	}
	if len(got.Data) != len(want.Data) {
		t.Fatalf("%d buckets, want %d", len(got.Data), len(want.Data))
	}
	for i := range want.Data {
		g, w := got.Data[i], want.Data[i]
		if g.Count != w.Count || g.Start != w.Start || g.End != w.End || !nearRel(g.Percent, w.Percent, 1e-12) {
			t.Errorf("bucket %d: got %+v, want %+v", i, g, w)
		}
	}
	for i := range want.Percentiles {
		if g, w := got.Percentiles[i], want.Percentiles[i]; g.Percentile != w.Percentile || !nearRel(g.Value, w.Value, 1e-12) {
			t.Errorf("percentile: got %+v, want %+v", g, w)
		}
	}
}

func TestMergeHistogramsRefusesAnotherResolution(t *testing.T) {
	coarse := stats.NewHistogram(0, 0.001)
	for _, v := range []float64{0.0004, 0.0031, 0.0123, 0.25} {
		coarse.Record(v)
	}
	if _, err := mergeHistograms(0.0001, 0, []*stats.HistogramData{coarse.Export()}, nil); err == nil {
		t.Error("a 1ms histogram merged as a 100µs one")
	}
	if _, err := mergeHistograms(0.001, 0, []*stats.HistogramData{coarse.Export()}, nil); err != nil {
		t.Errorf("a 1ms histogram refused at 1ms: %v", err)
	}
}

func TestSplitSpec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     Spec
		n        int
		qps      []float64
		conns    []int
		requests []int64
	}{
		{"defaults: 4 connections over 3", Spec{Duration: time.Second}, 3, []float64{0, 0, 0}, []int{2, 1, 1}, []int64{0, 0, 0}},
		{"a whole rate as whole numbers", Spec{QPS: 100, Connections: 8, Requests: 1000}, 3, []float64{34, 33, 33}, []int{3, 3, 2}, []int64{334, 333, 333}},
		{"a rate below one per agent evenly", Spec{QPS: 2, Connections: 1, Duration: time.Second}, 4, []float64{0.5, 0.5, 0.5, 0.5}, []int{1, 1, 1, 1}, []int64{0, 0, 0, 0}},
		{"a fractional rate evenly", Spec{QPS: 7.5, Duration: time.Second}, 2, []float64{3.75, 3.75}, []int{2, 2}, []int64{0, 0}},
		{"connections lowered to the requests; a single call at max speed", Spec{QPS: 10, Connections: 6, Requests: 4}, 3, []float64{4, 0, 0}, []int{2, 1, 1}, []int64{2, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shares := splitSpec(tc.spec, tc.n)
			for i, s := range shares {
				if s.QPS != tc.qps[i] || s.Connections != tc.conns[i] || s.Requests != tc.requests[i] {
					t.Errorf("agent %d: qps %g, %d connections, %d requests; want %g, %d, %d", i, s.QPS, s.Connections, s.Requests, tc.qps[i], tc.conns[i], tc.requests[i])
				}
				if s.Duration != shares[0].Duration || s.Timeout != DefaultTimeout {
					t.Errorf("agent %d: duration %v, timeout %v", i, s.Duration, s.Timeout)
				}
			}
		})
	}
}

func nearRel(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b)) || a == b
}
