package demo_test

import (
	"encoding/json"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faultline/faultline/server/demo"
)

// forwardProxy is an HTTP forward proxy such as HTTP_PROXY names: it takes
// absolute-form requests (GET http://details:9080/details/0 HTTP/1.1) and
// forwards each to the address bound to its host name, keeping the Host.
// It remembers the request targets it received.
type forwardProxy struct {
	URL *url.URL
	srv *httptest.Server

	mu      sync.Mutex
	targets []string
}

// newForwardProxy reserves the proxy's address; start serves it once the
// services it forwards to exist.
func newForwardProxy(t *testing.T) *forwardProxy {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	return &forwardProxy{URL: &url.URL{Scheme: "http", Host: srv.Listener.Addr().String()}, srv: srv}
}

// start forwards requests for each host name of byName to its address.
func (fp *forwardProxy) start(t *testing.T, byName map[string]string) {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL.Host = byName[pr.In.URL.Hostname()] },
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0), // a dead upstream is a case under test
	}
	fp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		fp.targets = append(fp.targets, r.RequestURI)
		fp.mu.Unlock()
		if _, ok := byName[r.URL.Hostname()]; !ok || !r.URL.IsAbs() {
			http.Error(w, "want an absolute-form request for a known host", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	})
	fp.srv.Start()
}

// received counts the request targets the proxy received.
func (fp *forwardProxy) received() map[string]int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	n := map[string]int{}
	for _, target := range fp.targets {
		n[target]++
	}
	return n
}

// serve serves h on a loopback port and returns its address; a nil h
// gives the address of a closed listener, where nothing answers.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	if h == nil {
		ln := listen(t)
		ln.Close()
		return ln.Addr().String()
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// byNameBookinfo is productpage (calling details) and reviews as separate
// processes run them: calling by name through a forward proxy.
type byNameBookinfo struct {
	page    *demo.Productpage
	reviews *demo.Reviews
	details *demo.DetailsService
	ratings *demo.Ratings
	proxy   *forwardProxy
}

// startByName builds productpage, details, one reviews version and ratings
// calling by name through a forward proxy; override replaces a host's
// handler (nil: nothing answers there).
func startByName(t *testing.T, version string, override map[string]http.Handler) *byNameBookinfo {
	t.Helper()
	fp := newForwardProxy(t)
	opts := demo.BookinfoOptions{ByName: true, Proxy: http.ProxyURL(fp.URL), CallDetails: true}
	b := &byNameBookinfo{proxy: fp, page: demo.NewProductpage(opts), details: demo.NewDetailsService(opts), ratings: demo.NewRatings(opts)}
	opts.Version = version
	var err error
	if b.reviews, err = demo.NewReviews(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.page.CloseIdleConnections)
	t.Cleanup(b.reviews.CloseIdleConnections)
	handlers := map[string]http.Handler{"details": b.details, "reviews": b.reviews, "ratings": b.ratings}
	byName := map[string]string{}
	for host, h := range handlers {
		if o, ok := override[host]; ok {
			h = o
		}
		byName[host] = serve(t, h)
	}
	fp.start(t, byName)
	return b
}

func TestProductpageByNameCallsDetailsAndReviewsThroughTheProxy(t *testing.T) {
	b := startByName(t, "v2", nil)
	code, body, _ := getPage(t, b.page, "/productpage?json", map[string]string{"End-User": "jason", "X-Request-Id": "req-1"})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var p demo.Page
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.DetailsStatus != 200 || p.DetailsError != "" || p.Details.Author != "William Shakespeare" {
		t.Errorf("page details = %d %q %+v, want details' answer", p.DetailsStatus, p.DetailsError, p.Details)
	}
	if p.ReviewsPod != "reviews-v2" || len(p.Reviews) != 2 || p.Reviews[0].Rating == nil || p.Reviews[0].Rating.Color != "black" {
		t.Errorf("page reviews = %+v, want reviews v2's black stars", p)
	}

	// Every call reached the proxy as an absolute-form request by name,
	// once each: productpage's to details and reviews, reviews' to ratings.
	want := map[string]int{
		"http://details:9080/details/0": 1,
		"http://reviews:9080/reviews/0": 1,
		"http://ratings:9080/ratings/0": 1,
	}
	if got := b.proxy.received(); !maps.Equal(got, want) {
		t.Errorf("the proxy received %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name string
		tg   demo.Target
		host string
	}{
		{"details", b.details, "details:9080"},
		{"reviews", b.reviews, "reviews:9080"},
		{"ratings", b.ratings, "ratings:9080"},
	} {
		seen := tc.tg.Seen()
		if len(seen) != 1 {
			t.Errorf("%s saw %d requests, want 1", tc.name, len(seen))
			continue
		}
		if s := seen[0]; s.Host != tc.host || s.Header.Get("End-User") != "jason" || s.Header.Get("X-Request-Id") != "req-1" {
			t.Errorf("%s saw Host %q, headers %v; want Host %s with end-user and x-request-id propagated", tc.name, s.Host, s.Header, tc.host)
		}
	}

	// The products API asks details too.
	if code, body, _ := getPage(t, b.page, "/api/v1/products/0", nil); code != 200 || !strings.Contains(body, "William Shakespeare") || b.details.Requests() != 2 {
		t.Errorf("GET /api/v1/products/0 = %d %s, details saw %d requests; want details' answer", code, body, b.details.Requests())
	}
}

// recordingHandler answers every request with status and remembers each
// request's end-user header.
type recordingHandler struct {
	status int
	mu     sync.Mutex
	users  []string
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.users = append(h.users, r.Header.Get("End-User"))
	h.mu.Unlock()
	http.Error(w, "failing on purpose", h.status)
}

func (h *recordingHandler) seenUsers() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.users...)
}

func TestProductpageByNameShowsWhatFailed(t *testing.T) {
	t.Run("details down: the details error, the reviews, still 200", func(t *testing.T) {
		b := startByName(t, "v1", map[string]http.Handler{"details": nil})
		code, html, _ := getPage(t, b.page, "/productpage", map[string]string{"End-User": "jason"})
		if code != http.StatusOK || !strings.Contains(html, demo.DetailsUnavailable) || !strings.Contains(html, "Error fetching product details!") ||
			strings.Contains(html, "Book Details") || !strings.Contains(html, "An extremely entertaining play") {
			t.Errorf("status %d, page:\n%s\nwant 200 with the details error and the reviews", code, html)
		}
		_, body, _ := getPage(t, b.page, "/productpage?json", nil)
		var p demo.Page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		// The proxy answers 502 for the dead upstream; one try only.
		if p.DetailsStatus != http.StatusBadGateway || p.DetailsError != demo.DetailsUnavailable || p.Details != (demo.Details{}) {
			t.Errorf("page = %+v, want details status 502 and the error", p)
		}
		if got := b.proxy.received()["http://details:9080/details/0"]; got != 2 {
			t.Errorf("the proxy received %d details calls for two pages, want 2", got)
		}
		if code, body, _ := getPage(t, b.page, "/api/v1/products/0", nil); code != http.StatusBadGateway || !strings.Contains(body, demo.DetailsUnavailable) {
			t.Errorf("GET /api/v1/products/0 = %d %s, want 502 with the details error", code, body)
		}
	})

	t.Run("reviews failing: two tries, then jason's page shows the reviews error", func(t *testing.T) {
		failing := &recordingHandler{status: http.StatusServiceUnavailable}
		b := startByName(t, "v1", map[string]http.Handler{"reviews": failing})
		code, html, _ := getPage(t, b.page, "/productpage", map[string]string{"End-User": "jason"})
		if code != http.StatusOK || !strings.Contains(html, demo.ReviewsUnavailable) || !strings.Contains(html, "Welcome, jason") ||
			!strings.Contains(html, "Book Details") || strings.Contains(html, demo.DetailsUnavailable) {
			t.Errorf("status %d, page:\n%s\nwant 200 with the details and the reviews error", code, html)
		}
		if got := failing.seenUsers(); len(got) != demo.ReviewsAttempts || got[0] != "jason" || got[1] != "jason" {
			t.Errorf("reviews saw end-users %q, want jason on each of %d tries", got, demo.ReviewsAttempts)
		}
		if got := b.details.Seen(); len(got) != 1 || got[0].Header.Get("End-User") != "jason" {
			t.Errorf("details saw %+v, want one call for jason", got)
		}
	})
}

func TestSetMeshLeavesByNameCallsAlone(t *testing.T) {
	b := startByName(t, "v1", nil)
	b.page.SetMesh(serve(t, nil)) // a mesh listener where nothing answers
	if code, html, _ := getPage(t, b.page, "/productpage", nil); code != 200 || strings.Contains(html, demo.ReviewsUnavailable) || strings.Contains(html, demo.DetailsUnavailable) {
		t.Errorf("status %d, page:\n%s\nwant the details and reviews, by name through the proxy", code, html)
	}
}
