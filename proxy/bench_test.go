package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// Benchmarks compare a request through the mesh listener (real loopback
// sockets, keep-alive on both sides) with the same request sent straight
// to the target. Client, proxy and target share the process, so allocs/op
// counts all three; the proxy's own share is the difference between the
// two. Run without -race:
//
//	go test -run '^$' -bench . -benchtime=2s ./proxy/

var benchBodies = []struct {
	name string
	size int
}{{"0B", 0}, {"1KiB", 1024}}

// benchTarget is a bare net/http handler answering size bytes.
func benchTarget(b *testing.B, size int) *httptest.Server {
	body := []byte(strings.Repeat("x", size))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// run sends GETs in parallel and checks every answer.
func runRequests(b *testing.B, client *http.Client, url, host string, size int) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		for pb.Next() {
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || n != int64(size) {
				b.Errorf("got %d, %d bytes", res.StatusCode, n)
				return
			}
		}
	})
}

// realisticTable is the realistic table of docs/performance.md: ten
// VirtualServices, the hit route behind header matches, with a timeout,
// retries with a per-try timeout and faults configured at 0 %, a
// DestinationRule with subsets, a connection pool and outlier detection
// (limits high enough never to trigger: their hot-path cost is what is
// measured).
func realisticTable(addr string) string {
	var extra []string
	for i := 0; i < 9; i++ {
		extra = append(extra, fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: other%d}
spec:
  hosts: [other%d]
  http:
  - route: [{destination: {host: reviews}}]
`, i, i))
	}
	extra = append(extra, `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {regex: "/admin/.*"}}]
    directResponse: {status: 403}
  - timeout: 10s
    retries: {attempts: 2, perTryTimeout: 5s, retryOn: "gateway-error,connect-failure,refused-stream"}
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 0}}
      abort: {httpStatus: 500, percentage: {value: 0}}
    route: [{destination: {host: reviews, subset: v1}}]
`, `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1000, connectTimeout: 5s}
      http: {http1MaxPendingRequests: 1000, http2MaxRequests: 1000, maxRetries: 100}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`)
	var services strings.Builder
	services.WriteString(svc("reviews", 9080, addr+"@version=v1", addr+"@version=v2"))
	for i := 0; i < 9; i++ {
		services.WriteString(svc(fmt.Sprintf("other%d", i), 9080, addr))
	}
	return experiment(services.String(), extra...)
}

func BenchmarkProxyMesh(b *testing.B) {
	for _, table := range []string{"plain", "realistic"} {
		for _, body := range benchBodies {
			b.Run(table+"/"+body.name, func(b *testing.B) {
				target := benchTarget(b, body.size)
				addr := strings.TrimPrefix(target.URL, "http://")
				src := experiment(svc("reviews", 9080, addr))
				if table == "realistic" {
					src = realisticTable(addr)
				}
				p, err := proxy.Start(context.Background(), parse(b, src), "127.0.0.1:0", nil, proxy.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { p.Close() })
				runRequests(b, benchClient(b), "http://"+p.MeshAddr()+"/get", "reviews:9080", body.size)
			})
		}
	}
}

func BenchmarkDirect(b *testing.B) {
	for _, body := range benchBodies {
		b.Run(body.name, func(b *testing.B) {
			target := benchTarget(b, body.size)
			runRequests(b, benchClient(b), target.URL+"/get", "reviews:9080", body.size)
		})
	}
}

// BenchmarkReverseProxy is the "naïve Go L7 proxy" of docs/performance.md
// in the same run: httputil.ReverseProxy with a tuned Transport, for a
// same-machine ratio.
func BenchmarkReverseProxy(b *testing.B) {
	for _, body := range benchBodies {
		b.Run(body.name, func(b *testing.B) {
			target := benchTarget(b, body.size)
			u, _ := url.Parse(target.URL)
			tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256, DisableCompression: true}
			b.Cleanup(tr.CloseIdleConnections)
			rp := &httputil.ReverseProxy{
				Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
				Transport: tr,
			}
			front := httptest.NewServer(rp)
			b.Cleanup(front.Close)
			runRequests(b, benchClient(b), front.URL+"/get", "reviews:9080", body.size)
		})
	}
}

// BenchmarkServiceGraph is the realistic table's request with
// Options.ServiceGraph off and on: what the graph costs per request.
func BenchmarkServiceGraph(b *testing.B) {
	// off is a run's own proxy; on adds the graph; environment is an
	// environment's data plane at its baseline: the graph and the access
	// log (written where server/manager/environments keeps it, here discarded).
	for _, v := range []struct {
		name      string
		on        bool
		accessLog io.Writer
	}{{"off", false, nil}, {"on", true, nil}, {"environment", true, io.Discard}} {
		on := v.on
		b.Run(v.name, func(b *testing.B) {
			target := benchTarget(b, 0)
			addr := strings.TrimPrefix(target.URL, "http://")
			p, err := proxy.Start(context.Background(), parse(b, realisticTable(addr)), "127.0.0.1:0", nil, proxy.Options{Seed: 1, ServiceGraph: on, AccessLog: v.accessLog})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Close() })
			runRequests(b, benchClient(b), "http://"+p.MeshAddr()+"/get", "reviews:9080", 0)
			if g := p.Graph(); on && (len(g.Edges) != 1 || g.Edges[0].Requests < int64(b.N)) {
				b.Errorf("graph %+v after %d requests", g, b.N)
			}
		})
	}
}
