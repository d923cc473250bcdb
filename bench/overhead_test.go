// Package bench measures what Faultline's proxy costs: the same fortio load
// (the project's own loadgen) against the demo httpbin target, sent direct
// and through the proxy's mesh listener, in one process, interleaved.
//
//	go test -run '^$' -bench Overhead -benchtime 3x ./bench/
//
// Each benchmark iteration is one 2-second max-rate fortio run; the
// reported rps metrics are the figures to compare.
package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
)

const table = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: bench}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - address: %s
      labels: {version: v1}
  load: {url: "http://httpbin:8000/status/200"}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - match: [{uri: {prefix: /anything}}]
    route: [{destination: {host: httpbin, subset: v1}}]
  - fault:
      delay: {fixedDelay: 100ms, percentage: {value: 0}}
      abort: {httpStatus: 503, percentage: {value: 0}}
    timeout: 10s
    route: [{destination: {host: httpbin, subset: v1}}]
`

// BenchmarkOverhead runs max-rate fortio load direct and through the mesh
// listener, alternating, and reports requests per second for each and
// their ratio.
func BenchmarkOverhead(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = demo.Serve(ctx, ln, demo.NewHTTPBin(demo.HTTPBinOptions{})) }()
	doc, err := scenarios.Parse([]byte(fmt.Sprintf(table, ln.Addr())))
	if err != nil {
		b.Fatal(err)
	}
	px, err := proxy.Start(ctx, doc, "127.0.0.1:0", nil, proxy.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer px.Close()

	runner := loadgen.NewFortio()
	run := func(url, host string) float64 {
		h := http.Header{}
		if host != "" {
			h.Set("Host", host)
		}
		res, err := runner.Run(ctx, loadgen.Spec{URL: url, Header: h, Connections: 16, Duration: 2 * time.Second, StdClient: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Codes[200] != res.Requests {
			b.Fatalf("codes %v over %d requests", res.Codes, res.Requests)
		}
		return res.ActualQPS
	}
	var direct, proxied float64
	for b.Loop() {
		direct += run("http://"+ln.Addr().String()+"/status/200", "")
		proxied += run("http://"+px.MeshAddr()+"/status/200", "httpbin:8000")
	}
	n := float64(b.N)
	b.ReportMetric(direct/n, "direct-rps")
	b.ReportMetric(proxied/n, "mesh-rps")
	b.ReportMetric(proxied/direct, "mesh/direct")
}
