package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/demo"
)

// start serves a new HTTPBin on a loopback port.
func start(t *testing.T, opts demo.HTTPBinOptions) (*demo.HTTPBin, *httptest.Server) {
	t.Helper()
	h := demo.NewHTTPBin(opts)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// do sends req and returns the status, headers and body.
func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", req.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

func get(t *testing.T, rawURL string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// decodeObject decodes a JSON object and checks it has exactly the keys want.
func decodeObject(t *testing.T, body []byte, want ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, body)
	}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
		t.Errorf("keys: got %q, want %q", got, want)
	}
	return m
}

// waitRequests polls until h has served n requests.
func waitRequests(t *testing.T, h *demo.HTTPBin, n int64) {
	t.Helper()
	if !wait.Until(3*time.Second, func() bool { return h.Requests() >= n }) {
		t.Fatalf("served %d requests, want %d", h.Requests(), n)
	}
}

func TestGet(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/get?a=1&b=2&b=3", nil)
	req.Header.Set("X-Test", "faultline")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	status, hdr, body := do(t, req)
	if status != http.StatusOK {
		t.Fatalf("status: got %d, want 200", status)
	}
	if got := hdr.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	m := decodeObject(t, body, "args", "headers", "origin", "url")
	args := m["args"].(map[string]any)
	if args["a"] != "1" || !slices.Equal(toStrings(args["b"]), []string{"2", "3"}) {
		t.Errorf("args: got %v, want a=1 (single value as a string), b=[2 3]", args)
	}
	headers := m["headers"].(map[string]any)
	host := strings.TrimPrefix(srv.URL, "http://")
	for name, want := range map[string]string{"X-Test": "faultline", "X-Multi": "one,two", "Host": host} {
		if got := headers[name]; got != want {
			t.Errorf("headers[%s]: got %v, want %q", name, got, want)
		}
	}
	if got := m["origin"]; got != "127.0.0.1" {
		t.Errorf("origin: got %v, want 127.0.0.1", got)
	}
	if got, want := m["url"], srv.URL+"/get?a=1&b=2&b=3"; got != want {
		t.Errorf("url: got %v, want %q", got, want)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

func TestHeadersAndIP(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	status, _, body := get(t, srv.URL+"/headers")
	if status != http.StatusOK {
		t.Fatalf("/headers status: got %d, want 200", status)
	}
	m := decodeObject(t, body, "headers")
	if got := m["headers"].(map[string]any)["Host"]; got != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("/headers Host: got %v", got)
	}

	status, _, body = get(t, srv.URL+"/ip")
	if status != http.StatusOK {
		t.Fatalf("/ip status: got %d, want 200", status)
	}
	if got := decodeObject(t, body, "origin")["origin"]; got != "127.0.0.1" {
		t.Errorf("/ip origin: got %v, want 127.0.0.1", got)
	}
}

func TestAnything(t *testing.T) {
	var multipartBody bytes.Buffer
	mw := multipart.NewWriter(&multipartBody)
	_ = mw.WriteField("field", "value")
	fw, _ := mw.CreateFormFile("upload", "a.txt")
	_, _ = fw.Write([]byte("file content"))
	_ = mw.Close()

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		check       func(t *testing.T, m map[string]any)
	}{
		{
			name: "JSON body is echoed raw and parsed", method: http.MethodPost, path: "/anything",
			contentType: "application/json", body: []byte(`{"n":1}`),
			check: func(t *testing.T, m map[string]any) {
				if m["data"] != `{"n":1}` {
					t.Errorf("data: got %v", m["data"])
				}
				if got, _ := m["json"].(map[string]any); got["n"] != 1.0 {
					t.Errorf("json: got %v, want {n:1}", m["json"])
				}
			},
		},
		{
			name: "form body fills form, not data", method: http.MethodPut, path: "/anything",
			contentType: "application/x-www-form-urlencoded", body: []byte("x=1&y=2&y=3"),
			check: func(t *testing.T, m map[string]any) {
				form := m["form"].(map[string]any)
				if form["x"] != "1" || !slices.Equal(toStrings(form["y"]), []string{"2", "3"}) {
					t.Errorf("form: got %v", form)
				}
				if m["data"] != "" || m["json"] != nil {
					t.Errorf("data %q, json %v: want empty and null", m["data"], m["json"])
				}
			},
		},
		{
			name: "multipart fills form and files", method: http.MethodPost, path: "/anything",
			contentType: mw.FormDataContentType(), body: multipartBody.Bytes(),
			check: func(t *testing.T, m map[string]any) {
				if got := m["form"].(map[string]any)["field"]; got != "value" {
					t.Errorf("form.field: got %v", got)
				}
				if got := m["files"].(map[string]any)["upload"]; got != "file content" {
					t.Errorf("files.upload: got %v", got)
				}
			},
		},
		{
			name: "binary body becomes a data URL", method: http.MethodPatch, path: "/anything",
			body: []byte{0xff, 0xfe},
			check: func(t *testing.T, m map[string]any) {
				if got := m["data"]; got != "data:application/octet-stream;base64,//4=" {
					t.Errorf("data: got %v", got)
				}
			},
		},
		{
			name: "any subpath and query, any method", method: http.MethodDelete, path: "/anything/a/b?q=1",
			check: func(t *testing.T, m map[string]any) {
				if got := m["args"].(map[string]any)["q"]; got != "1" {
					t.Errorf("args.q: got %v", got)
				}
				if got, _ := m["url"].(string); !strings.HasSuffix(got, "/anything/a/b?q=1") {
					t.Errorf("url: got %v", got)
				}
				if m["json"] != nil {
					t.Errorf("json: got %v, want null for an empty body", m["json"])
				}
			},
		},
	}
	_, srv := start(t, demo.HTTPBinOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			status, _, body := do(t, req)
			if status != http.StatusOK {
				t.Fatalf("status: got %d, want 200\n%s", status, body)
			}
			m := decodeObject(t, body, "args", "data", "files", "form", "headers", "json", "method", "origin", "url")
			if got := m["method"]; got != tc.method {
				t.Errorf("method: got %v, want %s", got, tc.method)
			}
			tc.check(t, m)
		})
	}
}

func TestAnythingBodyTooLarge(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/anything", bytes.NewReader(make([]byte, 2<<20)))
	if status, _, _ := do(t, req); status != http.StatusRequestEntityTooLarge {
		t.Errorf("status: got %d, want 413", status)
	}
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name  string
		codes string
		want  int
	}{
		{name: "single code", codes: "503", want: 503},
		{name: "single 2xx", codes: "204", want: 204},
		{name: "zero weight is never picked", codes: "200:0,418:1", want: 418},
		{name: "not a number", codes: "abc", want: 400},
		{name: "1xx is not a final status", codes: "100", want: 400},
		{name: "above 599", codes: "600", want: 400},
		{name: "bad weight", codes: "200:x,503:1", want: 400},
		{name: "negative weight", codes: "200:-1,503:1", want: 400},
		{name: "all weights zero", codes: "200:0,503:0", want: 400},
		{name: "empty item", codes: "200,,503", want: 400},
	}
	_, srv := start(t, demo.HTTPBinOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, srv.URL+"/status/"+tc.codes)
			if status != tc.want {
				t.Errorf("status: got %d, want %d (%s)", status, tc.want, body)
			}
			if tc.want == http.StatusBadRequest && !strings.Contains(string(body), "invalid status code") {
				t.Errorf("400 body: got %q, want it to say invalid status code", body)
			}
		})
	}
}

func TestStatusRedirectHasLocation(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/status/302", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/get" {
		t.Errorf("got %d Location %q, want 302 to /get", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestStatusDistribution(t *testing.T) {
	cases := []struct {
		name     string
		codes    string
		n        int
		min503   int // bounds on the 503 count, about ±6 sd
		max503   int
		wantBoth bool
	}{
		// 200 draws: missing either code has probability 2^-199.
		{name: "uniform list sees both codes", codes: "200,503", n: 200, min503: 1, max503: 199},
		// Binomial(400, 0.1): mean 40, sd 6.
		{name: "weights are honoured", codes: "200:0.9,503:0.1", n: 400, min503: 4, max503: 76},
	}
	_, srv := start(t, demo.HTTPBinOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			counts := map[int]int{}
			for range tc.n {
				status, _, _ := get(t, srv.URL+"/status/"+tc.codes)
				counts[status]++
			}
			if counts[200]+counts[503] != tc.n {
				t.Fatalf("codes: got %v, want only 200 and 503", counts)
			}
			if got := counts[503]; got < tc.min503 || got > tc.max503 {
				t.Errorf("503 count: got %d of %d, want %d..%d", got, tc.n, tc.min503, tc.max503)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	began := time.Now()
	status, _, body := get(t, srv.URL+"/delay/0.2?x=1")
	if elapsed := time.Since(began); elapsed < 200*time.Millisecond {
		t.Errorf("elapsed: got %v, want >= 200ms", elapsed)
	}
	if status != http.StatusOK {
		t.Fatalf("status: got %d, want 200", status)
	}
	if got := decodeObject(t, body, "args", "headers", "origin", "url")["args"]; got.(map[string]any)["x"] != "1" {
		t.Errorf("args: got %v", got)
	}
}

func TestDelayIsCapped(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{MaxDelay: 50 * time.Millisecond})
	// Uncapped this would take 30s; the test's own deadline is the check.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/delay/30", nil)
	if status, _, _ := do(t, req); status != http.StatusOK {
		t.Errorf("status: got %d, want 200", status)
	}
}

func TestDelayRejectsBadSeconds(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	for _, s := range []string{"abc", "-1", "NaN", "Inf"} {
		if status, _, _ := get(t, srv.URL+"/delay/"+s); status != http.StatusBadRequest {
			t.Errorf("/delay/%s: got %d, want 400", s, status)
		}
	}
}

func TestDelayStopsWhenClientLeaves(t *testing.T) {
	h, srv := start(t, demo.HTTPBinOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/delay/10", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the client to give up", resp.StatusCode)
	}
	waitRequests(t, h, 1) // the handler returned
	s := h.Seen()[0]
	if s.Status != 499 {
		t.Errorf("status: got %d, want 499 (client closed)", s.Status)
	}
	if s.Duration >= 5*time.Second {
		t.Errorf("handler ran %v, want it to stop soon after the client left", s.Duration)
	}
}

func TestHealthzIndexAndNotFound(t *testing.T) {
	_, srv := start(t, demo.HTTPBinOptions{})
	cases := []struct {
		name, path   string
		status       int
		bodyContains string
	}{
		{name: "health check", path: "/healthz", status: 200, bodyContains: "ok"},
		{name: "index lists endpoints", path: "/", status: 200, bodyContains: "/status/{codes}"},
		{name: "unknown path is a plain 404", path: "/nope", status: 404, bodyContains: "404 page not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, srv.URL+tc.path)
			if status != tc.status || !strings.Contains(string(body), tc.bodyContains) {
				t.Errorf("got %d %q, want %d containing %q", status, body, tc.status, tc.bodyContains)
			}
		})
	}
}

func TestVersionHeader(t *testing.T) {
	_, withVersion := start(t, demo.HTTPBinOptions{Version: "v2"})
	_, without := start(t, demo.HTTPBinOptions{})
	for _, path := range []string{"/get", "/status/503", "/status/bad", "/nope", "/healthz"} {
		if _, hdr, _ := get(t, withVersion.URL+path); hdr.Get(demo.VersionHeader) != "v2" {
			t.Errorf("%s: %s = %q, want v2", path, demo.VersionHeader, hdr.Get(demo.VersionHeader))
		}
		if _, hdr, _ := get(t, without.URL+path); hdr.Values(demo.VersionHeader) != nil {
			t.Errorf("%s without Version: got %s %q, want none", path, demo.VersionHeader, hdr.Values(demo.VersionHeader))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAccessLog(t *testing.T) {
	cases := []struct {
		name    string
		version string
		path    string
		want    string // regexp for the line after the timestamp
	}{
		{name: "version and status", version: "v9", path: "/status/503?x=1", want: `v9 GET /status/503 503 \d+\.\d{3} host=127\.0\.0\.1:\d+`},
		{name: "no version is a dash", path: "/get", want: `- GET /get 200 \d+\.\d{3} host=127\.0\.0\.1:\d+`},
		{name: "path stays escaped, one line", path: "/nope%0Ainjected", want: `- GET /nope%0Ainjected 404 \d+\.\d{3} host=127\.0\.0\.1:\d+`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			h, srv := start(t, demo.HTTPBinOptions{Version: tc.version, AccessLog: &log})
			get(t, srv.URL+tc.path)
			waitRequests(t, h, 1)
			re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ` + tc.want + "\n$")
			if got := log.String(); !re.MatchString(got) {
				t.Errorf("access log: got %q, want it to match %s", got, re)
			}
		})
	}
}

func TestSeen(t *testing.T) {
	h, srv := start(t, demo.HTTPBinOptions{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/anything/x?q=1", strings.NewReader("b"))
	req.Header.Set("X-Test", "seen")
	do(t, req)
	get(t, srv.URL+"/status/418")
	waitRequests(t, h, 2)

	seen := h.Seen()
	if len(seen) != 2 {
		t.Fatalf("Seen: got %d requests, want 2", len(seen))
	}
	first := seen[0]
	if first.Method != "POST" || first.Path != "/anything/x" || first.Status != 200 || first.Header.Get("X-Test") != "seen" {
		t.Errorf("first: got %+v", first)
	}
	if u, _ := url.Parse(srv.URL); first.Host != u.Host {
		t.Errorf("Host: got %q, want %q", first.Host, u.Host)
	}
	if seen[1].Path != "/status/418" || seen[1].Status != 418 {
		t.Errorf("second: got %+v", seen[1])
	}
	if first.At.IsZero() || seen[1].At.Before(first.At) {
		t.Errorf("At: got %v then %v, want arrival order", first.At, seen[1].At)
	}
}
