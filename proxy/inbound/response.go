package inbound

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// holdBytes is how much body a response without a Content-Length holds
// back: a body that ends within it is sent with its length, a longer one
// chunked (net/http's figure).
const holdBytes = 2 << 10

// response is the http.ResponseWriter of a connection's requests, reused
// from one to the next.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header

	status      int
	wroteHeader bool // a final status was given
	bodyAllowed bool
	isHead      bool
	length      int64 // the handler's Content-Length, -1 when none
	written     int64
	chunked     bool
	holding     bool   // no length yet: the body is held in held
	held        []byte // reused
	closeAfter  bool
	hijacked    bool
	canContinue bool
	err         error // a write to the connection failed
}

func (w *response) reset(req *http.Request) {
	clear(w.header)
	held := w.held[:0]
	*w = response{c: w.c, req: req, header: w.header, held: held, length: -1}
	w.isHead = req.Method == http.MethodHead
	if req.ProtoMajor == 1 && req.ProtoMinor == 0 && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "keep-alive") {
		w.closeAfter = true
	}
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. A 1xx status other than
// 101 goes out at once as an informational response.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	w.bodyAllowed = !w.isHead && bodyAllowedForStatus(code)
	if cl, ok := w.header["Content-Length"]; ok && len(cl) > 0 {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64); err == nil && n >= 0 {
			w.length = n
		}
	}
	delete(w.header, "Transfer-Encoding")
	switch {
	case code == http.StatusSwitchingProtocols:
		w.closeAfter = true // unless the handler takes the connection over
		w.writeHead(-1)
	case w.length >= 0 || !w.bodyAllowed:
		w.writeHead(-1)
	default:
		w.holding = true
	}
}

func (w *response) informational(code int) {
	if w.canContinue && code == http.StatusContinue {
		w.c.wmu.Lock()
		w.c.headStarted = true // the client was told: no second 100
		w.c.wmu.Unlock()
	}
	bw := w.c.bw
	w.statusLine(code)
	w.writeFields()
	bw.WriteString("\r\n")
	w.flushErr(bw.Flush())
}

func (w *response) statusLine(code int) {
	bw := w.c.bw
	if w.req.ProtoAtLeast(1, 1) {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	b := strconv.AppendInt(bw.AvailableBuffer(), int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	b = append(b, "\r\n"...)
	bw.Write(b)
}

// writeHead puts the head into the write buffer; length >= 0 is the
// length of a held body, sent as Content-Length.
func (w *response) writeHead(length int64) {
	c := w.c
	if w.canContinue {
		c.wmu.Lock()
		if !c.headStarted {
			// The client was never told to send its body, and may or may
			// not: the connection cannot tell what follows.
			w.closeAfter = true
		}
		c.headStarted = true
		c.wmu.Unlock()
	}
	bw := c.bw
	h := w.header
	if _, ok := h["Trailer"]; ok && w.bodyAllowed && w.length < 0 && length < 0 && w.req.ProtoAtLeast(1, 1) {
		w.chunked = true
	}
	if w.holding && length < 0 && w.bodyAllowed {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
		} else {
			w.closeAfter = true // the body runs to the end of the connection
		}
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	w.statusLine(w.status)
	w.writeFields()
	if length >= 0 && w.bodyAllowed {
		b := append(bw.AvailableBuffer(), "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		bw.Write(append(b, "\r\n"...))
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if _, ok := h["Date"]; !ok {
		bw.Write(c.s.dateLine())
	}
	if w.closeAfter {
		if _, ok := h["Connection"]; !ok {
			bw.WriteString("Connection: close\r\n")
		}
	} else if w.req.ProtoMajor == 1 && w.req.ProtoMinor == 0 {
		if _, ok := h["Connection"]; !ok {
			bw.WriteString("Connection: keep-alive\r\n")
		}
	}
	bw.WriteString("\r\n")
}

// writeFields writes the header's fields: names that are not valid are
// left out, CR and LF in values become spaces, as net/http writes them.
func (w *response) writeFields() {
	bw := w.c.bw
	for k, vv := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		writeField(bw, k, vv)
	}
}

// writeField writes one field line per value.
func writeField(bw *bufio.Writer, name string, values []string) {
	for _, v := range values {
		bw.WriteString(name)
		bw.WriteString(": ")
		writeValue(bw, v)
		bw.WriteString("\r\n")
	}
}

func writeValue(bw *bufio.Writer, v string) {
	v = strings.TrimSpace(v)
	if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
		bw.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch == '\r' || ch == '\n' {
			ch = ' '
		}
		bw.WriteByte(ch)
	}
}

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.bodyAllowed {
		if w.isHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	var tooLong error
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		p = p[:w.length-w.written]
		tooLong = http.ErrContentLength
	}
	if w.holding {
		if len(w.held)+len(p) <= holdBytes {
			w.held = append(w.held, p...)
			w.written += int64(len(p))
			return len(p), tooLong
		}
		w.spill()
	}
	w.written += int64(len(p))
	w.writeBody(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), tooLong
}

// WriteString is Write without the conversion.
func (w *response) WriteString(s string) (int, error) {
	if w.holding && len(w.held)+len(s) <= holdBytes {
		w.held = append(w.held, s...)
		w.written += int64(len(s))
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// spill ends holding: the head goes out without a length, the held body
// after it.
func (w *response) spill() {
	w.writeHead(-1)
	w.holding = false
	if len(w.held) > 0 {
		w.writeBody(w.held)
		w.held = w.held[:0]
	}
}

func (w *response) writeBody(p []byte) {
	if len(p) == 0 {
		return
	}
	bw := w.c.bw
	if w.chunked {
		b := strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16)
		bw.Write(append(b, "\r\n"...))
	}
	if _, err := bw.Write(p); err != nil {
		w.flushErr(err)
		return
	}
	if w.chunked {
		bw.WriteString("\r\n")
	}
}

func (w *response) flushErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Flush implements http.Flusher.
func (w *response) Flush() {
	if w.hijacked {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.holding {
		w.spill()
	}
	w.flushErr(w.c.bw.Flush())
}

// finish completes the response once the handler returned: the head of a
// held body with its length, the last chunk and trailers, and the flush.
// False when the connection cannot carry another response.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	bw := w.c.bw
	if w.holding {
		w.holding = false
		w.writeHead(int64(len(w.held)))
		if len(w.held) > 0 {
			bw.Write(w.held)
		}
	}
	if w.chunked {
		bw.WriteString("0\r\n")
		w.writeTrailers()
		bw.WriteString("\r\n")
	}
	if w.bodyAllowed && w.length >= 0 && w.written != w.length {
		w.closeAfter = true // the client would wait for bytes that never come
	}
	w.flushErr(bw.Flush())
	return !w.closeAfter && w.err == nil
}

// writeTrailers writes the trailers the head declared, and those set
// with http.TrailerPrefix.
func (w *response) writeTrailers() {
	bw := w.c.bw
	h := w.header
	for _, decl := range h["Trailer"] {
		for k := range strings.SplitSeq(decl, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if !httpguts.ValidHeaderFieldName(k) || !allowedTrailer(k) {
				continue
			}
			writeField(bw, k, h[k])
		}
	}
	for k, vv := range h {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok || !httpguts.ValidHeaderFieldName(name) || !allowedTrailer(name) {
			continue
		}
		writeField(bw, name, vv)
	}
}

// allowedTrailer: fields that must not be trailers (RFC 7230 §4.1.2).
func allowedTrailer(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Transfer-Encoding", "Trailer", "Content-Length", "Host", "Content-Type":
		return false
	}
	return true
}

// Hijack implements http.Hijacker: the connection and its buffers go to
// the caller, deadlines cleared, the watch ended.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c := w.c
	c.disarmWatch()
	if w.wroteHeader {
		if w.holding {
			w.spill()
		}
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	w.hijacked = true
	c.rwc.SetDeadline(time.Time{})
	c.s.setState(c, http.StateHijacked)
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// writeContinue tells the client to send its body, unless the response
// already started.
func (c *conn) writeContinue() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.headStarted {
		return
	}
	c.headStarted = true
	_, _ = io.WriteString(c.rwc, "HTTP/1.1 100 Continue\r\n\r\n")
}

// bodyAllowedForStatus: 1xx, 204 and 304 responses have no body.
func bodyAllowedForStatus(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}
