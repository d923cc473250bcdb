package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
)

// Apply swaps tables while requests run: none fails, each is answered by
// one table or the other, and a bad document leaves the old table serving.
func TestApplyUnderLoad(t *testing.T) {
	v1, v2, _, services := threeVersions(t)
	route := func(subset string) string {
		return experiment(services, fmt.Sprintf(reviewsVS, "  - route: [{destination: {host: reviews, subset: "+subset+"}}]\n"), reviewsSubsets())
	}
	docV1, docV2 := parse(t, route("v1")), parse(t, route("v2"))
	h := start(t, route("v1"))

	var stop atomic.Bool
	var failures, total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000 && !stop.Load(); i++ {
				req, _ := http.NewRequest("GET", "http://"+h.p.MeshAddr()+"/", nil)
				req.Host = "reviews"
				res, err := h.client.Do(req)
				total.Add(1)
				if err != nil {
					failures.Add(1)
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || (string(body) != "v1" && string(body) != "v2") {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		doc := docV1
		if i%2 == 0 {
			doc = docV2
		}
		if err := h.p.Apply(doc); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		// Traffic runs on each table before the next swap: as many
		// requests as there are workers end after it is applied.
		seen := total.Load()
		wait.For(t, 5*time.Second, fmt.Sprintf("requests after swap %d", i), func() bool { return total.Load() >= seen+8 })
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed during swaps", failures.Load(), total.Load())
	}
	if v1.hits.Load() == 0 || v2.hits.Load() == 0 {
		t.Errorf("v1 %d, v2 %d: both tables should have served", v1.hits.Load(), v2.hits.Load())
	}

	// scenarios validation rejects a bad regex too; break a parsed
	// document to exercise the proxy's own check.
	bad := parse(t, experiment(services, fmt.Sprintf(reviewsVS, `  - match: [{uri: {regex: "x"}}]
    route: [{destination: {host: reviews, subset: v2}}]
`), reviewsSubsets()))
	broken := "("
	bad.VirtualServices[0].Spec.HTTP[0].Match[0].URI.Regex = &broken
	err := h.p.Apply(bad)
	var ce *proxy.CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "spec.http[0].match[0].uri.regex") {
		t.Fatalf("apply bad: %v", err)
	}
	if err := h.p.Apply(docV1); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Apply(bad); err == nil {
		t.Fatal("bad document applied")
	}
	expect(t, h.get("reviews", "/"), 200, "v1")
}

// Close lets a request in flight finish, then refuses new ones.
func TestCloseDrainsInFlight(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{delay: {fixedDelay: 200ms, percent: 100}}`)))
	addr := h.p.MeshAddr()
	done := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = "reviews"
		res, err := h.client.Do(req)
		if err != nil {
			done <- response{code: -1, body: err.Error()}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- response{code: res.StatusCode, body: string(body)}
	}()
	wait.For(t, 2*time.Second, "the request to arrive", func() bool {
		l, _ := h.p.Stats().Listener("mesh")
		return l.Active == 1
	})
	t0 := time.Now()
	if err := h.p.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	expect(t, r, 200, "reviews")
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("close took %v", el)
	}
	if _, err := (&http.Client{}).Get("http://" + addr + "/"); err == nil {
		t.Error("closed listener still answers")
	}
	if err := h.p.Apply(parse(t, experiment(svc("reviews", 9080, up.addr())))); !errors.Is(err, proxy.ErrClosed) {
		t.Errorf("apply after close: %v", err)
	}
}

// Close bounds the drain: a request stuck in a long delay is cut.
func TestCloseBoundedDrain(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr()), faultVS(`{delay: {fixedDelay: 4m, percent: 100}}`)),
		func(o *proxy.Options) { o.DrainTimeout = 100 * time.Millisecond })
	go func() {
		req, _ := http.NewRequest("GET", "http://"+h.p.MeshAddr()+"/", nil)
		req.Host = "reviews"
		if res, err := h.client.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	wait.For(t, 2*time.Second, "the request to arrive", func() bool {
		l, _ := h.p.Stats().Listener("mesh")
		return l.Active == 1
	})
	t0 := time.Now()
	h.p.Close()
	if el := time.Since(t0); el > 3*time.Second {
		t.Errorf("close took %v", el)
	}
	if l, _ := h.p.Stats().Listener("mesh"); l.Active != 0 {
		t.Errorf("%d handlers still active after Close", l.Active)
	}
}

// No goroutine outlives Close: servers, connections, transports, timers.
func TestNoGoroutineLeak(t *testing.T) {
	before := quietGoroutines()
	func() {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		defer up.Close()
		src := experiment(svc("reviews", 9080, up.Listener.Addr().String()), faultVS(`{delay: {fixedDelay: 5ms, percent: 50}}`), `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`)
		p, err := proxy.Start(context.Background(), parse(t, src), "127.0.0.1:0", nil, proxy.Options{AccessLog: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		client := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					req, _ := http.NewRequest("GET", "http://"+p.MeshAddr()+"/", nil)
					req.Host = "reviews"
					if res, err := client.Do(req); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		tr.CloseIdleConnections()
	}()
	if after := settleGoroutines(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// Start honours ctx: cancelling it closes the proxy.
func TestStartContextCloses(t *testing.T) {
	up := newUpstream(t, "reviews")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := proxy.Start(ctx, parse(t, experiment(svc("reviews", 9080, up.addr()))), "127.0.0.1:0", nil, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.MeshAddr()
	cancel()
	if !wait.Until(2*time.Second, func() bool {
		_, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/")
		return err != nil
	}) {
		t.Error("listener still open after ctx was cancelled")
	}
}

// Handler serves a listener in process with the same pipeline.
func TestHandlerInProcess(t *testing.T) {
	up := newUpstream(t, "reviews")
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://reviews:9080/in-process", nil)
	h.p.Handler("mesh").ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "reviews" {
		t.Errorf("in-process: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.p.Handler("nope:1").ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Errorf("unknown listener: %d", rec.Code)
	}
}

// Compile refuses what it cannot run, naming the resource and field.
func TestCompileErrors(t *testing.T) {
	up := newUpstream(t, "reviews")
	// Some of these are also caught by scenarios validation; break would
	// alter a parsed document so the proxy's own checks are exercised.
	cases := []struct {
		name, src, want string
		opts            proxy.Options
		breakDoc        func(*scenarios.Document)
	}{
		{"invalid regex", experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, `  - match: [{headers: {x: {regex: "a"}}}]
    route: [{destination: {host: reviews}}]
`)), "VirtualService reviews: spec.http[0].match[0].headers.x.regex: invalid RE2", proxy.Options{}, func(d *scenarios.Document) {
			bad := "a("
			d.VirtualServices[0].Spec.HTTP[0].Match[0].Headers["x"] = scenarios.StringMatch{Regex: &bad}
		}},
		{"target outside loopback", experiment(svc("reviews", 9080, "10.1.2.3:80")), "Experiment t: spec.services[0].endpoints[0].address: dial target 10.1.2.3:80 is not allowed", proxy.Options{}, nil},
		{"AllowTarget refuses", experiment(svc("reviews", 9080, up.addr())), "dial target " + up.addr() + " is not allowed: no", proxy.Options{AllowTarget: func(string) error { return errors.New("no") }}, nil},
		{"empty address", experiment(svc("reviews", 9080, up.addr())), "spec.services[0].endpoints[0].address: is empty", proxy.Options{}, func(d *scenarios.Document) {
			d.Experiment.Spec.Services[0].Endpoints[0].Address = ""
		}},
		{"mesh wildcard host", experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, "  - route: [{destination: {host: reviews}}]\n")),
			"wildcard host * is not allowed", proxy.Options{}, func(d *scenarios.Document) { d.VirtualServices[0].Spec.Hosts = []string{"*"} }},
		{"zero weights", experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, `  - route:
    - {destination: {host: reviews}, weight: 1}
    - {destination: {host: reviews}, weight: 0}
`)), "total destination weight = 0", proxy.Options{}, func(d *scenarios.Document) { d.VirtualServices[0].Spec.HTTP[0].Route[0].Weight = 0 }},
		{"header formatter", experiment(svc("reviews", 9080, up.addr()), fmt.Sprintf(reviewsVS, `  - headers: {request: {set: {x-client: "%DOWNSTREAM_REMOTE_ADDRESS%"}}}
    route: [{destination: {host: reviews}}]
`)), "header formatters", proxy.Options{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := parse(t, tc.src)
			if tc.breakDoc != nil {
				tc.breakDoc(doc)
			}
			_, err := proxy.Compile(doc, tc.opts, nil)
			var ce *proxy.CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a CompileError containing %q", err, tc.want)
			}
		})
	}
	// A STATIC ServiceEntry with loopback endpoints compiles and lists
	// its cluster.
	tb, err := proxy.Compile(parse(t, experiment(svc("reviews", 9080, up.addr()), `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`)), proxy.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tb.ClusterNames(), " "); got != "outbound|80||api.example.com outbound|9080||reviews.default.svc.cluster.local" {
		t.Errorf("clusters %s", got)
	}
}

// A run on an environment swaps tables under the traffic of the team's
// services: overlay, baseline, overlay… every 100 ms while 2000 requests
// flow at about 1000 a second through the mesh used as HTTP_PROXY. No
// request is lost: every one gets a response from one table or the other
// (never a mix), no socket error, and the counters add up.
func TestApplySwapsAtSteadyLoad(t *testing.T) {
	const (
		rate    = 1000 // requests per second
		total   = 2000
		workers = 32
	)
	v1, v2, v3, services := threeVersions(t)
	doc := func(rules string) string {
		return experiment(services, fmt.Sprintf(reviewsVS, rules), reviewsSubsets())
	}
	baseline := doc("  - route: [{destination: {host: reviews, subset: v1}}]\n")
	overlay := doc(`  - headers: {response: {set: {x-overlay: "on"}}}
    route: [{destination: {host: reviews, subset: v2}}]
`)
	docs := [2]*scenarios.Document{parse(t, overlay), parse(t, baseline)}
	h := start(t, baseline)
	before := h.p.Stats()

	pu, _ := url.Parse("http://" + h.p.MeshAddr())
	tr := &http.Transport{Proxy: http.ProxyURL(pu), MaxIdleConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	var answered, socketErrors, mixed atomic.Int64
	var served [2]atomic.Int64 // v1, v2
	jobs := make(chan struct{}, total)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest("GET", "http://reviews:9080/", nil)
				res, err := tr.RoundTrip(req)
				if err != nil {
					socketErrors.Add(1)
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					socketErrors.Add(1)
					continue
				}
				answered.Add(1)
				switch overlaid := res.Header.Get("X-Overlay") == "on"; {
				case res.StatusCode == 200 && string(body) == "v1" && !overlaid:
					served[0].Add(1)
				case res.StatusCode == 200 && string(body) == "v2" && overlaid:
					served[1].Add(1)
				default:
					mixed.Add(1)
				}
			}
		}()
	}

	stop, swapped := make(chan struct{}), make(chan int)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stop:
				swapped <- n
				return
			case <-tick.C:
				if err := h.p.Apply(docs[n%2]); err != nil {
					t.Errorf("swap %d: %v", n, err)
				}
				n++
			}
		}
	}()
	pace := time.NewTicker(time.Second / rate)
	t0 := time.Now()
	for i := 0; i < total; i++ {
		<-pace.C
		jobs <- struct{}{}
	}
	pace.Stop()
	close(jobs)
	wg.Wait()
	elapsed := time.Since(t0)
	close(stop)
	swaps := <-swapped
	t.Logf("%d requests in %v (%.0f/s), %d swaps, v1 %d, v2 %d", total, elapsed.Round(time.Millisecond),
		total/elapsed.Seconds(), swaps, served[0].Load(), served[1].Load())

	if answered.Load() != total || socketErrors.Load() != 0 || mixed.Load() != 0 {
		t.Errorf("%d answered of %d, %d socket errors, %d not from one table", answered.Load(), total, socketErrors.Load(), mixed.Load())
	}
	if swaps < 10 {
		t.Errorf("%d swaps, want at least 10 during the load", swaps)
	}
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Errorf("v1 served %d, v2 %d: both tables should have", served[0].Load(), served[1].Load())
	}
	if got := v1.hits.Load() + v2.hits.Load() + v3.hits.Load(); got != total || v1.hits.Load() != served[0].Load() {
		t.Errorf("upstreams saw %d requests (v1 %d), want %d (v1 %d)", got, v1.hits.Load(), total, served[0].Load())
	}
	wait.For(t, 5*time.Second, "the requests to end", func() bool { return idle(h.p) })
	d := h.p.Stats().Sub(before)
	l, _ := d.Listener("mesh")
	if l.Requests != total || l.Rq2xx != total || l.Active != 0 || d.UpstreamRequests != total || d.Retries != 0 || len(d.ByFlag) != 0 {
		t.Errorf("counters over the load: listener %+v, upstream %d, retries %d, flags %v", l, d.UpstreamRequests, d.Retries, d.ByFlag)
	}
}
