package inbound_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy/inbound"
)

// serve starts s on a loopback port and returns its address.
func serve(t *testing.T, s *inbound.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, inbound.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// dial opens a raw connection with a deadline the test cannot outlive.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	return res, string(b)
}

// echo answers with the method, path and body it got.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
})

func TestKeepAliveAndPipelinedRequestsAnsweredInOrder(t *testing.T) {
	var opened atomic.Int64
	addr := serve(t, &inbound.Server{Handler: echo, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}})
	c, br := dial(t, addr)
	// Three requests in one write, the second with a body.
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"+
		"GET /three HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []string{"GET /one ", "POST /two body", "GET /three "} {
		res, got := readResponse(t, br, "GET")
		if res.StatusCode != 200 || got != want || res.ContentLength != int64(len(want)) {
			t.Errorf("got %d %q (length %d), want 200 %q with its length", res.StatusCode, got, res.ContentLength, want)
		}
	}
	// Then one more on the same connection, after a pause.
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "GET /four HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, got := readResponse(t, br, "GET"); got != "GET /four " {
		t.Errorf("after a pause: %q", got)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("x", 5000)
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			io.WriteString(w, "hello") // held back: sent with its length
		case "/long":
			io.WriteString(w, big) // past the hold: chunked
		case "/trailers":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, " part two")
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/length":
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abcdef") // cut at its length
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			io.WriteString(w, "dropped")
		}
	})})
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res, string(b)
	}
	if res, b := get("/short"); b != "hello" || res.ContentLength != 5 || len(res.TransferEncoding) != 0 {
		t.Errorf("/short: %q, length %d, %v", b, res.ContentLength, res.TransferEncoding)
	}
	if res, b := get("/long"); b != big || res.ContentLength != -1 || len(res.TransferEncoding) != 1 {
		t.Errorf("/long: %d bytes, length %d, %v", len(b), res.ContentLength, res.TransferEncoding)
	}
	res, b := get("/trailers")
	if b != "part one, part two" || res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("X-Late") != "yes" {
		t.Errorf("/trailers: %q, trailers %v", b, res.Trailer)
	}
	if res, b := get("/length"); b != "abc" || res.ContentLength != 3 {
		t.Errorf("/length: %q, length %d", b, res.ContentLength)
	}
	if res, b := get("/nocontent"); res.StatusCode != 204 || b != "" {
		t.Errorf("/nocontent: %d %q", res.StatusCode, b)
	}
	// HEAD keeps the length and sends no body.
	c, br := dial(t, addr)
	io.WriteString(c, "HEAD /length HTTP/1.1\r\nHost: a\r\n\r\nGET /short HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, b := readResponse(t, br, "HEAD"); res.ContentLength != 3 || b != "" {
		t.Errorf("HEAD: length %d, body %q", res.ContentLength, b)
	}
	if _, b := readResponse(t, br, "GET"); b != "hello" {
		t.Errorf("after HEAD: %q", b)
	}
}

func TestChunkedRequestBodyWithTrailers(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- string(b) + "|" + r.Trailer.Get("X-Sum") + "|" + errString(err)
	})})
	c, br := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"+
		"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
	if res, _ := readResponse(t, br, "POST"); res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	if g := <-got; g != "hello world|42|" {
		t.Errorf("handler got %q", g)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestExpectContinue(t *testing.T) {
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusForbidden) // the body is never asked for
			return
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "got "+string(b))
	})})

	// The client waits for 100 Continue before it sends the body.
	c, br := dial(t, addr)
	io.WriteString(c, "POST /take HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	res, _ := readResponse(t, br, "POST")
	if res.StatusCode != http.StatusContinue {
		t.Fatalf("interim status %d, want 100", res.StatusCode)
	}
	io.WriteString(c, "data")
	if res, b := readResponse(t, br, "POST"); res.StatusCode != 200 || b != "got data" {
		t.Errorf("final: %d %q", res.StatusCode, b)
	}

	// A handler that answers without reading: no 100, and the connection
	// closes (the client may or may not send the body).
	c, br = dial(t, addr)
	io.WriteString(c, "POST /refuse HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	res, _ = readResponse(t, br, "POST")
	if res.StatusCode != http.StatusForbidden || !res.Close {
		t.Errorf("refused: %d, close %v; want 403 and close", res.StatusCode, res.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the refusal the connection stayed open: %v", err)
	}

	// Any other expectation: 417.
	c, br = dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n")
	if res, _ := readResponse(t, br, "GET"); res.StatusCode != http.StatusExpectationFailed {
		t.Errorf("Expect: magic: %d, want 417", res.StatusCode)
	}
}

func TestUpgradeHandsTheConnectionOver(t *testing.T) {
	var states []http.ConnState
	stateCh := make(chan http.ConnState, 16)
	addr := serve(t, &inbound.Server{
		ConnState: func(_ net.Conn, s http.ConnState) { stateCh <- s },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			brw.Flush()
			// Echo one line back, bytes already buffered included.
			line, _ := brw.ReadString('\n')
			io.WriteString(conn, strings.ToUpper(line))
		}),
	})
	c, br := dial(t, addr)
	// The first protocol bytes ride in the same write as the request.
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	line, err := br.ReadString('\n')
	if line != "HELLO\n" {
		t.Errorf("echoed %q, %v", line, err)
	}
	c.Close()
	for len(states) < 3 {
		states = append(states, <-stateCh)
	}
	if states[0] != http.StateNew || states[len(states)-1] != http.StateHijacked {
		t.Errorf("states %v, want new … hijacked", states)
	}
}

func TestHeaderLimits(t *testing.T) {
	addr := serve(t, &inbound.Server{Handler: echo, MaxHeaderBytes: 1 << 10, MaxHeaders: 5})
	for name, head := range map[string]string{
		"too long":   "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 2000) + "\r\n\r\n",
		"too many":   "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
		"never ends": "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 600),
	} {
		c, br := dial(t, addr)
		io.WriteString(c, head)
		res, _ := readResponse(t, br, "GET")
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %d, want 431", name, res.StatusCode)
		}
	}
	c, br := dial(t, addr)
	io.WriteString(c, "GET /fits HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n")
	if res, _ := readResponse(t, br, "GET"); res.StatusCode != 200 {
		t.Errorf("within the limits: %d", res.StatusCode)
	}
}

// closedWithin reports whether the server closes c within limit.
func closedWithin(c net.Conn, br *bufio.Reader, limit time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, br)
	return err == nil // EOF: the server closed it
}

func TestSlowClientsAreCutOff(t *testing.T) {
	bodyErr := make(chan error, 1)
	writeErr := make(chan error, 1)
	addr := serve(t, &inbound.Server{
		ReadHeaderTimeout: 100 * time.Millisecond,
		BodyTimeout:       100 * time.Millisecond,
		WriteTimeout:      100 * time.Millisecond,
		IdleTimeout:       200 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/body":
				_, err := io.ReadAll(r.Body)
				bodyErr <- err
			case "/flood":
				chunk := make([]byte, 64<<10)
				var err error
				for i := 0; i < 4096 && err == nil; i++ { // at most 256 MiB
					_, err = w.Write(chunk)
				}
				writeErr <- err
			}
		}),
	})
	// A head that never ends.
	c, br := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n")
	if !closedWithin(c, br, 5*time.Second) {
		t.Error("a head that stopped half way kept its connection")
	}
	// A body that stops.
	c, _ = dial(t, addr)
	io.WriteString(c, "POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
	select {
	case err := <-bodyErr:
		if err == nil {
			t.Error("a body that stopped read to its end")
		}
	case <-time.After(5 * time.Second):
		t.Error("a body that stopped kept the handler waiting")
	}
	// A client that reads nothing of a large response.
	c, _ = dial(t, addr)
	io.WriteString(c, "GET /flood HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case err := <-writeErr:
		if err == nil {
			t.Error("256 MiB written to a client that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Error("a client that reads nothing kept the handler writing")
	}
	// An idle connection.
	c, br = dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	readResponse(t, br, "GET")
	if !closedWithin(c, br, 5*time.Second) {
		t.Error("an idle connection stayed open past its timeout")
	}
}

func TestClientGoneCancelsTheRequest(t *testing.T) {
	ended := make(chan error, 1)
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(10 * time.Second):
			ended <- nil
		}
	})})
	c, _ := dial(t, addr)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the request is in the handler
	c.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the request's context ended with %v, want it cancelled when the client left", err)
	}
}

func TestShutdownLetsTheRequestInFlightFinish(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			return // the idle connection's request
		}
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})}
	addr := serve(t, s)
	// An idle connection (it served a request): closed at once. One that
	// never sent anything would be given 5 s, as net/http gives it.
	idle, idleBr := dial(t, addr)
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	busy, busyBr := dial(t, addr)
	readResponse(t, idleBr, "GET")
	io.WriteString(busy, "GET /busy HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	if !closedWithin(idle, idleBr, 5*time.Second) {
		t.Error("Shutdown left an idle connection open")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if res, b := readResponse(t, busyBr, "GET"); res.StatusCode != 200 || b != "finished" {
		t.Errorf("the request in flight got %d %q", res.StatusCode, b)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "fine")
	})})
	c, br := dial(t, addr)
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a panic: %v, want the connection closed", err)
	}
	c, br = dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, b := readResponse(t, br, "GET"); b != "fine" {
		t.Errorf("the next connection got %q", b)
	}
}

// A handler that aborts (http.ErrAbortHandler) while another goroutine
// still reads its body: the read ends before the connection's buffer is
// given back (the race detector watches this).
func TestAbortWhileTheBodyIsRead(t *testing.T) {
	reading := make(chan struct{})
	readErr := make(chan error, 1)
	addr := serve(t, &inbound.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		go func() {
			close(reading)
			_, err := io.ReadAll(r.Body)
			readErr <- err
		}()
		<-reading
		time.Sleep(20 * time.Millisecond) // the reader is blocked on the socket
		panic(http.ErrAbortHandler)
	})})
	c, br := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npart")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the abort: %v, want the connection closed", err)
	}
	if err := <-readErr; err == nil {
		t.Error("the body read to its end although the client sent 4 of 100 bytes")
	}
}
