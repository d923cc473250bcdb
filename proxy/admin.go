package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// hostRequests count an endpoint's HTTP attempts as each ends, for the
// per-host lines of /clusters (Envoy's host stats rq_total, rq_success,
// rq_error, rq_timeout): a response under 500 is a success; a 5xx, a
// connect failure, a reset or a timeout an error. An attempt whose client
// went away counts in the total only; attempts in flight are rq_active.
type hostRequests struct {
	total, success, errors, timeouts atomic.Int64
}

func (h *hostRequests) response(code int) {
	h.total.Add(1)
	if code >= 500 {
		h.errors.Add(1)
	} else {
		h.success.Add(1)
	}
}

func (h *hostRequests) failure(timeout, clientGone bool) {
	h.total.Add(1)
	switch {
	case timeout:
		h.timeouts.Add(1)
		h.errors.Add(1)
	case !clientGone:
		h.errors.Add(1)
	}
}

// hostConns count an endpoint address's upstream connections for the
// per-host lines of /clusters (Envoy's host stats cx_total, cx_active,
// cx_connect_fail): every connection opened to it, those open now, and
// the connects that failed (a dial cancelled because nobody wanted its
// connection any more is not a failure).
type hostConns struct {
	total, active, connectFail atomic.Int64
}

func (h *hostConns) opened() {
	h.total.Add(1)
	h.active.Add(1)
}

// adminViews are the read-only views Admin serves, as Envoy's admin
// interface lists them.
var adminViews = []struct{ path, help string }{
	{"/clusters", "upstream cluster status: per host, Envoy's cluster::host::stat::value lines (param: format=json)"},
	{"/config_dump", "the compiled listeners, virtual hosts, routes and clusters as JSON (docs/istio.md, Admin views)"},
	{"/stats", "the proxy's counters and gauges as name: value, then its histograms' quantiles (params: filter=REGEX, usedonly, type=Counters|Gauges|Histograms, format=json|prometheus)"},
	{"/stats/prometheus", "the same in Prometheus text format, under Istio's stats tags (params: filter=REGEX, usedonly, type)"},
}

// Admin serves Envoy's admin views of p, read-only, from p's live
// counters, histograms and current table: / lists them, /stats (text or
// format=json), /stats/prometheus, /clusters (text or format=json) and
// /config_dump. It answers GET and HEAD only; a write
// Envoy's admin would accept (POST /quitquitquit, /reset_counters…) is
// refused with 405. Counters are atomics, read through the registry's
// snapshot; the one lock a view shares with requests is an outlier
// detector's, held briefly by /clusters to read which hosts are ejected
// and taken by a request only when it ejects one.
func (p *Proxy) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("admin commands are:\n")
		for _, v := range adminViews {
			fmt.Fprintf(&b, "  %s: %s\n", v.path, v.help)
		}
		writeText(w, b.String())
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		stats, hists, err := p.adminStats(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Query().Get("format") {
		case "prometheus":
			servePrometheus(w, stats, hists)
		case "json":
			w.Header().Set("Content-Type", "application/json")
			_ = writeStatsJSON(w, stats, hists)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_ = writeStatsText(w, stats, hists)
		}
	})
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, r *http.Request) {
		stats, hists, err := p.adminStats(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		servePrometheus(w, stats, hists)
	})
	mux.HandleFunc("/clusters", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			_ = p.writeClustersJSON(w)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_ = p.writeClusters(w)
	})
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = p.writeConfigDump(w)
	})
	return readOnly(mux)
}

// readOnly refuses every method but GET and HEAD.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the admin views are read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = io.WriteString(w, s)
}

func servePrometheus(w http.ResponseWriter, stats []Stat, hists []HistogramStat) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=UTF-8")
	_ = writeStatsPrometheus(w, stats, hists)
}

// adminStats are the stats and histograms a /stats request asks for:
// every one, or those whose name the filter regex finds, or (usedonly)
// the stats not zero and the histograms with a value, or (type=Counters,
// Gauges, Histograms or All, as Envoy's type parameter) one kind.
func (p *Proxy) adminStats(r *http.Request) ([]Stat, []HistogramStat, error) {
	stats, hists := p.EnvoyStats(), p.EnvoyHistograms()
	q := r.URL.Query()
	if f := q.Get("filter"); f != "" {
		re, err := regexp.Compile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("filter: %v", err)
		}
		stats = slices.DeleteFunc(stats, func(s Stat) bool { return !re.MatchString(s.Name) })
		hists = slices.DeleteFunc(hists, func(h HistogramStat) bool { return !re.MatchString(h.Name) })
	}
	if q.Has("usedonly") {
		stats = slices.DeleteFunc(stats, func(s Stat) bool { return s.Value == 0 })
		hists = slices.DeleteFunc(hists, func(h HistogramStat) bool { return h.Count == 0 })
	}
	switch t := q.Get("type"); t {
	case "", "All":
	case "Counters", "Gauges":
		stats = slices.DeleteFunc(stats, func(s Stat) bool { return s.Gauge != (t == "Gauges") })
		hists = nil
	case "Histograms":
		stats = nil
	case "TextReadouts":
		stats, hists = nil, nil
	default:
		return nil, nil, fmt.Errorf("type: %q is not All, Counters, Gauges, Histograms or TextReadouts", t)
	}
	return stats, hists, nil
}

// highPriority are the thresholds of Envoy's high routing priority:
// istiod programs the default priority only, so the high one keeps
// Envoy's defaults (1024 connections, pending and active requests, 3
// retries).
var highPriority = [4]int64{1024, 1024, 1024, 3}

// hostView is what /clusters shows of one host.
type hostView struct {
	addr    string
	ejected bool
	// stats are Envoy's host stats, sorted by name as the text view
	// prints them; gauge marks cx_active and rq_active.
	stats [8]hostStat
}

type hostStat struct {
	name  string
	value int64
	gauge bool
}

// clusterView is what /clusters shows of one cluster.
type clusterView struct {
	name       string
	thresholds [4]int64 // max_connections, max_pending_requests, max_requests, max_retries
	outlier    bool
	hosts      []hostView
}

// clusterViews reads the clusters of the current table for /clusters,
// sorted by name.
func (p *Proxy) clusterViews() []clusterView {
	t := p.Table()
	if t == nil {
		return nil
	}
	var out []clusterView
	for _, name := range t.ClusterNames() {
		rt := t.clusters[name].rt
		pool := rt.pool
		v := clusterView{
			name:       name,
			thresholds: [4]int64{pool.maxConnections, pool.maxPending, pool.maxRequests, pool.maxRetries},
			outlier:    rt.outlier != nil,
		}
		ejected := rt.ejected()
		for _, ep := range rt.endpoints {
			rq, cx := &ep.host.rq, &ep.pool.cx
			v.hosts = append(v.hosts, hostView{addr: ep.addr, ejected: ejected[ep], stats: [8]hostStat{
				{"cx_active", cx.active.Load(), true},
				{"cx_connect_fail", cx.connectFail.Load(), false},
				{"cx_total", cx.total.Load(), false},
				{"rq_active", ep.active.Load(), true},
				{"rq_error", rq.errors.Load(), false},
				{"rq_success", rq.success.Load(), false},
				{"rq_timeout", rq.timeouts.Load(), false},
				{"rq_total", rq.total.Load(), false},
			}})
		}
		out = append(out, v)
	}
	return out
}

// writeClusters writes Envoy's /clusters text, one cluster::…::value a
// line. Per cluster of the current table: observability_name, with
// outlier detection its success-rate lines (-1: Faultline runs no
// success-rate detector), the thresholds of the default and the high
// priority, added_via_api; then per host (cluster::address::stat::value)
// its connections (hostConns: cx_active, cx_connect_fail, cx_total) and
// attempts (hostRequests: rq_active, rq_error, rq_success, rq_timeout,
// rq_total), its health flags, weight, locality, canary, priority and
// success rates.
func (p *Proxy) writeClusters(w io.Writer) error {
	var b strings.Builder
	for _, c := range p.clusterViews() {
		line := func(parts ...string) {
			b.WriteString(c.name)
			for _, s := range parts {
				b.WriteString("::")
				b.WriteString(s)
			}
			b.WriteByte('\n')
		}
		line("observability_name", c.name)
		if c.outlier {
			for _, s := range []string{"success_rate_average", "success_rate_ejection_threshold", "local_origin_success_rate_average", "local_origin_success_rate_ejection_threshold"} {
				line("outlier", s, "-1")
			}
		}
		for _, pr := range []struct {
			name string
			th   [4]int64
		}{{"default_priority", c.thresholds}, {"high_priority", highPriority}} {
			for i, th := range []string{"max_connections", "max_pending_requests", "max_requests", "max_retries"} {
				line(pr.name, th, strconv.FormatInt(pr.th[i], 10))
			}
		}
		line("added_via_api", "true")
		for _, h := range c.hosts {
			for _, st := range h.stats {
				line(h.addr, st.name, strconv.FormatInt(st.value, 10))
			}
			health := "healthy"
			if h.ejected {
				health = "/failed_outlier_check"
			}
			for _, kv := range [][2]string{
				{"hostname", ""},
				{"health_flags", health},
				{"weight", "1"},
				{"region", ""}, {"zone", ""}, {"sub_zone", ""},
				{"canary", "false"},
				{"priority", "0"},
				{"success_rate", "-1"},
				{"local_origin_success_rate", "-1"},
			} {
				line(h.addr, kv[0], kv[1])
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The JSON of /clusters?format=json: Envoy's admin.v3.Clusters message
// as its proto3 JSON mapping prints it (fields in proto order, zero
// values left out, 64-bit counters as strings).
type (
	clustersJSON struct {
		ClusterStatuses []clusterStatusJSON `json:"cluster_statuses"`
	}
	clusterStatusJSON struct {
		Name              string              `json:"name"`
		AddedViaAPI       bool                `json:"added_via_api,omitempty"`
		HostStatuses      []hostStatusJSON    `json:"host_statuses,omitempty"`
		CircuitBreakers   circuitBreakersJSON `json:"circuit_breakers"`
		ObservabilityName string              `json:"observability_name,omitempty"`
	}
	circuitBreakersJSON struct {
		Thresholds []thresholdsJSON `json:"thresholds"`
	}
	thresholdsJSON struct {
		Priority           string `json:"priority,omitempty"`
		MaxConnections     int64  `json:"max_connections"`
		MaxPendingRequests int64  `json:"max_pending_requests"`
		MaxRequests        int64  `json:"max_requests"`
		MaxRetries         int64  `json:"max_retries"`
	}
	hostStatusJSON struct {
		Address      addressJSON    `json:"address"`
		Stats        []simpleMetric `json:"stats"`
		HealthStatus hostHealthJSON `json:"health_status"`
		Weight       int            `json:"weight"`
		Locality     struct{}       `json:"locality"`
	}
	addressJSON struct {
		SocketAddress struct {
			Address   string `json:"address"`
			PortValue int    `json:"port_value,omitempty"`
		} `json:"socket_address"`
	}
	simpleMetric struct {
		Type  string `json:"type,omitempty"`
		Value string `json:"value,omitempty"`
		Name  string `json:"name"`
	}
	hostHealthJSON struct {
		FailedOutlierCheck bool   `json:"failed_outlier_check,omitempty"`
		EDSHealthStatus    string `json:"eds_health_status"`
	}
)

// writeClustersJSON writes /clusters?format=json: per cluster its name,
// added_via_api, per host its address, stats (counters, then the
// cx_active and rq_active gauges), health (failed_outlier_check while
// ejected), weight and locality, the thresholds of both priorities and
// observability_name; indented by one space, as Envoy prints it.
func (p *Proxy) writeClustersJSON(w io.Writer) error {
	out := clustersJSON{ClusterStatuses: []clusterStatusJSON{}}
	for _, c := range p.clusterViews() {
		cs := clusterStatusJSON{Name: c.name, AddedViaAPI: true, ObservabilityName: c.name}
		cs.CircuitBreakers.Thresholds = []thresholdsJSON{
			{MaxConnections: c.thresholds[0], MaxPendingRequests: c.thresholds[1], MaxRequests: c.thresholds[2], MaxRetries: c.thresholds[3]},
			{Priority: "HIGH", MaxConnections: highPriority[0], MaxPendingRequests: highPriority[1], MaxRequests: highPriority[2], MaxRetries: highPriority[3]},
		}
		for _, h := range c.hosts {
			hs := hostStatusJSON{Weight: 1, HealthStatus: hostHealthJSON{FailedOutlierCheck: h.ejected, EDSHealthStatus: "HEALTHY"}}
			host, port, err := net.SplitHostPort(h.addr)
			if err != nil {
				host = h.addr
			}
			hs.Address.SocketAddress.Address = host
			hs.Address.SocketAddress.PortValue, _ = strconv.Atoi(port)
			for _, gauges := range []bool{false, true} {
				for _, st := range h.stats {
					if st.gauge != gauges {
						continue
					}
					m := simpleMetric{Name: st.name}
					if st.gauge {
						m.Type = "GAUGE"
					}
					if st.value != 0 {
						m.Value = strconv.FormatInt(st.value, 10)
					}
					hs.Stats = append(hs.Stats, m)
				}
			}
			cs.HostStatuses = append(cs.HostStatuses, hs)
		}
		out.ClusterStatuses = append(out.ClusterStatuses, cs)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ejected is the set of rt's endpoints outlier detection has ejected now,
// read under the detector's lock (taken by ejections and sweeps, never by
// a request that ejects nothing).
func (rt *clusterRuntime) ejected() map[*endpoint]bool {
	d := rt.outlier
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[*endpoint]bool{}
	for _, ep := range rt.endpoints {
		if ep.host.ejected {
			out[ep] = true
		}
	}
	return out
}
