package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/client"
)

// fake serves h on a loopback port until the test ends and returns a
// client of it.
func fake(t *testing.T, h http.HandlerFunc, opts ...client.Option) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewReadsTheServersURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a trailing slash is dropped", "http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"no scheme means http, as FAULTLINE_SERVER is often written", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https is kept", "https://faultline.example.com", "https://faultline.example.com"},
		{"a path behind a reverse proxy is kept", "http://h/faultline/", "http://h/faultline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.BaseURL(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"another scheme", "ftp://h"},
		{"no host", "http://"},
		{"credentials belong in WithToken", "http://user:secret@h"},
		{"a query", "http://h/?x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := client.New(tc.in); err == nil {
				t.Errorf("New(%q) took it", tc.in)
			}
		})
	}
}

func TestRequestsCarryThePrefixTokenAndUserAgent(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_, _ = io.WriteString(w, `{"engaged": false}`)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL+"/prefix/", client.WithToken("t0k3n"), client.WithUserAgent("ci/1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lever.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/prefix/api/v1/safety/lever" || got.Header.Get("Authorization") != "Bearer t0k3n" || got.UserAgent() != "ci/1" {
		t.Errorf("request: %s, Authorization %q, User-Agent %q", got.URL.Path, got.Header.Get("Authorization"), got.UserAgent())
	}
}

func TestFromEnv(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("FAULTLINE_SERVER", "")
	if _, err := client.FromEnv(); err == nil || !strings.Contains(err.Error(), "FAULTLINE_SERVER") {
		t.Errorf("without FAULTLINE_SERVER: err = %v", err)
	}
	t.Setenv("FAULTLINE_SERVER", srv.URL)
	t.Setenv("FAULTLINE_TOKEN", "from-env")
	c, err := client.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Healthz(t.Context()); err != nil || auth != "Bearer from-env" {
		t.Errorf("Healthz: %v, Authorization %q", err, auth)
	}
	c, _ = client.FromEnv(client.WithToken("explicit"))
	if err := c.Healthz(t.Context()); err != nil || auth != "Bearer explicit" {
		t.Errorf("WithToken after the environment: %v, Authorization %q", err, auth)
	}
}

func TestErrorsCarryWhatTheAPISaid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		check  func(t *testing.T, e *client.Error)
	}{
		{"a refused document: field, problems", 422, nil,
			`{"error": {"message": "VirtualService httpbin: spec.http[0]: bad", "field": "spec.http[0]"}, "problems": [{"severity": "error", "path": "spec.http[0]", "line": 12, "message": "bad"}]}`,
			func(t *testing.T, e *client.Error) {
				if e.Field != "spec.http[0]" || len(e.Problems) != 1 || e.Problems[0].Line != 12 {
					t.Errorf("error: %+v", e)
				}
			}},
		{"a full queue: code and Retry-After", 429, map[string]string{"Retry-After": "3"},
			`{"error": {"message": "the run queue is full", "code": "queue_full"}}`,
			func(t *testing.T, e *client.Error) {
				if e.Code != client.CodeQueueFull || e.RetryAfter != 3*time.Second {
					t.Errorf("error: %+v", e)
				}
			}},
		{"an answer not from the API (a proxy in front)", 502, map[string]string{"Content-Type": "text/html"},
			"<html>bad gateway</html>",
			func(t *testing.T, e *client.Error) {
				if !strings.HasPrefix(e.Message, "Bad Gateway") || e.Code != "" {
					t.Errorf("error: %+v", e)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := c.Experiments.Create(t.Context(), []byte("kind: Experiment\n"))
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.StatusCode != tc.status || e.Method != "POST" || e.Path != "/api/v1/experiments" {
				t.Errorf("error: %+v", e)
			}
			if got := e.Error(); !strings.Contains(got, "POST /api/v1/experiments") {
				t.Errorf("Error() = %q, want the request named", got)
			}
			tc.check(t, e)
		})
	}
	if client.Code(nil) != "" || client.Code(errors.New("x")) != "" || client.IsNotFound(errors.New("x")) {
		t.Error("Code and IsNotFound of an error that is not the API's")
	}
}

// TestWaitFallsBackToPolling: when the event stream drops before the end,
// Wait reads the run until it has ended, bearing a failed read.
func TestWaitFallsBackToPolling(t *testing.T) {
	var reads atomic.Int32
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/runs/5/events":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "event:progress\ndata:{\"status\":\"running\",\"requests\":3}\n\n: keep-alive\n\n")
			// The handler returns: the stream ends without an end event.
		case "/api/v1/runs/5":
			switch reads.Add(1) {
			case 1:
				_, _ = io.WriteString(w, `{"id": 5, "status": "running"}`)
			case 2:
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error": {"message": "shutting down"}}`)
			default:
				_, _ = io.WriteString(w, `{"id": 5, "status": "succeeded", "verdict": "pass", "report": {"status": "succeeded", "codes": {"200": 4}, "fortio": {"RetCodes": {"200": 4}}}}`)
			}
		default:
			http.NotFound(w, r)
		}
	}, client.WithPollInterval(5*time.Millisecond))
	run, err := c.Runs.Wait(t.Context(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != client.StatusSucceeded || run.Verdict != client.VerdictPass || run.Report == nil || run.Report.Codes["200"] != 4 {
		t.Fatalf("run = %+v", run)
	}
	if !strings.Contains(string(run.Report.Raw), "RetCodes") {
		t.Errorf("Raw = %s, want the report's JSON with fortio's", run.Report.Raw)
	}
	if n := reads.Load(); n != 3 {
		t.Errorf("%d reads of the run, want 3", n)
	}
	// Printed, the report is what the server sent, fortio's result too.
	if b, err := json.Marshal(run); err != nil || !strings.Contains(string(b), `"fortio":{"RetCodes"`) {
		t.Errorf("the run as JSON: %s %v", b, err)
	}
}

// TestWaitStopsAtARefusal: a run that does not exist is an error at
// once, not a poll until the deadline.
func TestWaitStopsAtARefusal(t *testing.T) {
	var reads atomic.Int32
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error": {"message": "not found"}}`)
	}, client.WithPollInterval(time.Millisecond))
	if _, err := c.Runs.Wait(t.Context(), 9); !client.IsNotFound(err) {
		t.Errorf("err = %v, want a 404", err)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a run that never ends
			return
		}
		_, _ = io.WriteString(w, `{"id": 1, "status": "running"}`)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.GameDayRuns.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
}

func TestPageNext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		page      client.Page[int]
		want      client.ListOptions
		wantAfter bool
	}{
		{"a full first page of more", client.Page[int]{Items: make([]int, 50), Total: 120, Limit: 50}, client.ListOptions{Limit: 50, Offset: 50}, true},
		{"the last page", client.Page[int]{Items: make([]int, 20), Total: 120, Limit: 50, Offset: 100}, client.ListOptions{}, false},
		{"an empty page past the end", client.Page[int]{Total: 3, Limit: 50, Offset: 10}, client.ListOptions{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.page.Next()
			if got != tc.want || ok != tc.wantAfter {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tc.want, tc.wantAfter)
			}
		})
	}
}
