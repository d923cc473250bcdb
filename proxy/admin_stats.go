package proxy

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// EnvoyStats lists p's listener and cluster counters under Envoy's names,
// sorted by name as the admin /stats view prints them: http.<listener>.*
// for an HTTP listener, tcp.<listener>.* for one that proxies
// connections (TCP, or TLS passed through), cluster.<cluster>.* for every
// cluster.
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
// a line, in order.
func writeStatsText(w io.Writer, stats []Stat) error {
	var b []byte
	for _, s := range stats {
		b = append(b, s.Name...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, s.Value, 10)
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// writeStatsPrometheus writes stats as Envoy's /stats/prometheus does:
// one "# TYPE" line per metric name, counters before gauges, each sample
// as name{labels} value.
func writeStatsPrometheus(w io.Writer, stats []Stat) error {
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
		for j, l := range s.Labels {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Name)
			b.WriteString(`="`)
			promEscape.WriteString(&b, l.Value)
			b.WriteByte('"')
		}
		b.WriteString("} ")
		b.WriteString(strconv.FormatInt(s.Value, 10))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// promEscape escapes a label value as the text format does.
var promEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
