package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server/webhook"
)

// received is one request as the receiver saw it.
type received struct {
	method string
	header http.Header
	body   []byte
}

// receiver is a loopback webhook endpoint answering with the statuses in
// order (the last one repeats) and recording every request.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{method: req.Method, header: req.Header.Clone(), body: body})
		i := min(len(r.got)-1, len(r.statuses)-1)
		code := r.statuses[i]
		r.mu.Unlock()
		if code == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// handMAC recomputes the signature as a receiver following the package
// documentation would, without using the package.
func handMAC(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + string(body)))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type runEvent struct {
	RunID  int64  `json:"run_id"`
	Status string `json:"status"`
}

func TestSignedDeliveryVerifies(t *testing.T) {
	secret := []byte("s3cret")
	r := newReceiver(t, http.StatusNoContent)
	before := time.Now()
	d := webhook.New(secret, nil).Send(context.Background(), r.srv.URL+"/hook", "run.finished", runEvent{RunID: 7, Status: "succeeded"})

	if !d.OK() || d.Err != "" || d.StatusCode != http.StatusNoContent || d.Attempts != 1 {
		t.Fatalf("delivery = %+v, want one successful attempt with 204", d)
	}
	if d.Event != "run.finished" || d.URL != r.srv.URL+"/hook" || len(d.ID) != 32 || d.At.Before(before.Add(-time.Second)) {
		t.Errorf("delivery fields = %+v", d)
	}
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.method != http.MethodPost {
		t.Errorf("method = %s, want POST", got.method)
	}
	for h, want := range map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "Faultline-Webhook/1",
		webhook.EventHeader:    "run.finished",
		webhook.DeliveryHeader: d.ID,
	} {
		if v := got.header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	var ev runEvent
	if err := json.Unmarshal(got.body, &ev); err != nil || ev != (runEvent{RunID: 7, Status: "succeeded"}) {
		t.Errorf("body %s decoded to %+v, %v", got.body, ev, err)
	}

	if err := webhook.Verify(secret, got.header, got.body, time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	ts := got.header.Get(webhook.TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Second {
		t.Errorf("timestamp %q is not the current unix time (%v)", ts, err)
	}
	if sig := got.header.Get(webhook.SignatureHeader); sig != handMAC(secret, ts, got.body) {
		t.Errorf("signature %q, recomputed by hand %q", sig, handMAC(secret, ts, got.body))
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"run_id":1}`)
	signed := func(secret []byte, at time.Time, body []byte) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		h := http.Header{}
		h.Set(webhook.TimestampHeader, ts)
		h.Set(webhook.SignatureHeader, handMAC(secret, ts, body))
		return h
	}
	now := time.Now()
	if err := webhook.Verify(secret, signed(secret, now, body), body, time.Minute); err != nil {
		t.Fatalf("a fresh, correctly signed request was refused: %v", err)
	}
	noPrefix := signed(secret, now, body)
	noPrefix.Set(webhook.SignatureHeader, strings.TrimPrefix(noPrefix.Get(webhook.SignatureHeader), "sha256="))
	notHex := signed(secret, now, body)
	notHex.Set(webhook.SignatureHeader, "sha256=zz")
	badTS := signed(secret, now, body)
	badTS.Set(webhook.TimestampHeader, "yesterday")

	cases := []struct {
		name   string
		secret []byte
		h      http.Header
		body   []byte
		want   error
	}{
		{"wrong secret", []byte("other"), signed(secret, now, body), body, webhook.ErrBadSignature},
		{"tampered body", secret, signed(secret, now, body), []byte(`{"run_id":2}`), webhook.ErrBadSignature},
		{"signed by another secret", secret, signed([]byte("other"), now, body), body, webhook.ErrBadSignature},
		{"stale timestamp", secret, signed(secret, now.Add(-2*time.Minute), body), body, webhook.ErrBadTimestamp},
		{"future timestamp", secret, signed(secret, now.Add(2*time.Minute), body), body, webhook.ErrBadTimestamp},
		{"malformed timestamp", secret, badTS, body, webhook.ErrBadTimestamp},
		{"no signature", secret, http.Header{webhook.TimestampHeader: {"1"}}, body, webhook.ErrUnsigned},
		{"no headers", secret, http.Header{}, body, webhook.ErrUnsigned},
		{"no sha256= prefix", secret, noPrefix, body, webhook.ErrBadSignature},
		{"signature not hex", secret, notHex, body, webhook.ErrBadSignature},
		{"empty secret", nil, signed(secret, now, body), body, webhook.ErrNoSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhook.Verify(c.secret, c.h, c.body, time.Minute)
			if !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestRetryOn5xxKeepsDeliveryID(t *testing.T) {
	secret := []byte("k")
	r := newReceiver(t, http.StatusInternalServerError, http.StatusOK)
	start := time.Now()
	d := webhook.New(secret, nil).Send(context.Background(), r.srv.URL, "run.started", map[string]int{"run_id": 3})
	if !d.OK() || d.Attempts != 2 || d.StatusCode != http.StatusOK || d.Err != "" {
		t.Fatalf("delivery = %+v, want success on attempt 2", d)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("second attempt after %s, want a back-off of about 200ms", el)
	}
	reqs := r.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	for i, req := range reqs {
		if id := req.header.Get(webhook.DeliveryHeader); id != d.ID {
			t.Errorf("attempt %d delivery ID %q, want %q", i+1, id, d.ID)
		}
		if err := webhook.Verify(secret, req.header, req.body, time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
}

func TestRetriesAreBounded(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := newReceiver(t, code)
			start := time.Now()
			d := webhook.New(nil, nil).Send(context.Background(), r.srv.URL, "e", nil)
			el := time.Since(start)
			want := map[int]string{http.StatusServiceUnavailable: "status 5xx", http.StatusTooManyRequests: "status 429"}[code]
			if d.OK() || d.Attempts != 3 || d.StatusCode != code || d.Err != want {
				t.Errorf("delivery = %+v, want 3 attempts ending with %q", d, want)
			}
			if n := len(r.requests()); n != 3 {
				t.Errorf("receiver got %d requests, want 3", n)
			}
			if el < 550*time.Millisecond || el > 5*time.Second {
				t.Errorf("three attempts took %s, want about 600ms of back-off", el)
			}
		})
	}
}

func TestNetworkErrorIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens on the port any more
	d := webhook.New(nil, nil).Send(context.Background(), url, "e", 1)
	if d.OK() || d.Attempts != 3 || d.StatusCode != 0 || d.Err != webhook.FailConnRefused || !strings.Contains(d.Detail, "connect") {
		t.Errorf("delivery = %+v, want 3 attempts failing to connect", d)
	}
}

func TestOther4xxAndRedirectsAreNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := newReceiver(t, code, http.StatusOK)
			d := webhook.New([]byte("k"), nil).Send(context.Background(), r.srv.URL, "e", 1)
			want := "status 4xx"
			if code == http.StatusFound {
				want = "redirect"
			}
			if d.OK() || d.Attempts != 1 || d.StatusCode != code || d.Err != want {
				t.Errorf("delivery = %+v, want 1 attempt failing with %q", d, want)
			}
			if n := len(r.requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
		})
	}
}

func TestCancelStopsRetriesPromptly(t *testing.T) {
	r := newReceiver(t, http.StatusInternalServerError)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answered := make(chan struct{}, 4)
	client := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		answered <- struct{}{}
		return resp, err
	})}
	done := make(chan webhook.Delivery, 1)
	go func() { done <- webhook.New(nil, client).Send(ctx, r.srv.URL, "e", 1) }()
	<-answered // the first attempt got its 500; Send is now backing off
	cancel()
	cancelled := time.Now()
	var d webhook.Delivery
	select {
	case d = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after ctx was cancelled")
	}
	if el := time.Since(cancelled); el > 150*time.Millisecond {
		t.Errorf("Send returned %s after cancel, want promptly", el)
	}
	if d.Attempts != 1 || d.OK() || d.StatusCode != http.StatusInternalServerError ||
		d.Err != "status 5xx; retry stopped: cancelled" || !strings.Contains(d.Detail, context.Canceled.Error()) {
		t.Errorf("delivery = %+v, want 1 attempt, status 500 and the cancellation in Err", d)
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("receiver got %d requests after cancel, want 1", n)
	}

	// A ctx already cancelled sends nothing.
	d = webhook.New(nil, nil).Send(ctx, r.srv.URL, "e", 1)
	if d.OK() || d.StatusCode != 0 || d.Err != webhook.FailCancelled {
		t.Errorf("delivery with a cancelled ctx = %+v", d)
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("receiver got %d requests, want still 1", n)
	}
}

func TestUnsignedWithoutSecret(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	d := webhook.New(nil, nil).Send(context.Background(), r.srv.URL, "e", 1)
	if !d.OK() {
		t.Fatalf("delivery = %+v", d)
	}
	h := r.requests()[0].header
	if v, ok := h[webhook.SignatureHeader]; ok {
		t.Errorf("unsigned delivery carries %s: %q", webhook.SignatureHeader, v)
	}
	if h.Get(webhook.TimestampHeader) == "" || h.Get(webhook.DeliveryHeader) != d.ID {
		t.Errorf("headers = %v, want timestamp and delivery ID", h)
	}
	if err := webhook.Verify([]byte("k"), h, r.requests()[0].body, time.Minute); !errors.Is(err, webhook.ErrUnsigned) {
		t.Errorf("Verify of an unsigned delivery = %v, want ErrUnsigned", err)
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }

func TestBadInputIsReportedNotSent(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	s := webhook.New([]byte("k"), nil)
	cases := []struct {
		name, url string
		payload   any
		want      string
	}{
		{"unencodable payload", r.srv.URL, make(chan int), "encode payload"},
		{"panicking payload", r.srv.URL, panicky{}, "boom"},
		{"relative url", "/hook", 1, "scheme must be http or https"},
		{"ftp url", "ftp://127.0.0.1/x", 1, "scheme must be http or https"},
		{"no host", "http:///x", 1, "host is missing"},
		{"unparsable url", "http://[::1", 1, "url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.Send(context.Background(), c.url, "e", c.payload)
			if d.OK() || d.Attempts != 0 || !strings.Contains(d.Err, c.want) {
				t.Errorf("delivery = %+v, want no attempt and an error containing %q", d, c.want)
			}
		})
	}
	if n := len(r.requests()); n != 0 {
		t.Errorf("receiver got %d requests, want 0", n)
	}
}

func TestCustomClientIsUsed(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	var n int
	client := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		n++
		return http.DefaultTransport.RoundTrip(req)
	})}
	if d := webhook.New(nil, client).Send(context.Background(), r.srv.URL, "e", 1); !d.OK() || n != 1 {
		t.Errorf("delivery = %+v, custom transport used %d times", d, n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNoGoroutineLeak(t *testing.T) {
	settle := func(limit int) int {
		var n int
		wait.Until(3*time.Second, func() bool {
			n = runtime.NumGoroutine()
			return n <= limit
		})
		return n
	}
	before := runtime.NumGoroutine()
	func() {
		ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		defer ok.Close()
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer failing.Close()
		s := webhook.New([]byte("k"), nil)
		for range 5 {
			s.Send(context.Background(), ok.URL, "e", 1)
		}
		s.Send(context.Background(), failing.URL, "e", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		s.Send(ctx, failing.URL, "e", 1)
	}()
	// httptest's Close also closes the idle connections of the default transport.
	if after := settle(before); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
