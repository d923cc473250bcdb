package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// captureTransportRequest sends req with a net/http Transport configured
// as the proxy's upstream transport used to be, and returns the bytes that
// reached the wire.
func captureTransportRequest(t *testing.T, req *http.Request, disableKeepAlives bool) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		var raw bytes.Buffer
		r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(br, &raw)))
		if err == nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		_, _ = io.WriteString(c, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		got <- raw.Bytes()
	}()
	tr := &http.Transport{Proxy: nil, DisableCompression: true, DisableKeepAlives: disableKeepAlives}
	defer tr.CloseIdleConnections()
	out := req.Clone(req.Context())
	u := *req.URL
	u.Host = ln.Addr().String()
	out.URL = &u
	if req.Body != nil {
		out.Body = io.NopCloser(bytes.NewReader(readAllBody(t, req)))
	}
	res, err := tr.RoundTrip(out)
	if err != nil {
		t.Fatalf("transport: %v", err)
	}
	res.Body.Close()
	return <-got
}

func readAllBody(t *testing.T, req *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// ourRequest returns the bytes the upstream client writes for req.
func ourRequest(t *testing.T, req *http.Request, disableKeepAlives bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	pc := &upConn{pool: &hostPool{t: &clusterTransport{disableKeepAlives: disableKeepAlives}}}
	pc.bw = bufio.NewWriter(&buf)
	if err := pc.writeRequest(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	return buf.Bytes()
}

// parsed is what a server makes of a request.
type parsed struct {
	Method, RequestURI, Proto, Host string
	Header                          http.Header
	Close                           bool
	ContentLength                   int64
	TransferEncoding                []string
	Body                            string
	Trailer                         http.Header
}

func parseRequest(t *testing.T, raw []byte) parsed {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("body of %q: %v", raw, err)
	}
	return parsed{r.Method, r.RequestURI, r.Proto, r.Host, r.Header, r.Close, r.ContentLength, r.TransferEncoding, string(body), r.Trailer}
}

// The upstream client writes, for every kind of request the proxy sends,
// what net/http's Transport wrote: byte for byte on the fast path (no
// body), the same request as a server parses it otherwise.
func TestUpstreamRequestWire(t *testing.T) {
	many := http.Header{}
	for i := 0; i < 40; i++ {
		many[fmt.Sprintf("X-H%02d", i)] = []string{fmt.Sprint(i)}
	}
	for _, tc := range []struct {
		name   string
		method string
		opaque string
		query  string
		force  bool
		header http.Header
		close  bool
		body   string
		length int64 // -1: chunked
		fast   bool  // writeHead writes it
	}{
		{name: "plain GET", method: "GET", opaque: "/p", query: "a=1&b=2", fast: true,
			header: http.Header{"X-A": {"1"}, "X-B": {" two ", "three"}, "Accept": {"*/*"}}},
		{name: "empty method is GET, forced empty query", method: "", opaque: "/", force: true, fast: true, header: http.Header{}},
		{name: "no User-Agent gets the default", method: "GET", opaque: "/", fast: true, header: http.Header{"X-A": {"1"}}},
		{name: "empty User-Agent sends none", method: "GET", opaque: "/", fast: true, header: http.Header{"User-Agent": {""}}},
		{name: "first User-Agent only, trimmed", method: "GET", opaque: "/", fast: true, header: http.Header{"User-Agent": {" a ", "b"}}},
		{name: "Close adds Connection: close", method: "GET", opaque: "/", close: true, fast: true, header: http.Header{}},
		{name: "Close with a Connection header", method: "GET", opaque: "/", close: true, fast: true, header: http.Header{"Connection": {"keep-alive"}}},
		{name: "Close with Connection: close already", method: "GET", opaque: "/", close: true, fast: true, header: http.Header{"Connection": {"Close"}}},
		{name: "POST without body sends Content-Length: 0", method: "POST", opaque: "/", fast: true, header: http.Header{}},
		{name: "PUT without body", method: "PUT", opaque: "/", fast: true, header: http.Header{}},
		{name: "PATCH without body", method: "PATCH", opaque: "/", fast: true, header: http.Header{}},
		{name: "DELETE without body sends no length", method: "DELETE", opaque: "/", fast: true, header: http.Header{}},
		{name: "forty headers, sorted", method: "GET", opaque: "/", fast: true, header: many},
		{name: "a non-canonical host key is an ordinary field", method: "GET", opaque: "/", fast: true, header: http.Header{"host": {"other"}}},
		{name: "Upgrade request", method: "GET", opaque: "/ws", fast: true, header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}},
		{name: "upgrade not a list element", method: "GET", opaque: "/ws", fast: true, header: http.Header{"Upgrade": {"websocket"}, "Connection": {"keep upgrade"}}},
		{name: "close as a word of a Connection value", method: "GET", opaque: "/", close: true, fast: true, header: http.Header{"Connection": {"keep close"}}},
		{name: "body with a length", method: "POST", opaque: "/up", body: "hello", length: 5, header: http.Header{"X-A": {"1"}}},
		{name: "chunked body", method: "PUT", opaque: "/up", body: "hello, chunks", length: -1, header: http.Header{}},
		{name: "double-slash path", method: "GET", opaque: "//x", header: http.Header{}},
	} {
		for _, dka := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/disableKeepAlives=%v", tc.name, dka), func(t *testing.T) {
				newReq := func() *http.Request {
					r := &http.Request{
						Method: tc.method,
						URL:    &url.URL{Scheme: "http", Host: "127.0.0.1:1", Opaque: tc.opaque, RawQuery: tc.query, ForceQuery: tc.force},
						Host:   "reviews:9080",
						Header: tc.header.Clone(),
						Close:  tc.close,
					}
					if tc.body != "" {
						r.Body = io.NopCloser(strings.NewReader(tc.body))
						r.ContentLength = tc.length
						if tc.length < 0 {
							r.TransferEncoding = []string{"chunked"}
						}
					}
					return r
				}
				if got := fastHead(newReq()); got != tc.fast {
					t.Fatalf("fastHead = %v, want %v", got, tc.fast)
				}
				want := captureTransportRequest(t, newReq(), dka)
				got := ourRequest(t, newReq(), dka)
				if tc.fast || !dka {
					if !bytes.Equal(got, want) {
						t.Fatalf("wire differs:\ngot  %q\nwant %q", got, want)
					}
					return
				}
				if g, w := parseRequest(t, got), parseRequest(t, want); !reflect.DeepEqual(g, w) {
					t.Fatalf("request differs:\ngot  %+v\nwant %+v", g, w)
				}
			})
		}
	}
}

// checkRequest refuses what net/http's Transport refused, before any
// connection.
func TestUpstreamRequestChecks(t *testing.T) {
	ok := func() *http.Request {
		return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:1", Opaque: "/"}, Header: http.Header{}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(r *http.Request)
		valid bool
	}{
		{"valid", func(*http.Request) {}, true},
		{"tab in a value is fine", func(r *http.Request) { r.Header["X-A"] = []string{"a\tb"} }, true},
		{"obs-text in a value is fine", func(r *http.Request) { r.Header["X-A"] = []string{"caf\xc3\xa9"} }, true},
		{"newline in a value", func(r *http.Request) { r.Header["X-A"] = []string{"a\nb"} }, false},
		{"DEL in a value", func(r *http.Request) { r.Header["X-A"] = []string{"a\x7fb"} }, false},
		{"space in a name", func(r *http.Request) { r.Header["X A"] = []string{"1"} }, false},
		{"empty name", func(r *http.Request) { r.Header[""] = []string{"1"} }, false},
		{"bad trailer", func(r *http.Request) { r.Trailer = http.Header{"X:Y": nil} }, false},
		{"bad method", func(r *http.Request) { r.Method = "GE T" }, false},
		{"no address", func(r *http.Request) { r.URL.Host = "" }, false},
		{"other scheme", func(r *http.Request) { r.URL.Scheme = "ftp" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.edit(r)
			ours := checkRequest(r) == nil
			tr := &http.Transport{Proxy: nil}
			r2 := ok()
			tc.edit(r2)
			r2.URL.Host = strings.Replace(r2.URL.Host, "127.0.0.1:1", "127.0.0.1:9", 1) // discard port: nothing listens
			_, err := tr.RoundTrip(r2)
			theirs := err == nil || strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "dial")
			if ours != tc.valid || theirs != tc.valid {
				t.Errorf("checkRequest valid=%v, net/http valid=%v (%v), want %v", ours, theirs, err, tc.valid)
			}
		})
	}
}
