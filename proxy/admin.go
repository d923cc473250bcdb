package proxy

import (
	"fmt"
	"io"
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
	{"/clusters", "upstream cluster status: per host, Envoy's cluster::host::stat::value lines"},
	{"/config_dump", "the compiled listeners, virtual hosts, routes and clusters as JSON (docs/istio.md, Admin views)"},
	{"/stats", "the proxy's counters and gauges as name: value (params: filter=REGEX, usedonly)"},
	{"/stats/prometheus", "the same in Prometheus text format, under Istio's stats tags (params: filter=REGEX, usedonly)"},
}

// Admin serves Envoy's admin views of p, read-only, from p's live
// counters and current table: / lists them, /stats, /stats/prometheus,
// /clusters and /config_dump. It answers GET and HEAD only; a write
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
		stats, err := p.adminStats(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Query().Get("format") == "prometheus" {
			p.servePrometheus(w, stats)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_ = writeStatsText(w, stats)
	})
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, r *http.Request) {
		stats, err := p.adminStats(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.servePrometheus(w, stats)
	})
	mux.HandleFunc("/clusters", func(w http.ResponseWriter, r *http.Request) {
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

func (p *Proxy) servePrometheus(w http.ResponseWriter, stats []Stat) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=UTF-8")
	_ = writeStatsPrometheus(w, stats)
}

// adminStats are the stats a /stats request asks for: every one, or
// those whose name the filter regex finds, or (usedonly) those not zero.
func (p *Proxy) adminStats(r *http.Request) ([]Stat, error) {
	stats := p.EnvoyStats()
	q := r.URL.Query()
	if f := q.Get("filter"); f != "" {
		re, err := regexp.Compile(f)
		if err != nil {
			return nil, fmt.Errorf("filter: %v", err)
		}
		stats = slices.DeleteFunc(stats, func(s Stat) bool { return !re.MatchString(s.Name) })
	}
	if q.Has("usedonly") {
		stats = slices.DeleteFunc(stats, func(s Stat) bool { return s.Value == 0 })
	}
	return stats, nil
}

// writeClusters writes Envoy's /clusters text: per cluster of the current
// table its circuit-breaker thresholds and, when outlier detection is on,
// its success-rate lines (-1: Faultline runs no success-rate detector),
// then per host its requests (hostRequests), its health flags and its
// weight, each as cluster::host::stat::value. Connections are counted
// per cluster only (/stats), so no per-host cx_* line is printed.
func (p *Proxy) writeClusters(w io.Writer) error {
	t := p.Table()
	if t == nil {
		return nil
	}
	var b strings.Builder
	for _, name := range t.ClusterNames() {
		c := t.clusters[name]
		line := func(parts ...string) {
			b.WriteString(name)
			for _, s := range parts {
				b.WriteString("::")
				b.WriteString(s)
			}
			b.WriteByte('\n')
		}
		rt := c.rt
		line("observability_name", name)
		pool := rt.pool
		for _, th := range []struct {
			name string
			v    int64
		}{{"max_connections", pool.maxConnections}, {"max_pending_requests", pool.maxPending}, {"max_requests", pool.maxRequests}, {"max_retries", pool.maxRetries}} {
			line("default_priority", th.name, strconv.FormatInt(th.v, 10))
		}
		line("added_via_api", "true")
		if rt.outlier != nil {
			for _, s := range []string{"success_rate_average", "success_rate_ejection_threshold", "local_origin_success_rate_average", "local_origin_success_rate_ejection_threshold"} {
				line("outlier", s, "-1")
			}
		}
		ejected := rt.ejected()
		for _, ep := range rt.endpoints {
			health := "healthy"
			if ejected[ep] {
				health = "/failed_outlier_check"
			}
			rq := &ep.host.rq
			for _, kv := range [][2]string{
				{"rq_active", strconv.FormatInt(ep.active.Load(), 10)},
				{"rq_error", strconv.FormatInt(rq.errors.Load(), 10)},
				{"rq_success", strconv.FormatInt(rq.success.Load(), 10)},
				{"rq_timeout", strconv.FormatInt(rq.timeouts.Load(), 10)},
				{"rq_total", strconv.FormatInt(rq.total.Load(), 10)},
				{"hostname", ""},
				{"health_flags", health},
				{"weight", "1"},
				{"region", ""}, {"zone", ""}, {"sub_zone", ""},
				{"canary", "false"},
				{"priority", "0"},
				{"success_rate", "-1"},
				{"local_origin_success_rate", "-1"},
			} {
				line(ep.addr, kv[0], kv[1])
			}
		}
	}
	_, err := io.WriteString(w, b.String())
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
