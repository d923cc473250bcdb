package proxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// edges renders a graph's edges as "source>destination requests/errors
// window requests/errors[ faulted]", one per edge, in order.
func edges(g proxy.Graph) string {
	var b strings.Builder
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "%s>%s %d/%d %d/%d", e.Source, e.Destination, e.Requests, e.Errors, e.WindowRequests, e.WindowErrors)
		if e.Faulted {
			b.WriteString(" faulted")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// A chain of services that propagate x-request-id, as Bookinfo's do:
// load → productpage (the proxy generates the id), which calls reviews
// twice in turn with it, each of which calls ratings (faulted: every call
// aborts 503). The caller of each request is the service whose request
// with that id started last and is still in flight. A request no route
// takes counts toward its host.
func TestServiceGraphChain(t *testing.T) {
	clk := &fakeClock{}
	clk.set(time.Hour)
	var mesh atomic.Pointer[string]
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	call := func(host, id string) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+*mesh.Load()+"/", nil)
		req.Host = host
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		res, err := tr.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	service := func(callee string, calls int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < calls; i++ {
				if _, err := call(callee, r.Header.Get("X-Request-Id")); err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
			}
			io.WriteString(w, "ok")
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	ratings := newUpstream(t, "ratings")
	src := experiment(svc("productpage", 9080, service("reviews:9080", 2))+svc("reviews", 9080, service("ratings:9080", 1))+svc("ratings", 9080, ratings.addr()), `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
`)
	h := start(t, src, clk.option(), func(o *proxy.Options) { o.ServiceGraph = true })
	addr := h.p.MeshAddr()
	mesh.Store(&addr)

	for i := 0; i < 10; i++ {
		if code, err := call("productpage:9080", ""); err != nil || code != 200 {
			t.Fatalf("load %d: %d %v", i, code, err)
		}
	}
	if code, _ := call("productpage", "an-id-nobody-has"); code != 200 {
		t.Fatalf("load with its own id: %d", code)
	}
	if code, _ := call("nowhere:8080", ""); code != 502 {
		t.Fatalf("unknown host: %d, want 502", code)
	}

	wait.For(t, 5*time.Second, "the requests to end", func() bool { return idle(h.p) })
	clk.advance(10 * time.Second)
	g := h.p.Graph()
	want := `productpage>reviews 22/0 22/0
reviews>ratings 22/22 22/22 faulted
unknown>nowhere 1/1 1/1
unknown>productpage 11/0 11/0
`
	if got := edges(g); got != want {
		t.Errorf("edges:\n%s\nwant:\n%s", got, want)
	}
	if g.WindowSeconds != 10 {
		t.Errorf("window %vs, want the 10 s the proxy has run", g.WindowSeconds)
	}
	for _, e := range g.Edges {
		if wantRPS := float64(e.WindowRequests) / 10; e.RPS != wantRPS {
			t.Errorf("%s>%s: %v rps, want %v", e.Source, e.Destination, e.RPS, wantRPS)
		}
		if wantRatio := float64(e.WindowErrors) / float64(e.WindowRequests); e.ErrorRatio != wantRatio {
			t.Errorf("%s>%s: error ratio %v, want %v", e.Source, e.Destination, e.ErrorRatio, wantRatio)
		}
		if e.P50Ms <= 0 || e.P99Ms < e.P50Ms || e.P99Ms > 10_000 {
			t.Errorf("%s>%s: p50 %vms, p99 %vms", e.Source, e.Destination, e.P50Ms, e.P99Ms)
		}
	}
	if ratings.hits.Load() != 0 {
		t.Errorf("ratings reached %d times through an abort of 100 %%", ratings.hits.Load())
	}
	if !h.p.Table().Faulted("ratings") || h.p.Table().Faulted("reviews") {
		t.Errorf("Table.Faulted: ratings %v, reviews %v; want true, false", h.p.Table().Faulted("ratings"), h.p.Table().Faulted("reviews"))
	}

	// A minute later the window is empty; the totals stay. An Apply
	// without the fault clears Faulted.
	clk.advance(60 * time.Second)
	if err := h.p.Apply(parse(t, experiment(svc("productpage", 9080, deadAddr(t))+svc("reviews", 9080, deadAddr(t))+svc("ratings", 9080, ratings.addr())))); err != nil {
		t.Fatal(err)
	}
	g = h.p.Graph()
	want = `productpage>reviews 22/0 0/0
reviews>ratings 22/22 0/0
unknown>nowhere 1/1 0/0
unknown>productpage 11/0 0/0
`
	if got := edges(g); got != want {
		t.Errorf("a minute later:\n%s\nwant:\n%s", got, want)
	}
	if g.WindowSeconds <= 54 || g.WindowSeconds > 60 {
		t.Errorf("window %vs, want 54-60 s", g.WindowSeconds)
	}
	for _, e := range g.Edges {
		if e.RPS != 0 || e.P50Ms != 0 || e.P99Ms != 0 || e.ErrorRatio != 0 {
			t.Errorf("%s>%s: an empty window reads %+v", e.Source, e.Destination, e)
		}
	}
}

// A client whose IP is that of one bound service's endpoints (a
// container on a network of its own) is that service; an IP two services
// share, or a loopback one, names nobody. (Such IPs cannot be reached
// from loopback, so the requests are served in process.)
func TestServiceGraphSourceByAddress(t *testing.T) {
	reviews := newUpstream(t, "reviews")
	src := experiment(svc("productpage", 9080, "10.1.0.5:9080") + svc("details", 9080, "10.1.0.9:9080") + svc("shared", 9080, "10.1.0.9:9081") + svc("reviews", 9080, reviews.addr()))
	h := start(t, src, func(o *proxy.Options) {
		o.ServiceGraph = true
		o.AllowTarget = func(string) error { return nil }
	})
	cases := []struct {
		name, remote, source string
	}{
		{"one service's endpoint", "10.1.0.5:40000", "productpage"},
		{"IPv4-mapped IPv6", "[::ffff:10.1.0.5]:40001", "productpage"},
		{"two services share the IP", "10.1.0.9:40000", "unknown"},
		{"loopback is nobody", net.JoinHostPort("127.0.0.1", "40000"), "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int64{}
			for _, e := range h.p.Graph().Edges {
				before[e.Source+">"+e.Destination] = e.Requests
			}
			req := httptest.NewRequest("GET", "http://reviews:9080/", nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			h.p.Handler("mesh").ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("got %d", rec.Code)
			}
			want := tc.source + ">reviews"
			counted := false
			for _, e := range h.p.Graph().Edges {
				k := e.Source + ">" + e.Destination
				switch {
				case k == want:
					counted = e.Requests == before[k]+1
				case e.Requests != before[k]:
					t.Errorf("counted on %s, want %s", k, want)
				}
			}
			if !counted {
				t.Errorf("not counted on %s: %s", want, edges(h.p.Graph()))
			}
		})
	}
}

// Without Options.ServiceGraph there is no graph.
func TestServiceGraphOff(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	expect(t, h.get("reviews", "/"), 200, "reviews")
	if g := h.p.Graph(); len(g.Edges) != 0 {
		t.Errorf("graph %+v with the graph off", g)
	}
}
