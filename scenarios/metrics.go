package scenarios

import "slices"

// Metric is one metric a hypothesis check may name: the one list that
// the validator, abort conditions and the mesh checks read, and that the
// report's extractors and the engine's abort watch are tested against.
type Metric struct {
	Name        string
	Unit        string // "ratio" (in [0, 1]), "ms", "requests/s" or "count" (a total over the run)
	Description string
	// Proxy is set for what Faultline's own data plane counts, as opposed
	// to what the load sees: a run on a mesh environment cannot grade it.
	Proxy bool
	// Abort is set for what an abort condition may watch live.
	Abort bool
}

// metrics are listed in the order problems name them; abort conditions'
// metrics keep theirs among them.
var metrics = []Metric{
	{Name: "error_ratio", Unit: "ratio", Description: "share of responses that are not 2xx, socket errors included", Abort: true},
	{Name: "status_ratio", Unit: "ratio", Description: "share of responses with the given status", Abort: true},
	{Name: "requests", Unit: "count", Description: "requests completed"},
	{Name: "qps", Unit: "requests/s", Description: "achieved requests per second", Abort: true},
	{Name: "latency_min", Unit: "ms", Description: "fastest response"},
	{Name: "latency_avg", Unit: "ms", Description: "mean latency"},
	{Name: "latency_p50", Unit: "ms", Description: "median latency", Abort: true},
	{Name: "latency_p75", Unit: "ms", Description: "75th percentile latency"},
	{Name: "latency_p90", Unit: "ms", Description: "90th percentile latency"},
	{Name: "latency_p99", Unit: "ms", Description: "99th percentile latency", Abort: true},
	{Name: "latency_p999", Unit: "ms", Description: "99.9th percentile latency"},
	{Name: "latency_max", Unit: "ms", Description: "slowest response"},
	{Name: "upstream_requests", Unit: "count", Description: "requests the proxy sent upstream", Proxy: true},
	{Name: "retries", Unit: "count", Description: "retries the proxy made", Proxy: true},
	{Name: "timeouts", Unit: "count", Description: "route timeouts (504 UT)", Proxy: true},
	{Name: "overflows", Unit: "count", Description: "circuit-breaker overflows (503 UO)", Proxy: true},
	{Name: "ejections", Unit: "count", Description: "outlier ejections", Proxy: true},
	{Name: "faults_delayed", Unit: "count", Description: "requests delayed by fault injection", Proxy: true},
	{Name: "faults_aborted", Unit: "count", Description: "requests aborted by fault injection", Proxy: true},
	{Name: "mirrored", Unit: "count", Description: "requests mirrored", Proxy: true},
}

// Metrics returns every metric a hypothesis check may name.
func Metrics() []Metric { return slices.Clone(metrics) }

// LookupMetric returns the metric called name, and false when there is
// none.
func LookupMetric(name string) (Metric, bool) {
	i := slices.IndexFunc(metrics, func(m Metric) bool { return m.Name == name })
	if i < 0 {
		return Metric{}, false
	}
	return metrics[i], true
}

// HypothesisMetrics lists the metric names a check may use, sorted.
func HypothesisMetrics() []string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.Name
	}
	slices.Sort(names)
	return names
}

// AbortMetrics lists the metric names an abort condition may watch.
func AbortMetrics() []string {
	var names []string
	for _, m := range metrics {
		if m.Abort {
			names = append(names, m.Name)
		}
	}
	return names
}
