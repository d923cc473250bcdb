package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
)

// The upstream HTTP/1.1 client, end to end: a hand-written upstream
// controls every byte of its responses and when its connections close; the
// client is Go's, through the mesh listener.

// rawUpstream is a loopback HTTP/1.1 server written by hand. serve runs
// once per connection (n counts connections from 1) and returns when the
// connection should close.
type rawUpstream struct {
	ln    net.Listener
	conns atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

func newRawUpstream(t *testing.T, serve func(n int64, c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := u.conns.Add(1)
			u.mu.Lock()
			u.open = append(u.open, c)
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range u.open {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

// readReq reads one request and its body; false at the end of the
// connection.
func readReq(br *bufio.Reader) (*http.Request, string, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", false
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", false
	}
	return req, string(body), true
}

// answer serves every request of a connection with the same raw response.
func answer(raw string) func(int64, net.Conn, *bufio.Reader) {
	return func(_ int64, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, ok := readReq(br); !ok {
				return
			}
			if _, err := io.WriteString(c, raw); err != nil {
				return
			}
		}
	}
}

// send sends method to the mesh listener for reviews and returns the
// response with its body read (and its trailers).
func (h *harness) send(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, "http://"+h.p.MeshAddr()+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = "reviews:9080"
	for _, kv := range header {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, string(b)
}

func (h *harness) cluster() (cx, rxReset int64) {
	cs, _ := h.p.Stats().Cluster(reviewsCluster)
	return cs.UpstreamCxTotal, cs.UpstreamRqRxReset
}

// Response framing: the body the client gets, and whether the upstream
// connection is kept for the next request.
func TestUpstreamResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name      string
		method    string
		raw       string // every response on the connection
		closeConn bool   // the upstream closes after each response
		wantCode  int
		wantBody  string
		wantHdr   string // "Name: value" the client must see
		wantConns int64  // upstream connections for three requests
	}{
		{name: "content-length body, kept alive", method: "GET",
			raw:      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			wantCode: 200, wantBody: "hello", wantConns: 1},
		{name: "chunked body is de-chunked and kept alive", method: "GET",
			raw:      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			wantCode: 200, wantBody: "hello world", wantConns: 1},
		{name: "HEAD has no body whatever its Content-Length", method: "HEAD",
			raw:      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			wantCode: 200, wantBody: "", wantHdr: "Content-Length: 1234", wantConns: 1},
		{name: "204 has no body", method: "GET",
			raw:      "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
			wantCode: 204, wantBody: "", wantHdr: "X-A: 1", wantConns: 1},
		{name: "304 has no body even with a length", method: "GET",
			raw:      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nEtag: \"x\"\r\n\r\n",
			wantCode: 304, wantBody: "", wantHdr: "Etag: \"x\"", wantConns: 1},
		{name: "1xx informational responses are skipped", method: "GET",
			raw:      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantCode: 200, wantBody: "ok", wantConns: 1},
		{name: "Connection: close from the upstream ends the connection", method: "GET",
			raw:       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
			closeConn: true, wantCode: 200, wantBody: "ok", wantConns: 3},
		{name: "a body without length runs to EOF, then the connection is gone", method: "GET",
			raw:       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
			closeConn: true, wantCode: 200, wantBody: "until the end", wantConns: 3},
		{name: "HTTP/1.0 without keep-alive is not reused (the upstream keeps it open)", method: "GET",
			raw:      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantCode: 200, wantBody: "ok", wantConns: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve := answer(tc.raw)
			if tc.closeConn {
				serve = func(_ int64, c net.Conn, br *bufio.Reader) {
					if _, _, ok := readReq(br); ok {
						_, _ = io.WriteString(c, tc.raw)
					}
				}
			}
			up := newRawUpstream(t, serve)
			h := start(t, experiment(svc("reviews", 9080, up.addr())))
			for i := 0; i < 3; i++ {
				res, body := h.send(tc.method, "/", nil)
				if res.StatusCode != tc.wantCode || body != tc.wantBody {
					t.Fatalf("request %d: got %d %q, want %d %q", i+1, res.StatusCode, body, tc.wantCode, tc.wantBody)
				}
				if tc.wantHdr != "" {
					k, v, _ := strings.Cut(tc.wantHdr, ": ")
					if got := res.Header.Get(k); got != v {
						t.Errorf("request %d: %s = %q, want %q", i+1, k, got, v)
					}
				}
			}
			if got := up.conns.Load(); got != tc.wantConns {
				t.Errorf("%d upstream connections, want %d", got, tc.wantConns)
			}
			if cx, reset := h.cluster(); cx != tc.wantConns || reset != 0 {
				t.Errorf("upstream_cx_total %d, upstream_rq_rx_reset %d: want %d and 0", cx, reset, tc.wantConns)
			}
		})
	}
}

// Chunked responses keep their trailers, announced to the client.
func TestUpstreamChunkedTrailers(t *testing.T) {
	up := newRawUpstream(t, answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"+
		"3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"))
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	res, body := h.send("GET", "/", nil)
	if body != "abc" || res.Trailer.Get("X-Sum") != "42" {
		t.Errorf("got %q with trailers %v, want abc and X-Sum: 42", body, res.Trailer)
	}
}

// A connection the upstream closes while it is idle is never used: the
// next request, with or without a body, goes out on a new connection and
// succeeds (net/http's transport notices the same with its idle read).
func TestUpstreamClosedIdleConnection(t *testing.T) {
	closed := make(chan struct{}, 4)
	up := newRawUpstream(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, _, ok := readReq(br); !ok {
			return
		}
		// A keep-alive answer, then the upstream goes away anyway.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})
	vs := retryVS("retries: {attempts: 0}") // no retry policy hides a failure
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	for i, method := range []string{"GET", "POST", "GET"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("payload")
		}
		res, got := h.send(method, "/", body)
		if res.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d (%s): got %d %q, want 200 ok", i+1, method, res.StatusCode, got)
		}
		// Loopback delivers the upstream's FIN before its close returns.
		<-closed
	}
	if cx, reset := h.cluster(); cx != 3 || reset != 0 {
		t.Errorf("upstream_cx_total %d, upstream_rq_rx_reset %d: want 3 and 0", cx, reset)
	}
	if h.flag("UC") != 0 {
		t.Errorf("flags %v: no request may fail", h.p.Stats().ByFlag)
	}
}

// A reused connection that the upstream closes just as a request arrives
// (it read the request, then hung up without a byte): an idempotent request
// without a body goes out again on a new connection, silently; any other
// request fails as a reset (503 UC), as with net/http's transport, and
// only the route's retry policy may send it again.
func TestUpstreamResetOnReusedConnection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		body     string
		wantCode int
		wantHits int64 // requests the upstream answered
	}{
		{"GET is sent again", "GET", "", 200, 2},
		{"HEAD is sent again", "HEAD", "", 200, 2},
		{"POST with a body is not", "POST", "data", 503, 1},
		{"DELETE is not (not idempotent by net/http's rule)", "DELETE", "", 503, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			up := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
				for i := 0; ; i++ {
					if _, _, ok := readReq(br); !ok {
						return
					}
					if n == 1 && i == 1 {
						return // the second request on the first connection: hang up
					}
					hits.Add(1)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
			vs := retryVS("retries: {attempts: 0}")
			h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
			if res, _ := h.send("GET", "/", nil); res.StatusCode != 200 {
				t.Fatalf("first request: %d", res.StatusCode)
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			res, got := h.send(tc.method, "/", body)
			if res.StatusCode != tc.wantCode {
				t.Fatalf("got %d %q, want %d", res.StatusCode, got, tc.wantCode)
			}
			if tc.wantCode == 503 && !strings.HasSuffix(got, "reset reason: connection termination") {
				t.Errorf("body %q, want a connection termination reply", got)
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("upstream answered %d requests, want %d", got, tc.wantHits)
			}
		})
	}
}

// The request body streams to the upstream while the response comes back:
// an upstream that answers without reading a large body gets its answer
// relayed (a client that wrote the whole body before reading would wait
// for the upstream forever), and the connection, whose request was never
// fully written, is not reused.
func TestUpstreamAnswersBeforeBody(t *testing.T) {
	stop := make(chan struct{})
	up := newRawUpstream(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 7\r\n\r\ntoo big")
		<-stop // never read the body
	})
	defer close(stop)
	vs := retryVS("retries: {attempts: 0}") // no buffering: the body streams
	h := start(t, experiment(svc("reviews", 9080, up.addr()), vs))
	c, err := net.Dial("tcp", h.p.MeshAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const size = 8 << 20 // far more than the socket buffers hold
	go func() {
		fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = c.Write(make([]byte, size))
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || string(body) != "too big" {
		t.Errorf("got %d %q, want the upstream's early 413", res.StatusCode, body)
	}
	wait.For(t, 5*time.Second, "the half-written connection to close", func() bool {
		cs, _ := h.p.Stats().Cluster(reviewsCluster)
		return cs.UpstreamCxActive == 0
	})
}

// Request bodies reach the upstream framed as the client sent them: with
// a length, or chunked with their trailers; buffered for retries or
// streamed.
func TestUpstreamRequestBodies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retries string
		chunked bool
	}{
		{"length, buffered for retries", "retries: {attempts: 2}", false},
		{"length, streamed", "retries: {attempts: 0}", false},
		{"chunked with a trailer, buffered", "retries: {attempts: 2}", true},
		{"chunked with a trailer, streamed", "retries: {attempts: 0}", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type seen struct {
				te, body, trailer string
				length            int64
			}
			got := make(chan seen, 1)
			up := newRawUpstream(t, func(_ int64, c net.Conn, br *bufio.Reader) {
				req, body, ok := readReq(br)
				if !ok {
					return
				}
				got <- seen{strings.Join(req.TransferEncoding, ","), body, req.Trailer.Get("X-Check"), req.ContentLength}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			})
			h := start(t, experiment(svc("reviews", 9080, up.addr()), retryVS(tc.retries)))
			payload := strings.Repeat("0123456789", 5000)
			var body io.Reader = strings.NewReader(payload)
			if tc.chunked {
				body = io.MultiReader(body) // unknown length: the client chunks it
			}
			req, _ := http.NewRequest("PUT", "http://"+h.p.MeshAddr()+"/", body)
			req.Host = "reviews:9080"
			if tc.chunked {
				req.Trailer = http.Header{"X-Check": {"sum"}}
			}
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			s := <-got
			if s.body != payload {
				t.Errorf("upstream got %d bytes, want %d", len(s.body), len(payload))
			}
			if tc.chunked && (s.te != "chunked" || s.trailer != "sum") {
				t.Errorf("transfer-encoding %q, trailer %q: want chunked and sum", s.te, s.trailer)
			}
			if !tc.chunked && s.length != int64(len(payload)) {
				t.Errorf("content-length %d, want %d", s.length, len(payload))
			}
		})
	}
}

// A client that goes away mid-response closes the upstream connection
// (never reused half-read); the next request gets a new one.
func TestUpstreamEarlyCloseDiscardsConnection(t *testing.T) {
	release := make(chan struct{})
	up := newRawUpstream(t, func(n int64, c net.Conn, br *bufio.Reader) {
		for {
			req, _, ok := readReq(br)
			if !ok {
				return
			}
			if req.URL.Path == "/slow" {
				// Chunked: the proxy relays each piece as it comes.
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhalf-\r\n")
				<-release
				_, _ = io.WriteString(c, "5\r\ndone!\r\n0\r\n\r\n")
				continue
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	defer close(release)
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.p.MeshAddr()+"/slow", nil)
	req.Host = "reviews:9080"
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "half-" {
		t.Fatalf("read %q, %v", buf, err)
	}
	cancel()
	res.Body.Close()
	wait.For(t, 5*time.Second, "the proxy to drop the half-read connection", func() bool {
		cs, _ := h.p.Stats().Cluster(reviewsCluster)
		return cs.UpstreamCxActive == 0
	})
	if res, body := h.send("GET", "/", nil); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("next request: %d %q", res.StatusCode, body)
	}
	if got := up.conns.Load(); got != 2 {
		t.Errorf("%d upstream connections, want 2 (the half-read one discarded)", got)
	}
}

// A client that gives up while the upstream is still thinking closes the
// upstream connection at once: the upstream sees it go.
func TestUpstreamCancelClosesConnection(t *testing.T) {
	gone, read := make(chan struct{}), make(chan struct{})
	up := newRawUpstream(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, _, ok := readReq(br); !ok {
			return
		}
		close(read)
		// Never answer; a read returns when the proxy closes.
		_, _ = br.ReadByte()
		close(gone)
	})
	h := start(t, experiment(svc("reviews", 9080, up.addr())))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.p.MeshAddr()+"/", nil)
		req.Host = "reviews:9080"
		res, err := h.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// The request, not only the connection: a client gone before the
	// request was sent leaves the connection idle, as it should.
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	cancel()
	<-done
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection stayed open after the client went away")
	}
}

// No goroutine outlives a burst of requests of every kind (kept-alive,
// closed by the upstream, without length, refused, bodies) once the proxy
// is closed.
func TestUpstreamNoGoroutineLeak(t *testing.T) {
	before := quietGoroutines()
	func() {
		var raws []*rawUpstream
		for _, raw := range []string{
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		} {
			raws = append(raws, newRawUpstream(t, answer(raw)))
		}
		raws = append(raws, newRawUpstream(t, func(_ int64, c net.Conn, br *bufio.Reader) {
			if _, _, ok := readReq(br); ok {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil EOF")
			}
		}))
		src := experiment(svc("reviews", 9080, raws[0].addr(), raws[1].addr(), raws[2].addr(), deadAddr(t)),
			retryVS("retries: {attempts: 1, retryOn: connect-failure}"))
		h := start(t, src)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					var body io.Reader
					if i%3 == 0 {
						body = strings.NewReader("some body")
					}
					req, _ := http.NewRequest("POST", "http://"+h.p.MeshAddr()+"/", body)
					req.Host = "reviews:9080"
					if res, err := h.client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		if err := h.p.Close(); err != nil {
			t.Error(err)
		}
		h.client.CloseIdleConnections()
		for _, u := range raws {
			u.ln.Close()
		}
	}()
	if after := settleGoroutines(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
