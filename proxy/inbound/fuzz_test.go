package inbound_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/proxy/inbound"
)

// seen is what a handler saw of one request.
type seen struct {
	Method, RequestURI, URL, Proto, Host string
	Major, Minor                         int
	Header, Trailer                      string
	ContentLength                        int64
	TransferEncoding                     []string
	Close                                bool
	Body                                 string
	BodyErr                              bool
}

func fields(h http.Header) string {
	var b strings.Builder
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q\n", k, h[k])
	}
	return b.String()
}

// recorder is a handler noting what it saw, answering 200 "ok".
type recorder struct{ got chan seen }

func (rec recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rec.got <- seen{
		Method: r.Method, RequestURI: r.RequestURI, URL: r.URL.String(), Proto: r.Proto, Host: r.Host,
		Major: r.ProtoMajor, Minor: r.ProtoMinor, Header: fields(r.Header), Trailer: fields(r.Trailer),
		ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Close: r.Close,
		Body: string(body), BodyErr: err != nil,
	}
	io.WriteString(w, "ok")
}

// exchange sends raw to a fresh connection of addr, half-closes it, and
// returns the requests the handler saw and the status codes the client
// read back.
func exchange(t testing.TB, addr string, got chan seen, raw []byte) ([]seen, []int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		conn.Write(raw)
		conn.(*net.TCPConn).CloseWrite()
	}()
	var codes []int
	br := bufio.NewReader(conn)
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		codes = append(codes, res.StatusCode)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	var reqs []seen
	for {
		select {
		case s := <-got:
			reqs = append(reqs, s)
			continue
		default:
		}
		break
	}
	return reqs, codes
}

// twins starts net/http's server and the inbound one, each with its own
// recorder, and returns their addresses and channels.
func twins(t testing.TB) (stdAddr string, stdGot chan seen, ownAddr string, ownGot chan seen) {
	stdGot, ownGot = make(chan seen, 1024), make(chan seen, 1024)
	stdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ownLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: recorder{stdGot}, DisableGeneralOptionsHandler: true}
	own := &inbound.Server{Handler: recorder{ownGot}, MaxHeaders: 1 << 20, MaxHeaderBytes: 1 << 20}
	go std.Serve(stdLn)
	go own.Serve(ownLn)
	t.Cleanup(func() {
		std.Close()
		own.Close()
	})
	return stdLn.Addr().String(), stdGot, ownLn.Addr().String(), ownGot
}

var seeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p/a/t/h?q=1&r=%20x HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
	"GET /a%2Fb/c%20d HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a!b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /? HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a?? HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  3 \r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /again HTTP/1.0\r\n\r\n",
	"GET http://example.com/abs?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET http://example.com:81 HTTP/1.1\r\nHost: example.com:81\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nx-lower: 1\r\nX-LOWER: 2\r\ncontent-TYPE: t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX:  padded \t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	"GET / FOO/1.1\r\nHost: a\r\n\r\n",
	"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTrailer: X\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"",
	"GET / HTTP/1.1\r\nHost: a",
}

// TestParsingMatchesNetHTTP sends each seed to net/http's server and to
// the inbound server and compares what their handlers saw and what the
// client got back.
func TestParsingMatchesNetHTTP(t *testing.T) {
	stdAddr, stdGot, ownAddr, ownGot := twins(t)
	for _, raw := range seeds {
		compare(t, stdAddr, stdGot, ownAddr, ownGot, []byte(raw))
	}
}

// FuzzParsingMatchesNetHTTP is TestParsingMatchesNetHTTP over mutations
// of the seeds.
func FuzzParsingMatchesNetHTTP(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	stdAddr, stdGot, ownAddr, ownGot := twins(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096 {
			return
		}
		compare(t, stdAddr, stdGot, ownAddr, ownGot, raw)
	})
}

func compare(t *testing.T, stdAddr string, stdGot chan seen, ownAddr string, ownGot chan seen, raw []byte) {
	t.Helper()
	if bytes.HasPrefix(raw, []byte("PRI ")) {
		return // HTTP/2's preface: net/http's server may speak HTTP/2
	}
	wantReqs, wantCodes := exchange(t, stdAddr, stdGot, raw)
	gotReqs, gotCodes := exchange(t, ownAddr, ownGot, raw)
	if !slices.Equal(wantCodes, gotCodes) {
		t.Errorf("%q: statuses %v, net/http %v", raw, gotCodes, wantCodes)
	}
	if len(wantReqs) != len(gotReqs) {
		t.Errorf("%q: handler saw %d requests, net/http's %d", raw, len(gotReqs), len(wantReqs))
		return
	}
	for i := range wantReqs {
		w, g := wantReqs[i], gotReqs[i]
		if fmt.Sprintf("%+v", w) != fmt.Sprintf("%+v", g) {
			t.Errorf("%q: request %d\n got %+v\nwant %+v", raw, i, g, w)
		}
	}
}
