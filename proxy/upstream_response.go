package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"

	"golang.org/x/net/http/httpguts"

	"github.com/faultline/faultline/proxy/internal/httpfield"
)

// Reading upstream responses. Most response heads are small, already
// whole in the connection's buffer, and plain: HTTP/1.1 or 1.0, CRLF line
// ends, token field names, a Content-Length or no body at all. For those,
// readResponseHead builds the response itself with a handful of
// allocations (one string for the whole head, one for the value slices,
// the header map, and the response with its body reader); anything else
// (chunked bodies, obs-folded lines, malformed or partial heads, ...) is
// left in the buffer for net/http's ReadResponse. The result is the same
// as ReadResponse's in every field the proxy reads: status, protocol,
// header (canonical names, values trimmed, Connection: close removed from
// an HTTP/1.1 response as ReadResponse removes it, Cache-Control added for
// a lone Pragma: no-cache), Content-Length, Close, and the body's bytes,
// its end and its errors (a short body is io.ErrUnexpectedEOF). The fuzz
// test holds the two side by side.

// upstreamResponse is a response and its body reader in one allocation,
// with a header map to reuse: an exchange keeps one for its attempts'
// responses, one after the other.
type upstreamResponse struct {
	res    http.Response
	body   upstreamBody
	header http.Header
}

// readResponseHead parses a plain response head from what br already
// holds and consumes it; nil (nothing consumed) when ReadResponse must do
// it. method is the request's. into, when not nil, is reused for the
// response (an earlier response it held must be done with).
func readResponseHead(br *bufio.Reader, req *http.Request, into *upstreamResponse) *upstreamResponse {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		return nil
	}
	end += len(crlfcrlf)
	b := buf[:end]

	// Status line: "HTTP/1.x NNN[ reason]".
	var minor int
	switch {
	case bytes.HasPrefix(b, http11):
		minor = 1
	case bytes.HasPrefix(b, http10):
	default:
		return nil
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 13 || b[nl-1] != '\r' || bytes.IndexByte(b[:nl-1], '\r') >= 0 {
		return nil
	}
	code := 0
	for _, c := range b[9:12] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	if b[12] != ' ' && b[12] != '\r' {
		return nil // the code is not three digits
	}

	// Header lines: check them all before allocating anything.
	lines, ok := httpfield.PlainFields(b, nl+1)
	if !ok {
		return nil
	}

	s := string(b)
	u := into
	if u == nil {
		u = &upstreamResponse{}
	}
	h := u.header
	if h == nil {
		h = make(http.Header, lines)
	} else {
		clear(h)
	}
	*u = upstreamResponse{header: h}
	r := &u.res
	r.Status = s[9 : nl-1]
	r.StatusCode = code
	r.Proto, r.ProtoMajor, r.ProtoMinor = s[:8], 1, minor
	r.Request = req
	httpfield.ReadFields(h, s, nl+1, lines)
	if !framePlain(r, h, req) {
		return nil
	}
	r.Header = h
	if r.ContentLength != 0 && req.Method != http.MethodHead && bodyAllowed(code) {
		u.body.remaining = r.ContentLength // -1: to the end of the stream
		u.body.direct = true
		r.Body = &u.body
	} else {
		r.Body = http.NoBody
	}
	br.Discard(end)
	return u
}

var (
	crlfcrlf = []byte("\r\n\r\n")
	http11   = []byte("HTTP/1.1 ")
	http10   = []byte("HTTP/1.0 ")
)

// framePlain applies ReadResponse's framing rules to a parsed head
// without Transfer-Encoding: Content-Length, Close and the header
// adjustments. It reports false for what ReadResponse would refuse or
// frame otherwise (transfer codings, several or bad lengths).
func framePlain(r *http.Response, h http.Header, req *http.Request) bool {
	if _, ok := h["Transfer-Encoding"]; ok {
		return false
	}
	length := int64(-1)
	if cl, ok := h["Content-Length"]; ok {
		if len(cl) != 1 || len(cl[0]) == 0 || len(cl[0]) > 18 {
			return false
		}
		length = 0
		for i := 0; i < len(cl[0]); i++ {
			c := cl[0][i]
			if c < '0' || c > '9' {
				return false
			}
			length = length*10 + int64(c-'0')
		}
	}
	// Pragma: no-cache stands for Cache-Control: no-cache (RFC 7234 §5.4).
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := h["Connection"]
	hasClose := httpguts.HeaderValuesContainsToken(conn, "close")
	if r.ProtoMinor == 0 {
		r.Close = hasClose || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	} else {
		r.Close = hasClose
		if hasClose {
			delete(h, "Connection")
		}
	}
	switch {
	case req.Method == http.MethodHead:
		r.ContentLength = length
	case !bodyAllowed(r.StatusCode):
		r.ContentLength = 0
	default:
		r.ContentLength = length
		if length < 0 {
			r.Close = true // the body runs to the end of the stream
		}
	}
	return true
}

// bodyAllowed reports whether a response with this status may have a
// body.
func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}

// readDirect reads a body framed by readResponseHead straight from the
// connection's buffer: remaining bytes of a Content-Length, or (-1) to
// the end of the stream. A length cut short is io.ErrUnexpectedEOF; the
// last bytes come with io.EOF.
func (b *upstreamBody) readDirect(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.pc.br.Read(p)
	if b.remaining < 0 {
		return n, err
	}
	b.remaining -= int64(n)
	switch {
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	case err == nil && b.remaining == 0:
		err = io.EOF
	}
	return n, err
}
