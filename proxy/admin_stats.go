package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stat is one of Envoy's stats: its name as the admin /stats view (and
// `pilot-agent request GET stats`) prints it, its value, and its
// Prometheus name and labels as Istio's stats tags split it.
type Stat struct {
	// Name is the full stat name:
	// "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow".
	Name  string
	Value int64
	// Gauge is set for Envoy's gauges (upstream_rq_active, …); the rest
	// are counters.
	Gauge bool
	// PromName and Labels are the Prometheus name and labels:
	// envoy_cluster_upstream_rq_pending_overflow{cluster_name="outbound|…"}.
	PromName string
	Labels   []Label
}

// Label is a Prometheus label.
type Label struct{ Name, Value string }

// Istio's stats tags (the stats_tags of its Envoy bootstrap, with
// use_all_default_tags off): the tag names a stat's name parts become.
const (
	LabelClusterName       = "cluster_name"
	LabelHTTPPrefix        = "http_conn_manager_prefix"
	LabelTCPPrefix         = "tcp_prefix"
	LabelResponseCode      = "response_code"
	LabelResponseCodeClass = "response_code_class"
)

// gaugeStats are the stats Envoy declares as gauges, by their name after
// the cluster or listener prefix.
var gaugeStats = map[string]bool{
	"upstream_rq_active": true, "upstream_cx_active": true, "upstream_rq_pending_active": true,
	"membership_total": true, "membership_healthy": true,
	"circuit_breakers.default.cx_open": true, "circuit_breakers.default.rq_pending_open": true,
	"circuit_breakers.default.rq_open": true, "circuit_breakers.default.rq_retry_open": true,
	"outlier_detection.ejections_active": true,
	"downstream_rq_active":               true,
}

// codeTag is Istio's response_code and response_code_class tags:
// "…_rq_200" → "…_rq" with response_code="200", "…_rq_2xx" → "…_rq" with
// response_code_class="2xx".
var codeTag = regexp.MustCompile(`_rq_(\d{3}|\dxx)$`)

// ClusterStat is stat (upstream_rq_pending_overflow, upstream_rq_200,
// retry.upstream_rq_503, …) of cluster, named as Envoy and Istio name it.
func ClusterStat(cluster, stat string, value int64) Stat {
	return newStat("cluster", cluster, LabelClusterName, stat, value)
}

// ListenerStat is stat of a listener's counters (ListenerStats' JSON
// names): http.<listener>.<stat>, or tcp.<listener>.<stat> for the
// tcp.-prefixed ones.
func ListenerStat(listener, stat string, value int64) Stat {
	if rest, ok := strings.CutPrefix(stat, "tcp."); ok {
		return newStat("tcp", listener, LabelTCPPrefix, rest, value)
	}
	return newStat("http", listener, LabelHTTPPrefix, stat, value)
}

func newStat(root, prefix, prefixLabel, stat string, value int64) Stat {
	s := Stat{Name: root + "." + prefix + "." + stat, Value: value, Gauge: gaugeStats[stat]}
	base := stat
	if m := codeTag.FindStringSubmatchIndex(stat); m != nil {
		code := stat[m[2]:m[3]]
		base = stat[:m[0]] + "_rq"
		tag := LabelResponseCode
		if strings.HasSuffix(code, "xx") {
			tag = LabelResponseCodeClass
		}
		s.Labels = append(s.Labels, Label{tag, code})
	}
	s.Labels = append(s.Labels, Label{prefixLabel, prefix})
	s.PromName = "envoy_" + root + "_" + promSanitize(base)
	return s
}

// promSanitize turns an Envoy stat name into a Prometheus name part, as
// Envoy does: every character outside [a-zA-Z0-9_] becomes '_'.
func promSanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// EnvoyStats lists p's listener, cluster and server counters and gauges
// under Envoy's names, sorted by name as the admin /stats view prints
// them: http.<listener>.* for an HTTP listener, tcp.<listener>.* for one
// that proxies connections (TCP, or TLS passed through),
// cluster.<cluster>.* for every cluster, server.* (serverStats).
// Histograms are listed by EnvoyHistograms.
func (p *Proxy) EnvoyStats() []Stat {
	l4 := map[string]bool{}
	for _, l := range p.Listeners() {
		l4[l.Name] = l.Protocol == ProtocolTCP || l.Protocol == ProtocolTLS
	}
	s := p.Stats()
	var out []Stat
	for _, l := range s.Listeners {
		for name, v := range l.counters(l4[l.Name]) {
			out = append(out, ListenerStat(l.Name, name, v))
		}
	}
	for _, c := range s.Clusters {
		for name, v := range c.Counters() {
			out = append(out, ClusterStat(c.Name, name, v))
		}
	}
	out = append(out, p.serverStats()...)
	slices.SortFunc(out, func(a, b Stat) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// counters flattens a listener's counters under Envoy's names: the tcp.*
// ones of a listener that proxies connections, the http.* ones of the
// others.
func (l ListenerStats) counters(l4 bool) map[string]int64 {
	if l4 {
		return map[string]int64{
			"tcp.downstream_cx_total": l.TCPConnections, "tcp.downstream_cx_no_route": l.TCPNoRoute,
			"tcp.downstream_cx_rx_bytes_total": l.TCPBytesReceived, "tcp.downstream_cx_tx_bytes_total": l.TCPBytesSent,
			"tcp.idle_timeout": l.TCPIdleTimeouts, "tcp.max_downstream_connection_duration": l.TCPMaxDuration,
		}
	}
	return map[string]int64{
		"downstream_rq_total": l.Requests, "downstream_rq_active": l.Active,
		"downstream_rq_1xx": l.Rq1xx, "downstream_rq_2xx": l.Rq2xx, "downstream_rq_3xx": l.Rq3xx,
		"downstream_rq_4xx": l.Rq4xx, "downstream_rq_5xx": l.Rq5xx,
		"no_route": l.NoRoute, "no_cluster": l.NoCluster, "block_all": l.BlockAll,
		"rq_redirect": l.Redirects, "rq_direct_response": l.DirectResponses,
		"fault.delays_injected": l.DelaysInjected, "fault.aborts_injected": l.AbortsInjected,
		"downstream_cx_destroy_remote_active_rq": l.ClientCancelled,
	}
}

// writeStatsText writes stats as Envoy's /stats does: "name: value", one
// a line, in order; then each histogram as
// "name: P0(interval,cumulative) P25(…) … P100(…)", or
// "name: No recorded values" before its first value.
func writeStatsText(w io.Writer, stats []Stat, hists []HistogramStat) error {
	var b []byte
	for _, s := range stats {
		b = append(b, s.Name...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, s.Value, 10)
		b = append(b, '\n')
	}
	for _, h := range hists {
		b = append(b, h.Name...)
		if h.Count == 0 {
			b = append(b, ": No recorded values\n"...)
			continue
		}
		b = append(b, ':')
		for i, v := range h.Quantiles() {
			b = append(b, " P"...)
			b = appendFloat(b, SupportedQuantiles[i]*100)
			// Faultline keeps no stats flush interval: the interval
			// quantiles are nan, as Envoy prints them for an interval
			// without values.
			b = append(b, "(nan,"...)
			b = appendFloat(b, v)
			b = append(b, ')')
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// appendFloat formats v as Envoy's fmt does by default: the shortest
// decimal that reads back as v, without an exponent; nan for NaN.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) {
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// writeStatsJSON writes /stats?format=json as Envoy does:
// {"stats":[{"name":…,"value":…},…,{"histograms":{"supported_quantiles":[0,25,…,100],
// "computed_quantiles":[{"name":…,"values":[{"cumulative":…,"interval":null},…]}]}}]},
// the histograms entry only when there are histograms; a quantile
// without a value is null.
func writeStatsJSON(w io.Writer, stats []Stat, hists []HistogramStat) error {
	type value struct {
		Cumulative *float64 `json:"cumulative"`
		Interval   *float64 `json:"interval"`
	}
	type computed struct {
		Name   string  `json:"name"`
		Values []value `json:"values"`
	}
	type histograms struct {
		SupportedQuantiles []float64  `json:"supported_quantiles"`
		ComputedQuantiles  []computed `json:"computed_quantiles"`
	}
	type stat struct {
		Name  string `json:"name"`
		Value int64  `json:"value"`
	}
	entries := make([]any, 0, len(stats)+1)
	for _, s := range stats {
		entries = append(entries, stat{s.Name, s.Value})
	}
	if len(hists) > 0 {
		hs := histograms{}
		for _, q := range SupportedQuantiles {
			hs.SupportedQuantiles = append(hs.SupportedQuantiles, q*100)
		}
		for _, h := range hists {
			c := computed{Name: h.Name}
			for _, v := range h.Quantiles() {
				var cum *float64
				if !math.IsNaN(v) {
					cum = &v
				}
				c.Values = append(c.Values, value{Cumulative: cum})
			}
			hs.ComputedQuantiles = append(hs.ComputedQuantiles, c)
		}
		entries = append(entries, map[string]histograms{"histograms": hs})
	}
	return json.NewEncoder(w).Encode(map[string][]any{"stats": entries})
}

// writeStatsPrometheus writes stats as Envoy's /stats/prometheus does:
// one "# TYPE" line per metric name, counters before gauges before
// histograms, each sample as name{labels} value; a histogram as its
// cumulative name_bucket{labels,le="…"} at DefaultBuckets and +Inf, then
// name_sum and name_count.
func writeStatsPrometheus(w io.Writer, stats []Stat, hists []HistogramStat) error {
	sorted := slices.Clone(stats)
	slices.SortStableFunc(sorted, func(a, b Stat) int {
		if a.Gauge != b.Gauge {
			if a.Gauge {
				return 1
			}
			return -1
		}
		return strings.Compare(a.PromName, b.PromName)
	})
	var b strings.Builder
	for i, s := range sorted {
		if i == 0 || s.PromName != sorted[i-1].PromName || s.Gauge != sorted[i-1].Gauge {
			kind := "counter"
			if s.Gauge {
				kind = "gauge"
			}
			fmt.Fprintf(&b, "# TYPE %s %s\n", s.PromName, kind)
		}
		b.WriteString(s.PromName)
		b.WriteByte('{')
		writeLabels(&b, s.Labels)
		b.WriteString("} ")
		b.WriteString(strconv.FormatInt(s.Value, 10))
		b.WriteByte('\n')
	}
	hs := slices.Clone(hists)
	slices.SortStableFunc(hs, func(a, b HistogramStat) int { return strings.Compare(a.PromName, b.PromName) })
	for i, h := range hs {
		if i == 0 || h.PromName != hs[i-1].PromName {
			fmt.Fprintf(&b, "# TYPE %s histogram\n", h.PromName)
		}
		buckets := h.Buckets()
		for j := 0; j <= len(buckets); j++ {
			b.WriteString(h.PromName)
			b.WriteString("_bucket{")
			writeLabels(&b, h.Labels)
			if len(h.Labels) > 0 {
				b.WriteByte(',')
			}
			n := h.Count
			if j < len(buckets) {
				b.WriteString(`le="`)
				b.Write(appendFloat(nil, DefaultBuckets[j]))
				b.WriteString(`"} `)
				n = buckets[j]
			} else {
				b.WriteString(`le="+Inf"} `)
			}
			b.WriteString(strconv.FormatInt(n, 10))
			b.WriteByte('\n')
		}
		for _, part := range []struct {
			suffix string
			v      int64
		}{{"_sum", h.Sum}, {"_count", h.Count}} {
			b.WriteString(h.PromName)
			b.WriteString(part.suffix)
			b.WriteByte('{')
			writeLabels(&b, h.Labels)
			b.WriteString("} ")
			b.WriteString(strconv.FormatInt(part.v, 10))
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLabels(b *strings.Builder, labels []Label) {
	for j, l := range labels {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		promEscape.WriteString(b, l.Value)
		b.WriteByte('"')
	}
}

// promEscape escapes a label value as the text format does.
var promEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// HistogramStat is one of Envoy's histograms of milliseconds under its
// stat name, with its Prometheus name and labels as for a Stat.
type HistogramStat struct {
	// Name is the full stat name: "cluster.<cluster>.upstream_rq_time",
	// "http.<listener>.downstream_rq_time".
	Name     string
	PromName string
	Labels   []Label
	Histogram
}

// EnvoyHistograms lists p's histograms, sorted by name:
// http.<listener>.downstream_rq_time for every HTTP listener (each
// request from its arrival to the end of its response, injected delays
// included), and cluster.<cluster>.upstream_rq_time for every cluster
// that relayed an upstream response (from the router's start, after the
// fault stage, to the end of the response; retries included; local
// replies and shadows not charged), created with its first value as
// Envoy creates it.
func (p *Proxy) EnvoyHistograms() []HistogramStat {
	l4 := map[string]bool{}
	for _, l := range p.Listeners() {
		l4[l.Name] = l.Protocol == ProtocolTCP || l.Protocol == ProtocolTLS
	}
	r := p.reg
	r.mu.Lock()
	var out []HistogramStat
	for name, l := range r.listeners {
		if !l4[name] {
			out = append(out, histogramStat(ListenerStat(name, "downstream_rq_time", 0), l.rqTime.snapshot()))
		}
	}
	for name, c := range r.clusters {
		if h := c.rqTime.snapshot(); h.Count > 0 {
			out = append(out, histogramStat(ClusterStat(name, "upstream_rq_time", 0), h))
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b HistogramStat) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func histogramStat(s Stat, h Histogram) HistogramStat {
	return HistogramStat{Name: s.Name, PromName: s.PromName, Labels: s.Labels, Histogram: h}
}

// serverStats are Envoy's server.* gauges, named as Envoy names them
// (envoy_server_live{} in Prometheus, without labels): live 1, state 0
// (LIVE), uptime (seconds since the Proxy was made), concurrency
// (GOMAXPROCS, Go's count of threads running Go code at once),
// memory_allocated (the Go heap's live objects, bytes), memory_heap_size
// (the heap the Go runtime holds from the OS), memory_physical_size (all
// the memory the Go runtime holds), total_connections (the downstream
// connections open now), parent_connections and hot_restart_epoch 0 (no
// hot restart), and version: the first six hex digits of the build's VCS
// revision as a number, as Envoy derives it from its SCM revision, 0
// when the binary records none. The memory gauges are the whole
// process's.
func (p *Proxy) serverStats() []Stat {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	v := func(i int) int64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(samples[i].Value.Uint64())
	}
	gauges := []struct {
		name string
		v    int64
	}{
		{"live", 1},
		{"state", 0},
		{"uptime", int64(time.Since(p.reg.born) / time.Second)},
		{"concurrency", int64(runtime.GOMAXPROCS(0))},
		{"memory_allocated", v(0)},
		{"memory_heap_size", v(0) + v(1) + v(2) + v(3)},
		{"memory_physical_size", v(4) - v(3)},
		{"total_connections", p.reg.downstreamConns.Load() + p.reg.tunnels.active.Load()},
		{"parent_connections", 0},
		{"hot_restart_epoch", 0},
		{"version", serverVersion()},
	}
	out := make([]Stat, len(gauges))
	for i, g := range gauges {
		out[i] = Stat{Name: "server." + g.name, Value: g.v, Gauge: true, PromName: "envoy_server_" + g.name}
	}
	return out
}

// serverVersion is server.version: the first six hex digits of the
// build's vcs.revision as a number (Envoy's reading of its SCM
// revision), 0 without one.
var serverVersion = sync.OnceValue(func() int64 {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return 0
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 6 {
			n, err := strconv.ParseInt(s.Value[:6], 16, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
})
