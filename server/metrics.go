package server

import (
	"net/http"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// liveProxies lists the proxies of running runs, by run id, and tells
// the safety lever's state.
type liveProxies interface {
	Proxies() map[int64]*proxy.Proxy
	Lever() store.LeverState
}

// liveEnvironments lists the data planes of the environments, by name.
type liveEnvironments interface {
	Proxies() map[string]*proxy.Proxy
}

// runningGameDays counts the game days running now.
type runningGameDays interface {
	Running() int
}

// metrics exports run and game-day counts, the safety lever's state, and
// the proxy counters of every run, finished and live, under Envoy's stat
// names as Istio's Prometheus integration spells them
// (envoy_cluster_upstream_rq_total{cluster_name="outbound|…"}).
type metrics struct {
	live     liveProxies
	gameDays runningGameDays
	envs     liveEnvironments

	mu            sync.Mutex
	gameDaysEnded map[runstatus.Status]int64 // game-day runs finished, by status
	finished      map[runstatus.Status]int64 // runs finished, by status
	done          map[int64]bool             // finished runs whose proxy may still be listed live
	totals        proxyTotals
}

// proxyTotals accumulates proxy counters across runs.
type proxyTotals struct {
	clusters map[string]map[string]int64 // cluster → stat → value
	flags    map[string]int64
	delays   int64
	aborts   int64
}

func newProxyTotals() proxyTotals {
	return proxyTotals{clusters: map[string]map[string]int64{}, flags: map[string]int64{}}
}

func (t *proxyTotals) add(s *proxy.Stats) {
	for _, c := range s.Clusters {
		m := t.clusters[c.Name]
		if m == nil {
			m = map[string]int64{}
			t.clusters[c.Name] = m
		}
		for k, v := range c.Counters() {
			m[k] += v
		}
	}
	for f, n := range s.ByFlag {
		t.flags[f] += n
	}
	t.delays += s.FaultsDelayed
	t.aborts += s.FaultsAborted
}

func (t *proxyTotals) clone() proxyTotals {
	out := newProxyTotals()
	for c, m := range t.clusters {
		out.clusters[c] = map[string]int64{}
		for k, v := range m {
			out.clusters[c][k] = v
		}
	}
	for f, n := range t.flags {
		out.flags[f] = n
	}
	out.delays, out.aborts = t.delays, t.aborts
	return out
}

func newMetrics(live liveProxies, gameDays runningGameDays, envs liveEnvironments) *metrics {
	return &metrics{live: live, gameDays: gameDays, envs: envs, finished: map[runstatus.Status]int64{}, gameDaysEnded: map[runstatus.Status]int64{},
		done: map[int64]bool{}, totals: newProxyTotals()}
}

// gameDayFinished records a game-day run's end; it is the game-day
// manager's OnFinish hook.
func (m *metrics) gameDayFinished(_ int64, status runstatus.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gameDaysEnded[status]++
}

// runFinished records a run's end; it is the run manager's OnFinish hook.
func (m *metrics) runFinished(id int64, status runstatus.Status, stats *proxy.Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finished[status]++
	m.done[id] = true
	if stats != nil {
		m.totals.add(stats)
	}
}

// handler serves the metrics from a registry of their own.
func (m *metrics) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

var (
	descRunsFinished    = prometheus.NewDesc("faultline_runs_finished_total", "Runs that ended, by status.", []string{"status"}, nil)
	descRunsActive      = prometheus.NewDesc("faultline_runs_active", "Runs with a proxy running now.", nil, nil)
	descGameDaysEnded   = prometheus.NewDesc("faultline_gamedays_finished_total", "Game-day runs that ended, by status.", []string{"status"}, nil)
	descGameDaysRunning = prometheus.NewDesc("faultline_gamedays_running", "Game days running now.", nil, nil)
	descLeverEngaged    = prometheus.NewDesc("faultline_safety_lever_engaged", "1 while the safety lever is engaged, else 0.", nil, nil)
	descFlags           = prometheus.NewDesc("faultline_proxy_response_flags_total", "Proxy responses by Envoy response flag.", []string{"flag", "environment"}, nil)
	descDelays          = prometheus.NewDesc("envoy_http_fault_delays_injected_total", "Requests delayed by fault injection.", []string{"environment"}, nil)
	descAborts          = prometheus.NewDesc("envoy_http_fault_aborts_injected_total", "Requests aborted by fault injection.", []string{"environment"}, nil)
	descEnvUp           = prometheus.NewDesc("faultline_environment_up", "1 for every environment whose data plane is listening.", []string{"environment"}, nil)
	descEnvRequests     = prometheus.NewDesc("envoy_http_downstream_rq_total", "Requests received, by environment and listener.", []string{"environment", "listener"}, nil)
	descEnvTunnels      = prometheus.NewDesc("faultline_environment_tunnels_total", "CONNECT tunnels passed through, by environment.", []string{"environment"}, nil)
	descEdgeRequests    = prometheus.NewDesc("faultline_environment_edge_requests_total", "Requests between services through an environment.", []string{"environment", "source", "destination"}, nil)
	descEdgeErrors      = prometheus.NewDesc("faultline_environment_edge_errors_total", "Failed requests (5xx, resets) between services through an environment.", []string{"environment", "source", "destination"}, nil)
)

// Describe sends nothing: the cluster metrics depend on the runs, so this
// is an unchecked collector.
func (m *metrics) Describe(chan<- *prometheus.Desc) {}

// Collect adds the live proxies' counters to the finished runs' totals.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	live := m.live.Proxies()
	m.mu.Lock()
	totals := m.totals.clone()
	for status, n := range m.finished {
		ch <- prometheus.MustNewConstMetric(descRunsFinished, prometheus.CounterValue, float64(n), string(status))
	}
	for status, n := range m.gameDaysEnded {
		ch <- prometheus.MustNewConstMetric(descGameDaysEnded, prometheus.CounterValue, float64(n), string(status))
	}
	running := 0
	for id, px := range live {
		if m.done[id] {
			continue // already counted in the totals
		}
		running++
		s := px.Stats()
		totals.add(&s)
	}
	for id := range m.done {
		if _, ok := live[id]; !ok {
			delete(m.done, id)
		}
	}
	m.mu.Unlock()

	ch <- prometheus.MustNewConstMetric(descRunsActive, prometheus.GaugeValue, float64(running))
	ch <- prometheus.MustNewConstMetric(descGameDaysRunning, prometheus.GaugeValue, float64(m.gameDays.Running()))
	engaged := 0.0
	if m.live.Lever().Engaged {
		engaged = 1
	}
	ch <- prometheus.MustNewConstMetric(descLeverEngaged, prometheus.GaugeValue, engaged)
	collectProxyTotals(ch, "", totals)
	for name, px := range m.envs.Proxies() {
		st := px.Stats()
		env := newProxyTotals()
		env.add(&st)
		collectProxyTotals(ch, name, env)
		ch <- prometheus.MustNewConstMetric(descEnvUp, prometheus.GaugeValue, 1, name)
		ch <- prometheus.MustNewConstMetric(descEnvTunnels, prometheus.CounterValue, float64(st.Tunnels), name)
		for _, l := range st.Listeners {
			ch <- prometheus.MustNewConstMetric(descEnvRequests, prometheus.CounterValue, float64(l.Requests), name, l.Name)
		}
		for _, e := range px.Graph().Edges {
			ch <- prometheus.MustNewConstMetric(descEdgeRequests, prometheus.CounterValue, float64(e.Requests), name, e.Source, e.Destination)
			ch <- prometheus.MustNewConstMetric(descEdgeErrors, prometheus.CounterValue, float64(e.Errors), name, e.Source, e.Destination)
		}
	}
}

// collectProxyTotals sends proxy counters under Envoy's stat names,
// labelled with the environment they come from ("" for the runs' own
// proxies, summed).
func collectProxyTotals(ch chan<- prometheus.Metric, environment string, totals proxyTotals) {
	ch <- prometheus.MustNewConstMetric(descDelays, prometheus.CounterValue, float64(totals.delays), environment)
	ch <- prometheus.MustNewConstMetric(descAborts, prometheus.CounterValue, float64(totals.aborts), environment)
	for f, n := range totals.flags {
		ch <- prometheus.MustNewConstMetric(descFlags, prometheus.CounterValue, float64(n), f, environment)
	}
	clusters := make([]string, 0, len(totals.clusters))
	for c := range totals.clusters {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	for _, c := range clusters {
		for stat, v := range totals.clusters[c] {
			s := proxy.ClusterStat(c, stat, v)
			names, values := clusterLabels(s.Labels)
			kind := prometheus.CounterValue
			if s.Gauge {
				kind = prometheus.GaugeValue
			}
			desc := prometheus.NewDesc(s.PromName, "Envoy cluster stat "+s.PromName+", summed over runs (environment=\"\") or of one environment's data plane.", append(names, "environment"), nil)
			ch <- prometheus.MustNewConstMetric(desc, kind, float64(v), append(values, environment)...)
		}
	}
}

// clusterLabels are the label names and values of a cluster stat. A
// metric family keeps one set of label names, so a stat that Istio's
// tags split by response_code or by response_code_class
// (envoy_cluster_upstream_rq) carries both, the other one empty.
func clusterLabels(labels []proxy.Label) (names, values []string) {
	coded := false
	for _, l := range labels {
		coded = coded || l.Name == proxy.LabelResponseCode || l.Name == proxy.LabelResponseCodeClass
	}
	if coded {
		names, values = []string{proxy.LabelResponseCode, proxy.LabelResponseCodeClass}, []string{"", ""}
	}
	for _, l := range labels {
		switch l.Name {
		case proxy.LabelResponseCode:
			values[0] = l.Value
		case proxy.LabelResponseCodeClass:
			values[1] = l.Value
		default:
			names, values = append(names, l.Name), append(values, l.Value)
		}
	}
	return names, values
}
