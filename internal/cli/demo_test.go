package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
)

// syncWriter collects what serveDemo prints while it runs.
type syncWriter struct {
	mu      sync.Mutex
	b       strings.Builder
	written chan struct{} // a token after each write
}

func newSyncWriter() *syncWriter { return &syncWriter{written: make(chan struct{}, 1)} }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.written <- struct{}{}:
	default: // a token is waiting already
	}
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitFor waits up to 5s for the output to satisfy done, and returns it.
func (w *syncWriter) waitFor(t *testing.T, done func(out string) bool) string {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		if out := w.String(); done(out) {
			return out
		}
		select {
		case <-w.written:
		case <-timeout.C:
			t.Fatalf("demo printed, within 5s:\n%s", w.String())
		}
	}
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
	out := newSyncWriter()
	served := make(chan error, 1)
	go func() {
		served <- serveDemo(ctx, "bookinfo", demoOptions{Listen: "127.0.0.1:0", Proxy: mesh, Stdout: out})
	}()
	// productpage, reviews v1-v3 and ratings, then the proxy line.
	line := regexp.MustCompile(`demo (\w+) (v\d) on http://(\S+)`)
	addrs := line.FindAllStringSubmatch(out.waitFor(t, func(s string) bool { return strings.Contains(s, "proxy listener") }), -1)
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
		t.Errorf("serveDemo: %v", err)
	}
}

func TestDemoRefusesUnknownTargetsAndBadAddresses(t *testing.T) {
	if err := serveDemo(t.Context(), "nope", demoOptions{Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "unknown target") {
		t.Errorf("demo nope: err = %v", err)
	}
	if err := serveDemo(t.Context(), "reviews", demoOptions{Version: "v9", Listen: "127.0.0.1:0", Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "v1, v2 or v3") {
		t.Errorf("demo reviews --version v9: err = %v", err)
	}
	if err := serveDemo(t.Context(), "bookinfo", demoOptions{Listen: "127.0.0.1:65534", Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "consecutive ports") {
		t.Errorf("demo bookinfo on the last ports: err = %v", err)
	}
}

func TestDemoBookinfoServiceRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		demo string
		o    demoOptions
		want string
	}{
		{"--service is a Bookinfo option", "httpbin", demoOptions{Service: "productpage"}, "--service is for bookinfo only"},
		{"an unknown service", "bookinfo", demoOptions{Service: "httpbin"},
			`--service must be one of productpage, details, reviews, ratings, not "httpbin"`},
		{"reviews without a version has no behaviour", "bookinfo", demoOptions{Service: "reviews"}, "--service reviews needs --version v1"},
		{"reviews v4 does not exist", "bookinfo", demoOptions{Service: "reviews", Version: "v4"}, `not "v4"`},
		{"--proxy would be ignored by a service calling by name", "bookinfo", demoOptions{Service: "ratings", Proxy: "127.0.0.1:15001"},
			"with --service, name the forward proxy in HTTP_PROXY"},
		{"a malformed proxy setting is refused before serving", "bookinfo",
			demoOptions{Service: "productpage", OutboundProxy: func(*http.Request) (*url.URL, error) { return nil, errors.New("invalid proxy address") }},
			"the forward proxy for http://details:9080 (HTTP_PROXY, http_proxy): invalid proxy address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Listen, tc.o.Stdout = "127.0.0.1:0", io.Discard
			err := serveDemo(t.Context(), tc.demo, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// startDemoService runs `faultline demo bookinfo --service` with o and
// waits for its address line and one line per service in wantCalls; it
// returns the address and what it prints. The demo stops with the test.
func startDemoService(t *testing.T, o demoOptions, wantCalls ...string) (string, *syncWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := newSyncWriter()
	o.Listen, o.Stdout = "127.0.0.1:0", out
	served := make(chan error, 1)
	go func() { served <- serveDemo(ctx, "bookinfo", o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serveDemo: %v", err)
		}
	})
	// The address line comes first, then one line per service it calls.
	line := regexp.MustCompile(`demo ` + o.Service + ` v\d on http://(\S+)\n`)
	m := line.FindStringSubmatch(out.waitFor(t, func(s string) bool {
		return line.MatchString(s) && strings.Count(s, "\n") > len(wantCalls)
	}))
	return m[1], out
}

// TestDemoBookinfoServiceCallsByNameThroughTheProxy runs productpage as
// `faultline demo bookinfo --service productpage` would, its calls going
// through a forward proxy that answers for details and reviews itself:
// the page must carry both, and the proxy must have seen each call by name
// with the end-user header.
func TestDemoBookinfoServiceCallsByNameThroughTheProxy(t *testing.T) {
	details := demo.NewDetailsService(demo.BookinfoOptions{})
	reviews, err := demo.NewReviews(demo.BookinfoOptions{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var received []string
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.RequestURI+" end-user="+r.Header.Get("End-User"))
		mu.Unlock()
		switch r.Host {
		case "details:9080":
			details.ServeHTTP(w, r)
		case "reviews:9080":
			reviews.ServeHTTP(w, r)
		default:
			http.Error(w, "no route", http.StatusNotFound)
		}
	}))
	defer fwd.Close()
	fwdURL, err := url.Parse(fwd.URL)
	if err != nil {
		t.Fatal(err)
	}

	calls := []string{"details", "reviews", "ratings"}
	addr, out := startDemoService(t, demoOptions{Service: "productpage", OutboundProxy: http.ProxyURL(fwdURL)}, calls...)
	for _, want := range calls {
		if line := "calls to http://" + want + ":9080 go through the proxy " + fwd.URL + "\n"; !strings.Contains(out.String(), line) {
			t.Errorf("demo printed:\n%s\nwant %q", out, line)
		}
	}

	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/productpage?json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("End-User", "jason")
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var page demo.Page
	if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 {
		t.Fatalf("page = %d %s (%v)", res.StatusCode, body, err)
	}
	if page.DetailsStatus != 200 || page.Details.Author != "William Shakespeare" || page.ReviewsPod != "reviews-v1" {
		t.Errorf("page = %+v, want details' answer and reviews v1's", page)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"http://details:9080/details/0 end-user=jason", "http://reviews:9080/reviews/0 end-user=jason"}
	if !slices.Equal(received, want) {
		t.Errorf("the forward proxy received %q, want %q", received, want)
	}
}

func TestDemoBookinfoServiceSaysItCallsDirect(t *testing.T) {
	direct := func(*http.Request) (*url.URL, error) { return nil, nil } // no HTTP_PROXY, or NO_PROXY names the host
	_, out := startDemoService(t, demoOptions{Service: "reviews", Version: "v2", OutboundProxy: direct}, "ratings")
	if line := "calls to http://ratings:9080 go direct\n"; !strings.Contains(out.String(), line) {
		t.Errorf("demo printed:\n%s\nwant %q", out, line)
	}
}
