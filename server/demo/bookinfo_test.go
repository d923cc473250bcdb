package demo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/server/demo"
)

// fakeMesh stands in for the proxy's mesh listener: it routes by Host name
// to the given handlers, as the mesh routes by VirtualService host.
func fakeMesh(t *testing.T, byHost map[string]http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		h, ok := byHost[host]
		if !ok {
			http.Error(w, "no route", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// bookinfo builds productpage, one reviews version and ratings, wired
// through a fake mesh; override replaces a host's handler.
func bookinfo(t *testing.T, version string, opts demo.BookinfoOptions, override map[string]http.Handler) (*demo.Productpage, *demo.Reviews, *demo.Ratings) {
	t.Helper()
	opts.Version = version
	reviews, err := demo.NewReviews(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Version = ""
	ratings := demo.NewRatings(opts)
	page := demo.NewProductpage(opts)
	routes := map[string]http.Handler{"reviews": reviews, "ratings": ratings}
	for k, v := range override {
		routes[k] = v
	}
	mesh := fakeMesh(t, routes)
	page.SetMesh(mesh.Listener.Addr().String())
	reviews.SetMesh(mesh.Listener.Addr().String())
	return page, reviews, ratings
}

func getPage(t *testing.T, h http.Handler, path string, header map[string]string) (int, string, time.Duration) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), time.Since(start)
}

func TestProductpageShowsEachReviewsVersion(t *testing.T) {
	for _, tc := range []struct {
		version, color string
		ratingsCalls   int64
	}{
		{"v1", "", 0}, // v1 shows no stars and never calls ratings
		{"v2", "black", 1},
		{"v3", "red", 1},
	} {
		t.Run(tc.version, func(t *testing.T) {
			page, reviews, ratings := bookinfo(t, tc.version, demo.BookinfoOptions{}, nil)
			code, body, _ := getPage(t, page, "/productpage?json", map[string]string{"End-User": "jason", "X-Request-Id": "req-1"})
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var p demo.Page
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatal(err)
			}
			if p.ReviewsStatus != 200 || p.ReviewsError != "" || len(p.Reviews) != 2 || p.User != "jason" || p.ReviewsPod != "reviews-"+tc.version {
				t.Fatalf("page = %+v", p)
			}
			for _, rv := range p.Reviews {
				switch {
				case tc.color == "" && rv.Rating != nil:
					t.Errorf("v1 review has a rating: %+v", rv.Rating)
				case tc.color != "" && (rv.Rating == nil || rv.Rating.Color != tc.color || rv.Rating.Stars == 0):
					t.Errorf("review rating = %+v, want %s stars", rv.Rating, tc.color)
				}
			}
			if got, want := ratings.Requests(), tc.ratingsCalls; got != want {
				t.Errorf("ratings saw %d calls, want %d", got, want)
			}
			if reviews.Requests() != 1 {
				t.Errorf("reviews saw %d calls, want 1", reviews.Requests())
			}
			// end-user and x-request-id travel the whole chain, by Host name.
			for _, s := range append(reviews.Seen(), ratings.Seen()...) {
				if s.Header.Get("End-User") != "jason" || s.Header.Get("X-Request-Id") != "req-1" {
					t.Errorf("%s %s got headers %v, want end-user and x-request-id propagated", s.Host, s.Path, s.Header)
				}
			}
			if s := reviews.Seen()[0]; s.Host != "reviews:9080" || s.Path != "/reviews/0" {
				t.Errorf("reviews was called as %s%s, want reviews:9080/reviews/0", s.Host, s.Path)
			}

			_, html, _ := getPage(t, page, "/productpage", nil)
			if !strings.Contains(html, "The Comedy of Errors") || !strings.Contains(html, "An extremely entertaining play") {
				t.Errorf("page lacks the book or its reviews:\n%s", html)
			}
			if tc.color != "" && !strings.Contains(html, `color="`+tc.color+`"`) {
				t.Errorf("page lacks %s stars:\n%s", tc.color, html)
			}
		})
	}
}

func TestReviewsShowRatingsUnavailable(t *testing.T) {
	failing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "fault filter abort", http.StatusInternalServerError)
	})
	page, _, _ := bookinfo(t, "v2", demo.BookinfoOptions{}, map[string]http.Handler{"ratings": failing})
	code, html, _ := getPage(t, page, "/productpage", nil)
	if code != 200 || !strings.Contains(html, demo.RatingsUnavailable) || strings.Contains(html, demo.ReviewsUnavailable) {
		t.Errorf("status %d, page:\n%s\nwant the ratings error and the reviews", code, html)
	}
}

func TestProductpageTriesReviewsTwiceThenShowsTheError(t *testing.T) {
	var calls atomic.Int64
	hanging := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-r.Context().Done() // hangs until the caller's timeout cuts it
	})
	const timeout = 150 * time.Millisecond
	page, _, _ := bookinfo(t, "v1", demo.BookinfoOptions{ReviewsTimeout: timeout}, map[string]http.Handler{"reviews": hanging})
	code, html, took := getPage(t, page, "/productpage", map[string]string{"Accept": "text/html"})
	if code != 200 || !strings.Contains(html, demo.ReviewsUnavailable) {
		t.Errorf("status %d, page:\n%s\nwant 200 with the reviews error", code, html)
	}
	if got := calls.Load(); got != demo.ReviewsAttempts {
		t.Errorf("reviews was called %d times, want %d", got, demo.ReviewsAttempts)
	}
	if took < demo.ReviewsAttempts*timeout {
		t.Errorf("page took %v, want at least two timeouts (%v)", took, demo.ReviewsAttempts*timeout)
	}

	unavailable := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "", http.StatusServiceUnavailable) })
	page, _, _ = bookinfo(t, "v1", demo.BookinfoOptions{}, map[string]http.Handler{"reviews": unavailable})
	_, body, _ := getPage(t, page, "/productpage", map[string]string{"Accept": "application/json"})
	var p demo.Page
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.ReviewsStatus != http.StatusServiceUnavailable || p.ReviewsError != demo.ReviewsUnavailable || p.Reviews != nil {
		t.Errorf("page = %+v, want reviews status 503 and the error", p)
	}
}

func TestBookinfoWithoutMeshShowsTheError(t *testing.T) {
	page := demo.NewProductpage(demo.BookinfoOptions{})
	code, html, _ := getPage(t, page, "/productpage", nil)
	if code != 200 || !strings.Contains(html, demo.ReviewsUnavailable) {
		t.Errorf("status %d, page:\n%s", code, html)
	}
}

func TestBookinfoHealthAndAPI(t *testing.T) {
	page, reviews, ratings := bookinfo(t, "v3", demo.BookinfoOptions{}, nil)
	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
		code int
		want string
	}{
		{"productpage health", page, "/health", 200, "Productpage is healthy"},
		{"reviews health", reviews, "/health", 200, "Reviews is healthy"},
		{"ratings health", ratings, "/health", 200, "Ratings is healthy"},
		{"details health", demo.NewDetailsService(demo.BookinfoOptions{}), "/health", 200, "Details is healthy"},
		{"index", page, "/", 200, "Simple Bookstore App"},
		{"products", page, "/api/v1/products", 200, "The Comedy of Errors"},
		{"details", page, "/api/v1/products/0", 200, "William Shakespeare"},
		{"reviews via api", page, "/api/v1/products/0/reviews", 200, `"color": "red"`},
		{"ratings via api", page, "/api/v1/products/0/ratings", 200, `"Reviewer1": 5`},
		{"ratings direct", ratings, "/ratings/0", 200, `"Reviewer2": 4`},
		{"non-numeric id is a 400, as in Bookinfo", ratings, "/ratings/x", 400, "numeric product ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := getPage(t, tc.h, tc.path, nil)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s = %d %s, want %d containing %q", tc.path, code, body, tc.code, tc.want)
			}
		})
	}
}

func TestNewNamesItsTargets(t *testing.T) {
	for _, name := range demo.Names() {
		opts := demo.Options{Version: "v2"}
		tg, err := demo.New(name, opts)
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		code, _, _ := getPage(t, tg, "/nope", nil)
		if code != http.StatusNotFound || tg.Requests() != 1 || len(tg.Seen()) != 1 {
			t.Errorf("%s: unknown path = %d, requests %d; want 404 counted", name, code, tg.Requests())
		}
	}
	if _, err := demo.New("reviews", demo.Options{Version: "v4"}); err == nil || !strings.Contains(err.Error(), "v1, v2 or v3") {
		t.Errorf("reviews v4: err = %v, want the versions named", err)
	}
	if _, err := demo.New("nope", demo.Options{}); err == nil {
		t.Error("an unknown demo target is accepted")
	}
}

func TestBookinfoAccessLogNamesTheService(t *testing.T) {
	var log strings.Builder
	r, err := demo.NewReviews(demo.BookinfoOptions{Version: "v1", AccessLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/reviews/0", nil))
	if line := log.String(); !strings.Contains(line, " reviews-v1 GET /reviews/0 200 ") {
		t.Errorf("access log line = %q", line)
	}
}
