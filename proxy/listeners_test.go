package proxy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// gatewayDoc is a Gateway "gw" on port 80 for every host, and a
// VirtualService sending it to reviews.
const gatewayDoc = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: reviews}}]
`

// startProxy starts a proxy on the given mesh address, closed at cleanup.
func startProxy(t *testing.T, src, meshAddr string, opts proxy.Options) *proxy.Proxy {
	t.Helper()
	p, err := proxy.Start(context.Background(), parse(t, src), meshAddr, nil, opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// send makes one request to addr with the given Host and returns the code
// and body.
func send(t *testing.T, client *http.Client, addr, host, path string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s) on %s: %v", path, host, addr, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// idle reports whether no request is active on any listener: every
// request has been counted and logged.
func idle(p *proxy.Proxy) bool {
	for _, l := range p.Stats().Listeners {
		if l.Active != 0 {
			return false
		}
	}
	return true
}

// An empty mesh address opens no mesh socket, before or after an Apply;
// the mesh still routes in process, and the gateways listen.
func TestStartWithoutMeshSocket(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), gatewayDoc)
	p := startProxy(t, src, "", proxy.Options{})
	check := func(when string) {
		t.Helper()
		ls := p.Listeners()
		if len(ls) != 1 || ls[0].Name != "gw:80" || ls[0].Kind != proxy.KindGateway {
			t.Errorf("%s: listeners %+v, want the gateway alone", when, ls)
		}
		if a := p.MeshAddr(); a != "" {
			t.Errorf("%s: mesh address %q, want none", when, a)
		}
	}
	check("after Start")

	rec := httptest.NewRecorder()
	p.Handler("mesh").ServeHTTP(rec, httptest.NewRequest("GET", "http://reviews:9080/", nil))
	if rec.Code != 200 || rec.Body.String() != "reviews" {
		t.Errorf("mesh in process: %d %q", rec.Code, rec.Body.String())
	}
	gw, _ := p.GatewayAddr("gw", 80)
	if code, body := send(t, http.DefaultClient, gw, "anything.example", "/"); code != 200 || body != "reviews" {
		t.Errorf("gateway: %d %q", code, body)
	}
	if err := p.Apply(parse(t, src)); err != nil {
		t.Fatal(err)
	}
	check("after Apply")
	s := p.Stats()
	if l, _ := s.Listener("mesh"); l.Requests != 1 || l.Rq2xx != 1 {
		t.Errorf("mesh counters %+v, want the in-process request", l)
	}
	if got := up.hits.Load(); got != 2 {
		t.Errorf("upstream hits %d, want 2", got)
	}
}

// A service listener routes every request through the mesh's table as if
// it had been sent to its service: Host matching, authority and header
// matches and the upstream request see ratings:9080, whatever Host or
// absolute URI the client used. Its counters are its own.
func TestServiceListenerRoutesAsItsService(t *testing.T) {
	v1, v2 := newUpstream(t, "v1"), newUpstream(t, "v2")
	reviews := newUpstream(t, "reviews")
	src := experiment(svc("ratings", 9080, v1.addr()+"@version=v1", v2.addr()+"@version=v2")+svc("reviews", 9080, reviews.addr()), `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /authority}, authority: {exact: "ratings:9080"}}]
    directResponse: {status: 204}
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: ratings, subset: v2}}]
  - route: [{destination: {host: ratings, subset: v1}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`, gatewayDoc)
	p := startProxy(t, src, "127.0.0.1:0", proxy.Options{
		ServiceListeners: []proxy.ServiceListener{{Host: "ratings", Port: 9080, Addr: "127.0.0.1:0"}},
	})
	addr, ok := p.ServiceAddr("ratings", 9080)
	if !ok {
		t.Fatalf("no service listener among %+v", p.Listeners())
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	cases := []struct {
		name, host, path string
		headers          []string
		code             int
		body             string
		upstream         *upstream
	}{
		{"any Host is the service's", "reviews:9080", "/", nil, 200, "v1", v1},
		{"header matches apply", "elsewhere.example", "/", []string{"end-user: jason"}, 200, "v2", v2},
		{"authority matches see the service", "reviews", "/authority", nil, 204, "", nil},
		{"no Host port needed", "ratings", "/x?q=1", nil, 200, "v1", v1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, client, addr, tc.host, tc.path, tc.headers...)
			if code != tc.code || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.code, tc.body)
			}
			if tc.upstream == nil {
				return
			}
			seen := tc.upstream.last(t)
			if got, want := seen.Host, "ratings:9080"; got != want {
				t.Errorf("upstream Host %q, want %q", got, want)
			}
			if got, want := seen.RequestURI, tc.path; got != want {
				t.Errorf("upstream path %q, want %q", got, want)
			}
		})
	}

	// A client using the listener as HTTP_PROXY sends an absolute URI.
	pu, _ := url.Parse("http://" + addr)
	ptr := &http.Transport{Proxy: http.ProxyURL(pu)}
	defer ptr.CloseIdleConnections()
	res, err := (&http.Client{Transport: ptr}).Get("http://reviews:9080/absolute")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "v1" {
		t.Errorf("absolute URI: %d %q, want ratings v1", res.StatusCode, body)
	}
	if seen := v1.last(t); seen.Host != "ratings:9080" || seen.RequestURI != "/absolute" {
		t.Errorf("absolute URI upstream saw Host %q path %q", seen.Host, seen.RequestURI)
	}
	if reviews.hits.Load() != 0 {
		t.Errorf("reviews got %d requests, want none", reviews.hits.Load())
	}

	wait.For(t, 5*time.Second, "the requests to end", func() bool { return idle(p) })
	s := p.Stats()
	if l, _ := s.Listener("svc:ratings:9080"); l.Requests != 5 || l.Rq2xx != 5 {
		t.Errorf("service listener counters %+v, want 5 requests, 5 2xx", l)
	}
	if l, _ := s.Listener("mesh"); l.Requests != 0 {
		t.Errorf("mesh counted %d requests, want 0", l.Requests)
	}

	ls := p.Listeners()
	kinds := make([]string, len(ls))
	for i, l := range ls {
		kinds[i] = l.Name + "/" + l.Kind
	}
	if got, want := strings.Join(kinds, " "), "mesh/mesh gw:80/gateway svc:ratings:9080/service"; got != want {
		t.Errorf("listeners %s, want %s", got, want)
	}
	if l := ls[2]; l.Host != "ratings" || l.Port != 9080 || l.Addr != addr {
		t.Errorf("service listener %+v", l)
	}
	p.Close()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the service listener still accepts after Close")
	}
}

// A listener that cannot open fails Start with an error naming it and its
// address, and leaves no listener open; bad service listeners are refused
// before anything opens.
func TestStartListenFailureLeavesNothingOpen(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), gatewayDoc)
	cases := []struct {
		name  string
		taken string // the listener whose address is taken
		want  string
	}{
		{"mesh address taken", "mesh", "listen mesh on "},
		{"gateway address taken", "gateway", "listen gw:80 on "},
		{"service address taken", "service", "listen svc:ratings:9080 on "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			addrs := map[string]string{"mesh": deadAddr(t), "gateway": deadAddr(t), "service": deadAddr(t)}
			addrs[tc.taken] = busy.Addr().String()
			_, err = proxy.Start(context.Background(), parse(t, src), addrs["mesh"], map[string]string{"gw": addrs["gateway"]}, proxy.Options{
				ServiceListeners: []proxy.ServiceListener{{Host: "ratings", Port: 9080, Addr: addrs["service"]}},
			})
			if err == nil || !strings.Contains(err.Error(), tc.want+addrs[tc.taken]) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want+addrs[tc.taken])
			}
			for kind, a := range addrs {
				if kind == tc.taken {
					continue
				}
				ln, err := net.Listen("tcp", a)
				if err != nil {
					t.Errorf("%s address %s still taken after the failed Start: %v", kind, a, err)
					continue
				}
				ln.Close()
			}
		})
	}

	bad := []struct {
		name      string
		listeners []proxy.ServiceListener
		want      string
	}{
		{"no host", []proxy.ServiceListener{{Port: 9080}}, "needs a host and a port"},
		{"no port", []proxy.ServiceListener{{Host: "ratings"}}, "needs a host and a port"},
		{"listed twice", []proxy.ServiceListener{{Host: "ratings", Port: 9080}, {Host: "Ratings", Port: 9080}}, "svc:ratings:9080 is listed twice"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			mesh := deadAddr(t)
			_, err := proxy.Start(context.Background(), parse(t, src), mesh, nil, proxy.Options{ServiceListeners: tc.listeners})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			ln, err := net.Listen("tcp", mesh)
			if err != nil {
				t.Fatalf("mesh address still taken: %v", err)
			}
			ln.Close()
		})
	}
}
