package inbound

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/faultline/faultline/proxy/internal/httpfield"
)

var (
	crlfcrlf = []byte("\r\n\r\n")
	http11   = []byte(" HTTP/1.1\r\n")
)

// maxDiscardBytes is how much of a body the handler left unread is read
// and dropped to keep the connection (net/http's figure); a longer rest
// closes it.
const maxDiscardBytes = 256 << 10

// readRequest reads the next request head and frames its body. The
// request returned has no context yet.
func (c *conn) readRequest() (*http.Request, error) {
	s := c.s
	if c.lastMethod == http.MethodPost {
		// Old clients send a CRLF after a POST body (RFC 7230 §3.5).
		peek, _ := c.br.Peek(4)
		c.br.Discard(leadingCRorLF(peek))
	}
	c.lr.limited, c.lr.remain, c.lr.hit = true, int64(s.maxHeaderBytes())+bufferBytes, false
	defer func() { c.lr.limited = false }()

	// A head whole in the buffer (the rule: the client's first write
	// carried it) may be plain; any other goes to net/http's parser,
	// which reads on line by line and refuses a bad line as soon as it
	// comes, as net/http's server does.
	buf, _ := c.br.Peek(c.br.Buffered())
	if end := bytes.Index(buf, crlfcrlf); end >= 0 {
		if req, err, ok := c.parsePlain(buf[:end+len(crlfcrlf)]); ok {
			return req, err
		}
	}
	c.readTimeout(s.readHeaderTimeout())
	// net/http's parser drops the Host fields from the header, which the
	// checks below need: the head is recorded as it is read.
	start, _ := c.br.Peek(c.br.Buffered())
	c.lr.rec = append(c.lr.rec[:0], start...)
	c.lr.recording = true
	req, err := http.ReadRequest(c.br)
	c.lr.recording = false
	if err != nil {
		if c.lr.hit {
			return nil, errTooLarge
		}
		return nil, err
	}
	hosts, host := hostFields(c.lr.rec[:len(c.lr.rec)-c.br.Buffered()])
	c.lr.rec = c.lr.rec[:0]
	if req.URL.Host == "" {
		host = req.Host // the field's value, as net/textproto read it
	}
	if err := c.check(req, hosts, host); err != nil {
		return nil, err
	}
	req.RemoteAddr, req.TLS = c.remoteAddr, c.tls
	served := req.WithContext(c.ctx)
	if b := req.Body; b != nil && b != http.NoBody {
		served.Body = &body{c: c, src: b, parsed: req, served: served}
	}
	return served, nil
}

// hostFields counts the Host fields of a request head and returns the
// first one's value.
// Continuation lines (obs-fold) join the value with a space, as
// net/textproto joins them.
func hostFields(head []byte) (n int, first string) {
	_, rest, _ := bytes.Cut(head, []byte("\n")) // the request line
	var value []byte
	inFirst := false
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if inFirst {
				value = append(append(value, ' '), bytes.Trim(line, " \t\r")...)
			}
			continue
		}
		inFirst = false
		name, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) != 4 || !httpfield.EqualFold(string(name), "host") {
			continue
		}
		if n == 0 {
			value, inFirst = append(value, bytes.Trim(v, " \t\r")...), true
		}
		n++
	}
	return n, string(value)
}

// check refuses what net/http's server refuses after parsing, and what
// exceeds the header count; hosts and host are the head's Host fields
// (hostFields).
func (c *conn) check(req *http.Request, hosts int, host string) error {
	if req.ProtoMajor != 1 {
		return statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	fields := 0
	for _, vv := range req.Header {
		fields += len(vv)
	}
	if fields > c.s.maxHeaders() {
		return errTooLarge
	}
	if req.ProtoAtLeast(1, 1) && hosts == 0 && req.Method != http.MethodConnect {
		return statusError{http.StatusBadRequest, "missing required Host header"}
	}
	if hosts == 1 && !httpguts.ValidHostHeader(host) {
		return statusError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return statusError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return statusError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	return nil
}

// parsePlain parses a plain request head, whole in b (which ends with
// the blank line), into the connection's reused request, and consumes
// it. ok is false (nothing consumed) when the head is not plain: net/http's
// parser takes it then. A plain head is an origin-form target of
// unreserved characters, HTTP/1.1, CRLF line ends, token field names,
// exactly one valid Host, no Transfer-Encoding or Trailer, at most one
// Content-Length of digits.
func (c *conn) parsePlain(b []byte) (req *http.Request, err error, ok bool) {
	s := c.s
	if len(b) > s.maxHeaderBytes() {
		return nil, errTooLarge, true
	}
	// Request line.
	nl := bytes.IndexByte(b, '\n')
	line := b[:nl+1]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.HasSuffix(line, http11) {
		return nil, nil, false
	}
	for _, ch := range line[:sp] {
		if !httpguts.IsTokenRune(rune(ch)) {
			return nil, nil, false
		}
	}
	if sp+1 >= len(line)-len(http11) {
		return nil, nil, false
	}
	target := line[sp+1 : len(line)-len(http11)]
	if target[0] != '/' {
		return nil, nil, false
	}
	inQuery := false
	for _, ch := range target {
		switch {
		case ch == '?':
			inQuery = true
		case pathByte[ch]:
		case inQuery && queryByte[ch]:
		default:
			return nil, nil, false
		}
	}

	// Header lines: check them all before allocating anything.
	lines, plain := httpfield.PlainFields(b, nl+1)
	if !plain {
		return nil, nil, false
	}
	if lines > s.maxHeaders() {
		return nil, errTooLarge, true
	}

	str := string(b)
	h := c.header
	clear(h)
	httpfield.ReadFields(h, str, nl+1, lines)

	hosts := h["Host"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
		return nil, nil, false
	}
	if _, te := h["Transfer-Encoding"]; te {
		return nil, nil, false
	}
	if _, tr := h["Trailer"]; tr {
		return nil, nil, false
	}
	length := int64(0)
	if cl, ok := h["Content-Length"]; ok {
		if len(cl) != 1 || len(cl[0]) == 0 || len(cl[0]) > 18 {
			return nil, nil, false
		}
		for i := 0; i < len(cl[0]); i++ {
			ch := cl[0][i]
			if ch < '0' || ch > '9' {
				return nil, nil, false
			}
			length = length*10 + int64(ch-'0')
		}
	}
	// Pragma: no-cache stands for Cache-Control: no-cache (RFC 7234 §5.4).
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}

	r := c.req
	*r = *c.blank
	r.Method = str[:sp]
	r.RequestURI = str[sp+1 : sp+1+len(target)]
	u := &c.url
	*u = urlOf(r.RequestURI)
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Host = hosts[0]
	delete(h, "Host")
	r.Close = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	r.Header = h
	r.ContentLength = length
	r.Body = http.NoBody
	if length > 0 {
		r.Body = &body{c: c, remaining: length}
	}
	r.RemoteAddr, r.TLS = c.remoteAddr, c.tls
	c.br.Discard(len(b))
	return r, nil, true
}

// pathByte and queryByte are the bytes a plain target may hold: in its
// path, those url.ParseRequestURI keeps as they are (unreserved, and the
// sub-delimiters it does not escape), so the path needs no unescaping;
// in its query, any visible character but '#'.
var pathByte, queryByte = func() (path, query [256]bool) {
	for c := 0; c < 256; c++ {
		path[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~$&+,/:;=@", byte(c)) >= 0
		query[c] = c > 0x20 && c < 0x7f && c != '#' || path[c]
	}
	return path, query
}()

// urlOf is the URL of a plain target, as url.ParseRequestURI makes it.
func urlOf(target string) url.URL {
	path, query, hasQuery := strings.Cut(target, "?")
	return url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
}

func leadingCRorLF(b []byte) int {
	n := 0
	for _, ch := range b {
		if ch != '\r' && ch != '\n' {
			break
		}
		n++
	}
	return n
}

func expectsContinue(r *http.Request) bool {
	e := r.Header["Expect"]
	return len(e) > 0 && httpfield.HasToken(e[0], "100-continue")
}

// body is a request body: the rest of a Content-Length read straight
// from the connection's buffer, or net/http's framing (chunks and
// trailers) over it. Reads may come from any goroutine; once the request
// ends, they fail.
type body struct {
	c   *conn
	mu  sync.Mutex
	src io.Reader // net/http's framing; nil: remaining bytes of the buffer
	// parsed and served: net/http's framing sets the trailers it reads on
	// the request its parser made (parsed), not on the copy the handler
	// has (served).
	parsed, served *http.Request
	remaining      int64
	cont           bool // a 100 Continue is due before the first read
	eof            bool
	closed         bool
	err            error
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.eof:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	}
	c := b.c
	if b.cont {
		b.cont = false
		c.writeContinue()
	}
	if c.br.Buffered() == 0 {
		c.readTimeout(c.s.bodyTimeout())
	}
	n, err := b.read(p)
	switch {
	case err == io.EOF:
		b.eof = true
		if b.served != nil && b.served.Trailer == nil {
			b.served.Trailer = b.parsed.Trailer
		}
		c.bodyDone()
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *body) read(p []byte) (int, error) {
	if b.src != nil {
		return b.src.Read(p)
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	switch {
	case b.remaining == 0:
		err = io.EOF
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close ends reading: later reads fail, and the server drops what is left
// when the request ends.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// finish ends the body when the handler returned, reading and dropping a
// short rest; false when the connection cannot carry another request. A
// read still blocked in another goroutine is cut short.
func (b *body) finish() bool {
	b.lock()
	defer b.mu.Unlock()
	b.closed = true
	switch {
	case b.eof:
		return true
	case b.err != nil || b.cont:
		// A client that was not told to continue may or may not send the
		// body: the connection cannot tell.
		return false
	}
	b.c.readTimeout(b.c.s.bodyTimeout())
	if b.src != nil {
		n, err := io.CopyN(io.Discard, b.src, maxDiscardBytes+1)
		return n <= maxDiscardBytes && err == io.EOF
	}
	if b.remaining > maxDiscardBytes {
		return false
	}
	d, err := b.c.br.Discard(int(b.remaining))
	b.remaining -= int64(d)
	return err == nil && b.remaining == 0
}

// lock takes the body's lock, cutting short a read still blocked in
// another goroutine.
func (b *body) lock() {
	if !b.mu.TryLock() {
		b.c.rwc.SetReadDeadline(aLongTimeAgo)
		b.c.rdur = -1
		b.mu.Lock()
	}
}

// stop ends reading at once: later reads fail, and none is under way.
func (b *body) stop() {
	b.lock()
	b.closed = true
	b.mu.Unlock()
}

// wrapBody gives the request's body the 100 Continue due, if any; nil
// when there is no body.
func (c *conn) wrapBody(req *http.Request) *body {
	b, ok := req.Body.(*body)
	if !ok {
		return nil
	}
	b.cont = c.res.canContinue
	return b
}
