package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// responseSeeds are response heads (and bodies) of every framing, plain
// and not.
var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\nuntil the end",
	"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nEtag: x\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nx-lower: v\r\nX-UPPER: v\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX-Spaces:   padded   \r\nX-Empty:\r\nX-Tab:\tv\t\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nBad Key: v\r\n\r\n",
	"HTTP/1.1 200 OK\r\n: empty key\r\n\r\n",
	"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Obs: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/1.1  200 OK\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n",
	"HTTP/2.0 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 200 O\rK\r\n\r\n",
}

// readResponseHead either leaves the stream alone or reads exactly what
// net/http's ReadResponse reads: same response, same body, same rest.
func FuzzReadResponseHead(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		checkResponseHead(t, data, head)
	})
}

// The seeds, as an ordinary test.
func TestReadResponseHead(t *testing.T) {
	for _, s := range responseSeeds {
		for _, head := range []bool{false, true} {
			checkResponseHead(t, []byte(s), head)
		}
	}
	// The plain ones take the fast path.
	for _, s := range responseSeeds[:15] {
		br := bufio.NewReader(strings.NewReader(s))
		br.Peek(1)
		if readResponseHead(br, &http.Request{Method: "GET"}, nil) == nil {
			t.Errorf("%q: not parsed by the fast path", s)
		}
	}
}

func checkResponseHead(t *testing.T, data []byte, head bool) {
	t.Helper()
	req := &http.Request{Method: http.MethodGet}
	if head {
		req.Method = http.MethodHead
	}
	// The response is read into one that held another before, as an
	// exchange reuses its own: nothing of the earlier one may show.
	into := &upstreamResponse{}
	old := bufio.NewReader(strings.NewReader("HTTP/1.1 404 Not Found\r\nX-Old: 1\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"))
	old.Peek(1)
	if readResponseHead(old, &http.Request{Method: http.MethodGet}, into) == nil {
		t.Fatal("the earlier response was not parsed")
	}
	br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	br.Peek(1)
	before := br.Buffered()
	u := readResponseHead(br, req, into)
	if u == nil {
		if br.Buffered() != before {
			t.Fatalf("%q: fast path gave up after consuming input", data)
		}
		return
	}
	want, err := http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(data), 4096), req)
	if err != nil {
		t.Fatalf("%q: fast path accepted what ReadResponse refuses: %v", data, err)
	}
	got := &u.res
	type fields struct {
		Status                 string
		StatusCode             int
		Proto                  string
		ProtoMajor, ProtoMinor int
		Header                 http.Header
		ContentLength          int64
		TransferEncoding       []string
		Close                  bool
		Trailer                http.Header
		NoBody                 bool
	}
	view := func(r *http.Response) fields {
		return fields{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header, r.ContentLength,
			r.TransferEncoding, r.Close, r.Trailer, r.Body == http.NoBody}
	}
	if g, w := view(got), view(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nfast       %+v\nReadResponse %+v", data, g, w)
	}
	// Bodies and what follows them.
	wantBR := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	want, _ = http.ReadResponse(wantBR, req)
	wantBody, wantErr := io.ReadAll(want.Body)
	var gotBody []byte
	var gotErr error
	if got.Body != http.NoBody {
		u.body.pc = &upConn{br: br}
		buf := make([]byte, 3) // small reads: the length bookkeeping
		for {
			n, err := u.body.readDirect(buf)
			gotBody = append(gotBody, buf[:n]...)
			if err != nil {
				if err != io.EOF {
					gotErr = err
				}
				break
			}
		}
	}
	if !bytes.Equal(gotBody, wantBody) || !errors.Is(gotErr, wantErr) && !(gotErr == nil && wantErr == nil) {
		t.Fatalf("%q: body %q (%v), ReadResponse %q (%v)", data, gotBody, gotErr, wantBody, wantErr)
	}
	restGot, _ := io.ReadAll(br)
	restWant, _ := io.ReadAll(wantBR)
	if !bytes.Equal(restGot, restWant) {
		t.Fatalf("%q: left %q, ReadResponse left %q", data, restGot, restWant)
	}
}
