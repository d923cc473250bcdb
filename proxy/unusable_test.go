package proxy_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// acceptCounter accepts connections on loopback and counts them.
func acceptCounter(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

// warnings renders a table's warnings one a line.
func warnings(t *proxy.Table) string {
	var out []string
	for _, w := range t.Warnings() {
		out = append(out, w.String())
	}
	return strings.Join(out, "\n")
}

const dnsEntry = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`

// A ServiceEntry resolved by DNS compiles to a cluster without endpoints:
// its requests get Envoy's 503 UH, with a warning at spec.resolution; the
// other hosts are served.
func TestDNSServiceEntryAnswers503UH(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), dnsEntry)
	tab, err := proxy.Compile(parse(t, src), proxy.Options{}, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	want := "ServiceEntry ext: spec.resolution: resolution DNS resolves api.example.com by DNS, which Faultline never does: requests to api.example.com get 503 UH unless the Experiment's spec.services binds it"
	if got := warnings(tab); !strings.Contains(got, want) {
		t.Errorf("warnings:\n%s\nwant %q", got, want)
	}
	h := start(t, src)
	expect(t, h.get("api.example.com", "/"), 503, "no healthy upstream")
	if n := h.flag("UH"); n != 1 {
		t.Errorf("UH flags %d, want 1", n)
	}
	expect(t, h.get("reviews:9080", "/"), 200, "reviews")
}

// A ServiceEntry endpoint off the allow-list is left out of its cluster,
// with a warning: requests get 503 UH and the proxy opens no connection
// to it.
func TestEndpointOffAllowListIsNeverDialled(t *testing.T) {
	up := newUpstream(t, "reviews")
	refused, accepted := acceptCounter(t)
	host, port, _ := net.SplitHostPort(refused)
	src := experiment(svc("reviews", 9080, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: `+port+`}]
  resolution: STATIC
  endpoints: [{address: `+host+`}]
`)
	allow := func(o *proxy.Options) {
		o.AllowTarget = func(addr string) error {
			if addr == refused {
				return errors.New("not on the allow-list")
			}
			return nil
		}
	}
	o := proxy.Options{}
	allow(&o)
	tab, err := proxy.Compile(parse(t, src), o, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	want := "ServiceEntry ext: spec.endpoints[0].address: dial target " + refused + " is not allowed (not on the allow-list): the endpoint is left out of api.example.com, and the proxy never dials it (503 UH when it has no other)"
	if got := warnings(tab); !strings.Contains(got, want) {
		t.Errorf("warnings:\n%s\nwant %q", got, want)
	}
	h := start(t, src, allow)
	for range 3 {
		expect(t, h.get("api.example.com", "/"), 503, "no healthy upstream")
	}
	expect(t, h.get("reviews:9080", "/"), 200, "reviews")
	if n := accepted.Load(); n != 0 {
		t.Errorf("the proxy opened %d connection(s) to %s, off the allow-list", n, refused)
	}
}

// A route to a host no service binds is answered 503 UH, with a warning
// at the destination's host; a port the host lacks is 503 NC.
func TestUnboundDestinationAnswers503UH(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /gone}}]
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /port}}]
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - route: [{destination: {host: reviews}}]
`)
	doc := parse(t, src)
	// scenarios refuses an unbound host in a plain experiment; the
	// proxy's own handling is what is tested here.
	doc.VirtualServices[0].Spec.HTTP[0].Route[0].Destination.Host = "nowhere"
	doc.VirtualServices[0].Spec.HTTP[1].Route[0].Destination.Port.Number = 9999
	tab, err := proxy.Compile(doc, proxy.Options{}, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	got := warnings(tab)
	for _, want := range []string{
		"VirtualService reviews: spec.http[0].route[0].destination.host: no service binds nowhere here: requests get 503 UH",
		"VirtualService reviews: spec.http[1].route[0].destination.port.number: 9999 is not a port of reviews (ports [9080]): requests get 503 NC (no such cluster)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nwant %q", got, want)
		}
	}
	p, err := proxy.Start(context.Background(), doc, "127.0.0.1:0", nil, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := &harness{t: t, p: p, client: &http.Client{}}
	expect(t, h.get("reviews:9080", "/gone"), 503, "no healthy upstream")
	if r := h.get("reviews:9080", "/port"); r.code != 503 {
		t.Errorf("a port the host lacks: %d %q, want 503 (NC)", r.code, r.body)
	}
	expect(t, h.get("reviews:9080", "/"), 200, "reviews")

	// The plan says which destinations of the request's rule cannot take
	// it, with the warning that says why.
	plan, err := proxy.Plan(doc, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/gone", nil)
	req.Host, req.RequestURI = "reviews:9080", "/gone"
	m, unusable := plan.Unusable("mesh", req)
	if m.Rule != 0 || len(unusable) != 1 || unusable[0].Cluster != "outbound|80||nowhere.default.svc.cluster.local" ||
		unusable[0].Why.Path != "spec.http[0].route[0].destination.host" || unusable[0].Share != 1 {
		t.Errorf("unusable %+v (match %v)", unusable, m)
	}
	req.RequestURI = "/"
	if _, unusable := plan.Unusable("mesh", req); len(unusable) != 0 {
		t.Errorf("a request to the bound host: unusable %+v", unusable)
	}
}

// Options.Credentials unset, a DestinationRule that originates MUTUAL TLS
// with a credential is compiled as SIMPLE origination with a warning.
func TestOriginationWithoutCredentialsDirectoryWarns(t *testing.T) {
	up := newUpstream(t, "reviews")
	src := experiment(svc("reviews", 9080, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: MUTUAL, credentialName: client-credential}}
`)
	tab, err := proxy.Compile(parse(t, src), proxy.Options{}, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	want := "DestinationRule reviews: spec.trafficPolicy.tls.credentialName: names credentials, and no credentials directory is configured (--credentials-dir): the proxy originates TLS to reviews without a client certificate"
	if got := warnings(tab); !strings.Contains(got, want) {
		t.Errorf("warnings:\n%s\nwant %q", got, want)
	}
}
