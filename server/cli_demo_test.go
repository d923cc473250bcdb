package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/demo"
)

// syncWriter collects what ServeDemo prints while it runs.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestDemoBookinfoCallsThroughTheProxy runs `faultline demo bookinfo` and a
// proxy whose experiment binds its five services, then asks productpage
// for the page through the mesh: reviews v3 (red stars) must answer, by
// way of the proxy, and ratings too.
func TestDemoBookinfoCallsThroughTheProxy(t *testing.T) {
	// The demo is told the mesh address before the proxy exists, as a
	// user would start them: reserve a loopback port for the mesh.
	reserve, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mesh := reserve.Addr().String()
	reserve.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncWriter{}
	served := make(chan error, 1)
	go func() {
		served <- server.ServeDemo(ctx, "bookinfo", server.DemoOptions{Listen: "127.0.0.1:0", Proxy: mesh, Stdout: out})
	}()
	line := regexp.MustCompile(`demo (\w+) (v\d) on http://(\S+)`)
	var addrs [][]string
	deadline := time.Now().Add(5 * time.Second)
	for len(addrs) < 5 && time.Now().Before(deadline) {
		addrs = line.FindAllStringSubmatch(out.String(), -1)
		time.Sleep(5 * time.Millisecond)
	}
	if len(addrs) != 5 {
		t.Fatalf("demo bookinfo printed:\n%s\nwant productpage, reviews v1-v3 and ratings", out.String())
	}
	if !strings.Contains(out.String(), "through the proxy listener "+mesh) {
		t.Errorf("demo bookinfo does not say which proxy it calls through:\n%s", out.String())
	}
	endpoints := map[string][]string{}
	for _, m := range addrs {
		endpoints[m[1]] = append(endpoints[m[1]], fmt.Sprintf("{address: %s, labels: {version: %s}}", m[3], m[2]))
	}
	src := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: bookinfo}
spec:
  services:
  - {host: productpage, port: 9080, endpoints: [%s]}
  - {host: reviews, port: 9080, endpoints: [%s]}
  - {host: ratings, port: 9080, endpoints: [%s]}
  load: {url: http://productpage:9080/productpage}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v3}}]}]
`, strings.Join(endpoints["productpage"], ", "), strings.Join(endpoints["reviews"], ", "), strings.Join(endpoints["ratings"], ", "))
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.Start(ctx, doc, mesh, nil, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()

	req, err := http.NewRequest(http.MethodGet, "http://"+mesh+"/productpage?json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "productpage:9080"
	req.Header.Set("end-user", "jason")
	res, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var page demo.Page
	if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 {
		t.Fatalf("page = %d %s (%v)", res.StatusCode, body, err)
	}
	if page.ReviewsPod != "reviews-v3" || len(page.Reviews) == 0 || page.Reviews[0].Rating == nil || page.Reviews[0].Rating.Color != "red" {
		t.Errorf("page = %+v, want reviews v3's red stars, through the proxy", page)
	}
	st := px.Stats()
	if c, _ := st.Cluster("outbound|9080||ratings.default.svc.cluster.local"); c.UpstreamRqTotal != 1 {
		t.Errorf("ratings cluster = %+v, want reviews' one call through the proxy", c)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeDemo: %v", err)
	}
}

func TestDemoRefusesUnknownTargetsAndBadAddresses(t *testing.T) {
	if err := server.ServeDemo(t.Context(), "details", server.DemoOptions{Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "unknown target") {
		t.Errorf("demo details: err = %v", err)
	}
	if err := server.ServeDemo(t.Context(), "reviews", server.DemoOptions{Version: "v9", Listen: "127.0.0.1:0", Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "v1, v2 or v3") {
		t.Errorf("demo reviews --version v9: err = %v", err)
	}
	if err := server.ServeDemo(t.Context(), "bookinfo", server.DemoOptions{Listen: "127.0.0.1:65534", Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "consecutive ports") {
		t.Errorf("demo bookinfo on the last ports: err = %v", err)
	}
}
