package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

const httpbinCluster = "outbound|8000||httpbin.default.svc.cluster.local"

// adminGet reads path from the proxy's admin views.
func adminGet(t *testing.T, p *proxy.Proxy, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.Admin().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestAdminViewsCountWhatWasSent(t *testing.T) {
	up := newUpstream(t, "httpbin")
	h := start(t, experiment(svc("httpbin", 8000, up.addr()),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 30s}
`))
	for range 3 {
		expect(t, h.get("httpbin:8000", "/get"), 200, "httpbin")
	}
	expect(t, h.get("httpbin:8000", "/status/503"), 503, "")

	code, stats := adminGet(t, h.p, "GET", "/stats")
	if code != 200 {
		t.Fatalf("/stats: %d", code)
	}
	for _, want := range []string{
		"cluster." + httpbinCluster + ".upstream_rq_pending_overflow: 0\n",
		"cluster." + httpbinCluster + ".upstream_rq_total: 4\n",
		"cluster." + httpbinCluster + ".upstream_rq_200: 3\n",
		"cluster." + httpbinCluster + ".upstream_rq_503: 1\n",
		"cluster." + httpbinCluster + ".upstream_rq_5xx: 1\n",
		"cluster." + httpbinCluster + ".circuit_breakers.default.cx_open: 0\n",
		"http.mesh.downstream_rq_total: 4\n",
		"http.mesh.downstream_rq_2xx: 3\n",
	} {
		if !strings.Contains(stats, want) {
			t.Errorf("/stats lacks %q:\n%s", want, stats)
		}
	}
	// Counters and gauges are sorted by name; histograms follow them.
	lines := strings.Split(strings.TrimSpace(stats), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool {
		return strings.Contains(l, ": P0(") || strings.HasSuffix(l, ": No recorded values")
	})
	for i := 1; i < len(lines); i++ {
		if lines[i-1] >= lines[i] {
			t.Errorf("/stats is not sorted by name: %q before %q", lines[i-1], lines[i])
		}
	}

	_, filtered := adminGet(t, h.p, "GET", "/stats?filter=pending_overflow$")
	if got, want := filtered, "cluster."+httpbinCluster+".upstream_rq_pending_overflow: 0\n"; got != want {
		t.Errorf("/stats?filter: got %q, want %q", got, want)
	}
	if _, used := adminGet(t, h.p, "GET", "/stats?usedonly"); strings.Contains(used, ": 0\n") {
		t.Errorf("/stats?usedonly lists zeros:\n%s", used)
	}

	_, prom := adminGet(t, h.p, "GET", "/stats/prometheus")
	for _, want := range []string{
		"# TYPE envoy_cluster_upstream_rq_pending_overflow counter\n",
		`envoy_cluster_upstream_rq_pending_overflow{cluster_name="` + httpbinCluster + `"} 0` + "\n",
		`envoy_cluster_upstream_rq_total{cluster_name="` + httpbinCluster + `"} 4` + "\n",
		`envoy_cluster_upstream_rq{response_code="200",cluster_name="` + httpbinCluster + `"} 3` + "\n",
		`envoy_cluster_upstream_rq{response_code_class="5xx",cluster_name="` + httpbinCluster + `"} 1` + "\n",
		"# TYPE envoy_cluster_upstream_rq_active gauge\n",
		`envoy_http_downstream_rq_total{http_conn_manager_prefix="mesh"} 4` + "\n",
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
		}
	}
	if strings.Count(prom, "# TYPE envoy_cluster_upstream_rq counter\n") != 1 {
		t.Errorf("/stats/prometheus: want one TYPE line per metric name:\n%s", prom)
	}

	_, clusters := adminGet(t, h.p, "GET", "/clusters")
	for _, want := range []string{
		httpbinCluster + "::default_priority::max_connections::1\n",
		httpbinCluster + "::default_priority::max_pending_requests::1\n",
		httpbinCluster + "::default_priority::max_requests::4294967295\n",
		httpbinCluster + "::outlier::success_rate_average::-1\n",
		httpbinCluster + "::" + up.addr() + "::rq_active::0\n",
		httpbinCluster + "::" + up.addr() + "::rq_total::4\n",
		httpbinCluster + "::" + up.addr() + "::rq_success::3\n",
		httpbinCluster + "::" + up.addr() + "::rq_error::1\n",
		httpbinCluster + "::" + up.addr() + "::rq_timeout::0\n",
		httpbinCluster + "::" + up.addr() + "::health_flags::healthy\n",
		httpbinCluster + "::" + up.addr() + "::weight::1\n",
	} {
		if !strings.Contains(clusters, want) {
			t.Errorf("/clusters lacks %q:\n%s", want, clusters)
		}
	}

	_, dump := adminGet(t, h.p, "GET", "/config_dump")
	var cd proxy.ConfigDump
	if err := json.Unmarshal([]byte(dump), &cd); err != nil {
		t.Fatalf("/config_dump: %v\n%s", err, dump)
	}
	if len(cd.Listeners) != 1 || cd.Listeners[0].Name != "mesh" || !cd.Listeners[0].BlockAll {
		t.Fatalf("listeners: %+v", cd.Listeners)
	}
	var route *proxy.RouteDump
	for _, vh := range cd.Listeners[0].VirtualHosts {
		for _, d := range vh.Domains {
			if d == "httpbin" {
				route = &vh.Routes[0]
			}
		}
	}
	if route == nil {
		t.Fatalf("no virtual host claims httpbin:\n%s", dump)
	}
	if route.Action != "route" || len(route.Route.Clusters) != 1 || route.Route.Clusters[0].Name != httpbinCluster || route.Route.Retry == nil {
		t.Errorf("the default route: %+v", route)
	}
	if len(cd.Clusters) != 1 {
		t.Fatalf("clusters: %+v", cd.Clusters)
	}
	c := cd.Clusters[0]
	if c.Name != httpbinCluster || c.Endpoints[0].Address != up.addr() || c.CircuitBreakers.MaxConnections != 1 || c.OutlierDetection == nil || c.OutlierDetection.Consecutive5xx != 5 {
		t.Errorf("cluster: %+v", c)
	}
}

func TestAdminViewsAreReadOnly(t *testing.T) {
	h := start(t, experiment(svc("httpbin", 8000, deadAddr(t))))
	for _, path := range []string{"/stats", "/clusters", "/reset_counters", "/quitquitquit"} {
		if code, _ := adminGet(t, h.p, "POST", path); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: got %d, want 405", path, code)
		}
	}
	code, index := adminGet(t, h.p, "GET", "/")
	if code != 200 {
		t.Fatalf("/: %d", code)
	}
	for _, view := range []string{"/stats", "/stats/prometheus", "/clusters", "/config_dump"} {
		if !strings.Contains(index, "  "+view+": ") {
			t.Errorf("/ does not list %s:\n%s", view, index)
		}
	}
	if code, _ := adminGet(t, h.p, "GET", "/stats?filter=("); code != http.StatusBadRequest {
		t.Errorf("a bad filter: got %d, want 400", code)
	}
}

func TestClusterStatNames(t *testing.T) {
	for _, tc := range []struct {
		name, stat, wantName string
		wantLabels           []proxy.Label
		gauge                bool
	}{
		{name: "a plain counter keeps its name", stat: "upstream_rq_pending_overflow", wantName: "envoy_cluster_upstream_rq_pending_overflow",
			wantLabels: []proxy.Label{{Name: "cluster_name", Value: httpbinCluster}}},
		{name: "a code becomes response_code", stat: "upstream_rq_503", wantName: "envoy_cluster_upstream_rq",
			wantLabels: []proxy.Label{{Name: "response_code", Value: "503"}, {Name: "cluster_name", Value: httpbinCluster}}},
		{name: "a class becomes response_code_class", stat: "retry.upstream_rq_5xx", wantName: "envoy_cluster_retry_upstream_rq",
			wantLabels: []proxy.Label{{Name: "response_code_class", Value: "5xx"}, {Name: "cluster_name", Value: httpbinCluster}}},
		{name: "dots become underscores", stat: "outlier_detection.ejections_active", wantName: "envoy_cluster_outlier_detection_ejections_active",
			wantLabels: []proxy.Label{{Name: "cluster_name", Value: httpbinCluster}}, gauge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := proxy.ClusterStat(httpbinCluster, tc.stat, 1)
			if got, want := s.Name, "cluster."+httpbinCluster+"."+tc.stat; got != want {
				t.Errorf("name: got %q, want %q", got, want)
			}
			if s.PromName != tc.wantName || s.Gauge != tc.gauge || len(s.Labels) != len(tc.wantLabels) {
				t.Fatalf("got %+v, want %s %v gauge=%v", s, tc.wantName, tc.wantLabels, tc.gauge)
			}
			for i := range s.Labels {
				if s.Labels[i] != tc.wantLabels[i] {
					t.Errorf("labels: got %v, want %v", s.Labels, tc.wantLabels)
				}
			}
		})
	}
}

// A TCP gateway's listener counts under tcp.<listener>.* (no http.*
// stats), and /config_dump shows its weighted tcp route.
func TestAdminViewsOfATCPGateway(t *testing.T) {
	v1, v2 := newTCPEcho(t, "v1"), newTCPEcho(t, "v2")
	h := start(t, tcpEchoShift(v1, v2))
	addr, _ := h.p.GatewayAddr("tcp-echo-gateway", 31400)
	for range 3 {
		if got := exchangeTCP(t, addr, "hi"); !strings.HasSuffix(got, ":hi") {
			t.Fatalf("got %q", got)
		}
	}
	const gw = "tcp-echo-gateway:31400"
	_, stats := adminGet(t, h.p, "GET", "/stats")
	if !strings.Contains(stats, "tcp."+gw+".downstream_cx_total: 3\n") {
		t.Errorf("/stats lacks the gateway's tcp counters:\n%s", stats)
	}
	if strings.Contains(stats, "http."+gw+".") {
		t.Errorf("/stats has http stats for a TCP listener:\n%s", stats)
	}
	_, prom := adminGet(t, h.p, "GET", "/stats/prometheus")
	if want := `envoy_tcp_downstream_cx_total{tcp_prefix="` + gw + `"} 3` + "\n"; !strings.Contains(prom, want) {
		t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
	}
	var cd proxy.ConfigDump
	_, dump := adminGet(t, h.p, "GET", "/config_dump")
	if err := json.Unmarshal([]byte(dump), &cd); err != nil {
		t.Fatal(err)
	}
	if len(cd.Listeners) != 2 || cd.Listeners[1].Name != gw || cd.Listeners[1].L4 == nil || len(cd.Listeners[1].L4.Routes) != 1 {
		t.Fatalf("listeners:\n%s", dump)
	}
	r := cd.Listeners[1].L4.Routes[0]
	if len(r.Matches) != 1 || r.Matches[0].Port != 31400 || len(r.Clusters) != 2 ||
		r.Clusters[0].Name != "outbound|9000|v1|tcp-echo.default.svc.cluster.local" || r.Clusters[0].Weight != 80 || r.Clusters[1].Weight != 20 {
		t.Errorf("the tcp route: %+v", r)
	}
}

// An endpoint outlier detection ejected reads /failed_outlier_check.
func TestAdminClustersShowAnEjectedHost(t *testing.T) {
	bad, good := newUpstream(t, "bad"), newUpstream(t, "good")
	h := start(t, experiment(svc("httpbin", 8000, bad.addr(), good.addr()),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`))
	// Round robin from the first endpoint: the 500 reaches bad, the 200 good.
	expect(t, h.get("httpbin:8000", "/status/500"), 500, "")
	expect(t, h.get("httpbin:8000", "/get"), 200, "good")
	if bad.hits.Load() != 1 || good.hits.Load() != 1 {
		t.Fatalf("hits: bad %d, good %d; want one each", bad.hits.Load(), good.hits.Load())
	}
	_, clusters := adminGet(t, h.p, "GET", "/clusters")
	for _, want := range []string{
		httpbinCluster + "::" + bad.addr() + "::health_flags::/failed_outlier_check\n",
		httpbinCluster + "::" + good.addr() + "::health_flags::healthy\n",
		httpbinCluster + "::" + bad.addr() + "::rq_error::1\n",
		httpbinCluster + "::" + good.addr() + "::rq_success::1\n",
	} {
		if !strings.Contains(clusters, want) {
			t.Errorf("/clusters lacks %q:\n%s", want, clusters)
		}
	}
	_, stats := adminGet(t, h.p, "GET", "/stats?filter=ejections_active")
	if want := "cluster." + httpbinCluster + ".outlier_detection.ejections_active: 1\n"; stats != want {
		t.Errorf("got %q, want %q", stats, want)
	}
}
