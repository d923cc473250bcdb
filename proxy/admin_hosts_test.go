package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
)

// adminServer serves the proxy's admin views on loopback, as
// `faultline proxy --admin` does.
func adminServer(t *testing.T, p *proxy.Proxy) string {
	t.Helper()
	srv := httptest.NewServer(p.Admin())
	t.Cleanup(srv.Close)
	return srv.URL
}

// adminRead GETs path from an admin server over HTTP.
func adminRead(t *testing.T, base, path string) string {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return string(body)
}

func wantLines(t *testing.T, view, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", view, w, got)
		}
	}
}

// Round robin over two endpoints with a known split: a gets /get, /status/500
// and /get, b gets /get twice; one keep-alive connection each.
func TestAdminClustersCountPerHost(t *testing.T) {
	a, b := newUpstream(t, "a"), newUpstream(t, "b")
	h := start(t, experiment(svc("httpbin", 8000, a.addr(), b.addr()),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
`))
	expect(t, h.get("httpbin:8000", "/get"), 200, "a")
	expect(t, h.get("httpbin:8000", "/get"), 200, "b")
	expect(t, h.get("httpbin:8000", "/status/500"), 500, "")
	expect(t, h.get("httpbin:8000", "/get"), 200, "b")
	expect(t, h.get("httpbin:8000", "/get"), 200, "a")
	admin := adminServer(t, h.p)

	clusters := adminRead(t, admin, "/clusters")
	host := func(addr string, kv ...string) []string {
		var out []string
		for i := 0; i < len(kv); i += 2 {
			out = append(out, httpbinCluster+"::"+addr+"::"+kv[i]+"::"+kv[i+1]+"\n")
		}
		return out
	}
	wantLines(t, "/clusters", clusters, host(a.addr(),
		"cx_active", "1", "cx_connect_fail", "0", "cx_total", "1", "rq_active", "0",
		"rq_error", "1", "rq_success", "2", "rq_timeout", "0", "rq_total", "3",
		"hostname", "", "health_flags", "healthy", "weight", "1", "region", "", "zone", "", "sub_zone", "",
		"canary", "false", "priority", "0", "success_rate", "-1", "local_origin_success_rate", "-1")...)
	wantLines(t, "/clusters", clusters, host(b.addr(),
		"cx_active", "1", "cx_connect_fail", "0", "cx_total", "1",
		"rq_error", "0", "rq_success", "2", "rq_total", "2")...)
	wantLines(t, "/clusters", clusters,
		httpbinCluster+"::high_priority::max_connections::1024\n",
		httpbinCluster+"::high_priority::max_retries::3\n")
	// Envoy's order: the cluster's lines, then per host its stats sorted by
	// name, then hostname … local_origin_success_rate.
	var order []string
	for _, l := range strings.Split(clusters, "\n") {
		if rest, ok := strings.CutPrefix(l, httpbinCluster+"::"+a.addr()+"::"); ok {
			name, _, _ := strings.Cut(rest, "::")
			order = append(order, name)
		}
	}
	if got, want := strings.Join(order, ","), "cx_active,cx_connect_fail,cx_total,rq_active,rq_error,rq_success,rq_timeout,rq_total,hostname,health_flags,weight,region,zone,sub_zone,canary,priority,success_rate,local_origin_success_rate"; got != want {
		t.Errorf("host lines in order %s, want %s", got, want)
	}
	if i, j := strings.Index(clusters, "::added_via_api::"), strings.Index(clusters, "::"+a.addr()+"::"); i < 0 || j < i {
		t.Errorf("host lines before the cluster's:\n%s", clusters)
	}

	var cj struct {
		ClusterStatuses []struct {
			Name            string `json:"name"`
			AddedViaAPI     bool   `json:"added_via_api"`
			CircuitBreakers struct {
				Thresholds []struct {
					Priority       string `json:"priority"`
					MaxConnections int64  `json:"max_connections"`
				} `json:"thresholds"`
			} `json:"circuit_breakers"`
			HostStatuses []struct {
				Address struct {
					SocketAddress struct {
						Address   string `json:"address"`
						PortValue int    `json:"port_value"`
					} `json:"socket_address"`
				} `json:"address"`
				Stats []struct {
					Type  string `json:"type"`
					Value string `json:"value"`
					Name  string `json:"name"`
				} `json:"stats"`
				HealthStatus struct {
					FailedOutlierCheck bool   `json:"failed_outlier_check"`
					EDSHealthStatus    string `json:"eds_health_status"`
				} `json:"health_status"`
				Weight int `json:"weight"`
			} `json:"host_statuses"`
		} `json:"cluster_statuses"`
	}
	raw := adminRead(t, admin, "/clusters?format=json")
	if err := json.Unmarshal([]byte(raw), &cj); err != nil {
		t.Fatalf("/clusters?format=json: %v\n%s", err, raw)
	}
	if len(cj.ClusterStatuses) != 1 || cj.ClusterStatuses[0].Name != httpbinCluster || !cj.ClusterStatuses[0].AddedViaAPI {
		t.Fatalf("/clusters?format=json:\n%s", raw)
	}
	cs := cj.ClusterStatuses[0]
	if th := cs.CircuitBreakers.Thresholds; len(th) != 2 || th[0].Priority != "" || th[0].MaxConnections != 4294967295 || th[1].Priority != "HIGH" || th[1].MaxConnections != 1024 {
		t.Errorf("thresholds: %+v", th)
	}
	if len(cs.HostStatuses) != 2 {
		t.Fatalf("hosts:\n%s", raw)
	}
	ha := cs.HostStatuses[0]
	if got := ha.Address.SocketAddress.Address + ":" + strconv.Itoa(ha.Address.SocketAddress.PortValue); got != a.addr() {
		t.Errorf("first host %s, want %s", got, a.addr())
	}
	stats := map[string]string{}
	for _, s := range ha.Stats {
		stats[s.Name] = s.Type + "=" + s.Value
	}
	for name, want := range map[string]string{
		"cx_total": "=1", "rq_total": "=3", "rq_success": "=2", "rq_error": "=1", "rq_timeout": "=", "cx_connect_fail": "=",
		"cx_active": "GAUGE=1", "rq_active": "GAUGE=",
	} {
		if stats[name] != want {
			t.Errorf("host %s stat %s: %q, want %q (zero values are left out)", a.addr(), name, stats[name], want)
		}
	}
	if ha.HealthStatus.EDSHealthStatus != "HEALTHY" || ha.HealthStatus.FailedOutlierCheck || ha.Weight != 1 {
		t.Errorf("host %s: %+v", a.addr(), ha)
	}
}

// Every connect to a dead endpoint counts as its cx_connect_fail, as the
// cluster's upstream_cx_connect_fail counts them; an ejected host reads
// failed_outlier_check in JSON.
func TestAdminClustersCountConnectFailuresAndEjections(t *testing.T) {
	dead, good := deadAddr(t), newUpstream(t, "good")
	h := start(t, experiment(svc("httpbin", 8000, dead, good.addr()),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`))
	// The first attempt goes to the dead endpoint (round robin from the
	// first), fails to connect, ejects it, and the retry reaches good.
	expect(t, h.get("httpbin:8000", "/get"), 200, "good")
	admin := adminServer(t, h.p)
	cs, _ := h.p.Stats().Cluster(httpbinCluster)
	if cs.UpstreamCxConnectFail != 1 {
		t.Fatalf("upstream_cx_connect_fail %d, want 1", cs.UpstreamCxConnectFail)
	}
	wantLines(t, "/clusters", adminRead(t, admin, "/clusters"),
		httpbinCluster+"::"+dead+"::cx_connect_fail::1\n",
		httpbinCluster+"::"+dead+"::cx_total::0\n",
		httpbinCluster+"::"+dead+"::cx_active::0\n",
		httpbinCluster+"::"+dead+"::rq_error::1\n",
		httpbinCluster+"::"+dead+"::health_flags::/failed_outlier_check\n",
		httpbinCluster+"::"+good.addr()+"::cx_total::1\n",
		httpbinCluster+"::"+good.addr()+"::rq_success::1\n",
		httpbinCluster+"::"+good.addr()+"::health_flags::healthy\n",
	)
	raw := adminRead(t, admin, "/clusters?format=json")
	if !strings.Contains(raw, `"failed_outlier_check": true`) || strings.Count(raw, `"failed_outlier_check"`) != 1 {
		t.Errorf("/clusters?format=json: want the one ejected host failed_outlier_check:\n%s", raw)
	}
}

// A 100 ms delay fault: downstream_rq_time includes it, upstream_rq_time
// (from the router, after the fault stage) does not; every view carries
// the same counts.
func TestAdminHistogramsOfRequestTimes(t *testing.T) {
	up := newUpstream(t, "httpbin")
	h := start(t, experiment(svc("httpbin", 8000, up.addr()),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {delay: {fixedDelay: 100ms, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`))
	born := time.Now()
	const n = 3
	for range n {
		expect(t, h.get("httpbin:8000", "/get"), 200, "httpbin")
	}
	admin := adminServer(t, h.p)
	down, upName := "http.mesh.downstream_rq_time", "cluster."+httpbinCluster+".upstream_rq_time"

	text := adminRead(t, admin, "/stats")
	quantiles := map[string][]float64{}
	line := regexp.MustCompile(`(?m)^(\S+): P0\(nan,([0-9.]+)\) P25\(nan,([0-9.]+)\) P50\(nan,([0-9.]+)\) P75\(nan,([0-9.]+)\) P90\(nan,([0-9.]+)\) P95\(nan,([0-9.]+)\) P99\(nan,([0-9.]+)\) P99\.5\(nan,([0-9.]+)\) P99\.9\(nan,([0-9.]+)\) P100\(nan,([0-9.]+)\)$`)
	for _, m := range line.FindAllStringSubmatch(text, -1) {
		for _, v := range m[2:] {
			f, _ := strconv.ParseFloat(v, 64)
			quantiles[m[1]] = append(quantiles[m[1]], f)
		}
	}
	if len(quantiles[down]) != 10 || len(quantiles[upName]) != 10 {
		t.Fatalf("/stats: want quantile lines for %s and %s:\n%s", down, upName, text)
	}
	if q := quantiles[down]; q[0] < 100 {
		t.Errorf("%s P0 %g: the 100 ms delay is not in it", down, q[0])
	}
	if q := quantiles[upName]; q[9] >= 100 {
		t.Errorf("%s P100 %g: the delay is in it", upName, q[9])
	}
	// Histograms come after every counter and gauge.
	if i, j := strings.Index(text, down+": "), strings.LastIndex(text, "server.version: "); i < j {
		t.Errorf("histograms before the counters:\n%s", text)
	}

	prom := adminRead(t, admin, "/stats/prometheus")
	dl := `http_conn_manager_prefix="mesh"`
	ul := `cluster_name="` + httpbinCluster + `"`
	wantLines(t, "/stats/prometheus", prom,
		"# TYPE envoy_http_downstream_rq_time histogram\n",
		"# TYPE envoy_cluster_upstream_rq_time histogram\n",
		`envoy_http_downstream_rq_time_bucket{`+dl+`,le="0.5"} 0`+"\n",
		`envoy_http_downstream_rq_time_bucket{`+dl+`,le="100"} 0`+"\n",
		`envoy_http_downstream_rq_time_bucket{`+dl+`,le="500"} 3`+"\n",
		`envoy_http_downstream_rq_time_bucket{`+dl+`,le="3600000"} 3`+"\n",
		`envoy_http_downstream_rq_time_bucket{`+dl+`,le="+Inf"} 3`+"\n",
		`envoy_http_downstream_rq_time_count{`+dl+`} 3`+"\n",
		`envoy_cluster_upstream_rq_time_bucket{`+ul+`,le="100"} 3`+"\n",
		`envoy_cluster_upstream_rq_time_count{`+ul+`} 3`+"\n",
	)
	sum := regexp.MustCompile(`envoy_http_downstream_rq_time_sum\{` + dl + `\} (\d+)\n`).FindStringSubmatch(prom)
	if sum == nil {
		t.Fatalf("no downstream_rq_time _sum:\n%s", prom)
	}
	if s, _ := strconv.Atoi(sum[1]); s < n*100 {
		t.Errorf("downstream_rq_time _sum %d, want at least %d", s, n*100)
	}
	if strings.Index(prom, "# TYPE envoy_cluster_upstream_rq_time histogram") < strings.LastIndex(prom, " gauge\n") {
		t.Errorf("histograms before gauges:\n%s", prom)
	}
	les := regexp.MustCompile(`envoy_cluster_upstream_rq_time_bucket\{[^}]*le="([^"]+)"\}`).FindAllStringSubmatch(prom, -1)
	var got []string
	for _, m := range les {
		got = append(got, m[1])
	}
	if want := "0.5,1,5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,300000,600000,1800000,3600000,+Inf"; strings.Join(got, ",") != want {
		t.Errorf("le bounds %s, want %s", strings.Join(got, ","), want)
	}

	var js struct {
		Stats []json.RawMessage `json:"stats"`
	}
	raw := adminRead(t, admin, "/stats?format=json")
	if err := json.Unmarshal([]byte(raw), &js); err != nil {
		t.Fatalf("/stats?format=json: %v\n%s", err, raw)
	}
	values := map[string]int64{}
	var hist struct {
		Histograms struct {
			SupportedQuantiles []float64 `json:"supported_quantiles"`
			ComputedQuantiles  []struct {
				Name   string `json:"name"`
				Values []struct {
					Cumulative *float64 `json:"cumulative"`
					Interval   *float64 `json:"interval"`
				} `json:"values"`
			} `json:"computed_quantiles"`
		} `json:"histograms"`
	}
	for i, e := range js.Stats {
		if i == len(js.Stats)-1 {
			if err := json.Unmarshal(e, &hist); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var s struct {
			Name  string `json:"name"`
			Value int64  `json:"value"`
		}
		if err := json.Unmarshal(e, &s); err != nil || s.Name == "" {
			t.Fatalf("stat %s: %v", e, err)
		}
		values[s.Name] = s.Value
	}
	// The JSON's stats are the text's.
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		name, v, _ := strings.Cut(l, ": ")
		if _, isHist := quantiles[name]; isHist || strings.HasSuffix(l, "No recorded values") {
			continue
		}
		if want, _ := strconv.ParseInt(v, 10, 64); values[name] != want && !strings.HasPrefix(name, "server.") {
			t.Errorf("json %s = %d, text %s", name, values[name], v)
		}
	}
	if values["http.mesh.downstream_rq_total"] != n || values["cluster."+httpbinCluster+".upstream_rq_total"] != n {
		t.Errorf("json: downstream_rq_total %d, upstream_rq_total %d; want %d", values["http.mesh.downstream_rq_total"], values["cluster."+httpbinCluster+".upstream_rq_total"], n)
	}
	hs := hist.Histograms
	if got := hs.SupportedQuantiles; len(got) != 10 || got[0] != 0 || got[1] != 25 || got[7] != 99.5 || got[9] != 100 {
		t.Errorf("supported_quantiles %v", got)
	}
	seen := 0
	for _, c := range hs.ComputedQuantiles {
		want, ok := quantiles[c.Name]
		if !ok {
			continue
		}
		seen++
		if len(c.Values) != 10 {
			t.Fatalf("%s: %d values", c.Name, len(c.Values))
		}
		for i, v := range c.Values {
			if v.Interval != nil || v.Cumulative == nil || *v.Cumulative != want[i] {
				t.Errorf("%s P%g: %+v, want cumulative %g, interval null", c.Name, hs.SupportedQuantiles[i], v, want[i])
			}
		}
	}
	if seen != 2 {
		t.Errorf("json: %d of the 2 histograms:\n%s", seen, raw)
	}

	// server.*: live, and up for at least a second.
	time.Sleep(time.Until(born.Add(1100 * time.Millisecond)))
	server := adminRead(t, admin, "/stats?filter=^server%5C.")
	wantLines(t, "/stats?filter=^server.", server, "server.live: 1\n", "server.state: 0\n", "server.hot_restart_epoch: 0\n")
	for _, g := range []string{"uptime", "concurrency", "memory_allocated", "memory_heap_size", "total_connections"} {
		m := regexp.MustCompile(`(?m)^server\.` + g + `: (\d+)$`).FindStringSubmatch(server)
		if m == nil || m[1] == "0" {
			t.Errorf("server.%s: want a positive value:\n%s", g, server)
		}
	}
	wantLines(t, "/stats/prometheus", adminRead(t, admin, "/stats/prometheus?filter=^server"),
		"# TYPE envoy_server_live gauge\n", "envoy_server_live{} 1\n")

	// usedonly keeps histograms with values; type=Histograms keeps only them.
	only := adminRead(t, admin, "/stats?type=Histograms")
	if strings.Count(only, "\n") != 2 || !strings.HasPrefix(only, upName+": P0(") {
		t.Errorf("/stats?type=Histograms:\n%s", only)
	}
}
