package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/faultline/faultline/proxy/internal/httpfield"
)

// HTTP/1.1 exchanges over the pool's connections (upstream_pool.go). The
// goroutine that sends a request writes it and reads the response
// headers; the response body streams from the connection to whoever reads
// it, and the connection goes back to the pool once the body was read to
// its end, or is closed on an early Close, an error or a cancellation.
//
//	roundTrip ─► check (as net/http does, before any connection)
//	  ─► get a connection ─► watch the context (its end closes the conn)
//	  ─► write: no body ─► head written here, one write
//	            body    ─► head and body written by a goroutine of the
//	                       request, so an upstream may answer before it
//	                       read the body (net/http's framing for these)
//	  ─► read: skip 1xx; plain heads parsed in the buffer
//	           (upstream_response.go), others by ReadResponse
//	        ─┬─► no body: conn back to the pool now
//	         └─► body: back at its end
//	  ─► failure on a reused connection before any response byte, for a
//	     request safe to resend: again on another connection
//
// It behaves as net/http's Transport did in everything the proxy can
// observe: the bytes of the request (the same header rules, the same
// Content-Length and Connection: close decisions, the same validation
// errors before dialling), the framing of the response (net/http's
// ReadResponse), which connections are reused, and the one silent resend
// of a request whose kept-alive connection the upstream closed: a
// connection found closed while idle is never used (probe), and a request
// that fails on a reused connection before its first response byte is
// sent again on another one if it had no body (nothing written) or is
// idempotent without a body (net/http's shouldRetryRequest). Expect:
// 100-continue is forwarded and the body sent at once (net/http with no
// ExpectContinueTimeout); 1xx responses other than 101 are skipped; a 101
// Switching Protocols hands the connection to the body.

const (
	// maxResponseHeaderBytes bounds response headers, 1xx included
	// (net/http's default MaxResponseHeaderBytes).
	maxResponseHeaderBytes = 10 << 20
	// bodyWriteGrace is how long a finished response waits for its
	// request body's writer before the connection is given up rather
	// than reused.
	bodyWriteGrace = 50 * time.Millisecond
	// defaultUserAgent is sent when the request has no User-Agent header
	// (an empty one sends none).
	defaultUserAgent = "Go-http-client/1.1"
)

var (
	errResponseHeadersTooLong = fmt.Errorf("proxy: upstream response headers exceeded %d bytes", maxResponseHeaderBytes)
	errReadOnClosedBody       = errors.New("proxy: read on closed response body")
)

// nothingWrittenError: the request failed before any byte of it reached
// the connection.
type nothingWrittenError struct{ error }

func (e nothingWrittenError) Unwrap() error { return e.error }

// readFromServerError: reading the first byte of the response failed.
type readFromServerError struct{ error }

func (e readFromServerError) Unwrap() error { return e.error }

// roundTrip sends req to ep's address (req.URL.Host) and returns the
// response headers; see the top of this file. local, when not nil,
// receives the local address of the connection used (the access log's
// %UPSTREAM_LOCAL_ADDRESS%). req's body is closed in every case. Requests
// built by the proxy carry no GetBody: a body is never replayed here (the
// retry stage replays buffered bodies with a new request).
//
// soon is how long the request's context may go unwatched (watchContext):
// the time left before the earliest timeout that may end it, or less.
// into, when not nil, is reused for the response (readResponseHead).
func (t *clusterTransport) roundTrip(req *http.Request, ep *endpoint, local *string, soon time.Duration, into *upstreamResponse) (*http.Response, error) {
	if err := checkRequest(req); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	ctx := req.Context()
	pool := ep.pool
	if t.tls != nil && t.tls.autoSNI {
		pool = pool.forHost(req.Host) // the SNI follows the Host (upstream_tls.go)
	}
	for {
		if ctx.Err() != nil {
			closeRequestBody(req)
			return nil, context.Cause(ctx)
		}
		pc, err := pool.get(ctx)
		if err != nil {
			closeRequestBody(req)
			return nil, err
		}
		t.gotConn(req, pc)
		if local != nil {
			*local = pc.local
		}
		res, err := pc.roundTrip(ctx, req, soon, into)
		if err == nil {
			if t.disableKeepAlives && !t.track {
				t.stats.cxMaxRequests.Add(1) // every connection serves one request
			}
			return res, nil
		}
		if !pc.reused || !resendable(req, err) {
			closeRequestBody(req)
			if e, ok := err.(nothingWrittenError); ok {
				err = e.error
			}
			if e, ok := err.(readFromServerError); ok {
				err = e.error
			}
			return nil, err
		}
	}
}

func isNothingWritten(err error) bool {
	_, ok := err.(nothingWrittenError)
	return ok
}

func isReadFromServer(err error) bool {
	_, ok := err.(readFromServerError)
	return ok
}

// gotConn follows a connection's requests when the pool policy needs it
// (maxRequestsPerConnection > 1, maxConnectionDuration): the request that
// uses up the connection's quota, or finds it past its duration, asks
// for the connection to close after it (Connection: close).
func (t *clusterTransport) gotConn(req *http.Request, pc *upConn) {
	if !t.track {
		return
	}
	pc.requests++
	switch {
	case t.maxRequests > 0 && pc.requests >= t.maxRequests:
		req.Close = true
		t.stats.cxMaxRequests.Add(1)
	case t.maxDuration > 0 && time.Since(pc.born) >= t.maxDuration:
		req.Close = true
		t.stats.cxMaxDuration.Add(1)
	}
}

// resendable reports whether a request that failed on a reused
// connection may go out again on another: nothing of it was written and
// it has no body, or the first response byte could not be read and it is
// idempotent without a body.
func resendable(req *http.Request, err error) bool {
	if _, ok := err.(nothingWrittenError); ok {
		return outgoingLength(req) == 0
	}
	if !replayable(req) {
		return false
	}
	_, ok := err.(readFromServerError)
	return ok
}

// replayable: no body, and a method that is idempotent by definition or
// by an Idempotency-Key header.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// outgoingLength is the body length to send: 0 without a body, -1 when
// unknown.
func outgoingLength(req *http.Request) int64 {
	if req.Body == nil || req.Body == http.NoBody {
		return 0
	}
	if req.ContentLength != 0 {
		return req.ContentLength
	}
	return -1
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// checkRequest refuses what net/http refuses before dialling: an invalid
// header or trailer name or value, an unsupported scheme, an invalid
// method, no address.
func checkRequest(req *http.Request) error {
	if req.URL == nil {
		return errors.New("proxy: upstream request without URL")
	}
	if req.Header == nil {
		return errors.New("proxy: upstream request without header")
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("proxy: unsupported protocol scheme %q", s)
	}
	if k, ok := invalidHeader(req.Header); !ok {
		return fmt.Errorf("proxy: invalid upstream request header %q", k)
	}
	if k, ok := invalidHeader(req.Trailer); !ok {
		return fmt.Errorf("proxy: invalid upstream request trailer %q", k)
	}
	// A method is a token, the syntax of a header field name.
	if req.Method != "" && !httpguts.ValidHeaderFieldName(req.Method) {
		return fmt.Errorf("proxy: invalid method %q", req.Method)
	}
	if req.URL.Host == "" {
		return errors.New("proxy: no address in upstream request URL")
	}
	return nil
}

// invalidHeader returns the first field whose name is not a token or
// whose value holds a control byte other than tab.
func invalidHeader(h http.Header) (string, bool) {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return k, false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return k, false
			}
		}
	}
	return "", true
}

// roundTrip is one exchange on pc, which the caller owns. On error pc is
// closed and the error says how far the request got (nothingWrittenError,
// readFromServerError) for resendable.
func (pc *upConn) roundTrip(ctx context.Context, req *http.Request, soon time.Duration, into *upstreamResponse) (*http.Response, error) {
	pc.body = nil
	pc.watchContext(ctx, soon)
	start := pc.nwrite
	if req.Body != nil && req.Body != http.NoBody {
		pc.startBodyWrite(req)
	} else if err := pc.writeRequest(req); err != nil {
		return nil, pc.fail(ctx, start, err)
	}
	res, err := pc.readResponse(req, into)
	if err != nil {
		return nil, pc.fail(ctx, start, err)
	}
	if res.StatusCode == http.StatusSwitchingProtocols && isProtocolSwitch(res.Header) {
		pc.stopWatch()
		res.Body = pc.handOver()
		return res, nil
	}
	// res.Body is http.NoBody or an *upstreamBody (readResponse).
	alive := !res.Close && !req.Close && res.StatusCode >= 200
	if res.Body == http.NoBody {
		// No body: the connection is free now (before the caller sees
		// the response, so its next request may get it).
		pc.release(alive)
		return res, nil
	}
	b := res.Body.(*upstreamBody)
	b.pc, b.ctx, b.alive = pc, ctx, alive
	return res, nil
}

// release ends pc's exchange: back to the pool when keep-alive holds and
// the exchange completed in good order, closed otherwise.
func (pc *upConn) release(alive bool) {
	if pc.stopWatch() && alive && !pc.sawEOF && pc.wroteRequest() {
		pc.pool.put(pc)
		return
	}
	pc.close()
}

// Watching a request's context. A context that ends (the client went
// away, a timeout fired, the proxy closed) must cut the request off, which
// closing the connection does. context.AfterFunc would cost a few
// allocations per request; most requests end within a millisecond, long
// before anything could cancel them. So the watch starts late: the
// connection's timer registers the AfterFunc once the request has run
// for watchAfter, or for soon (the time left to the earliest timeout that
// may end it) if that is shorter, and a context already ended by then
// cuts it off at once.
const watchAfter = 5 * time.Millisecond

// watchContext starts watching ctx for the request under way.
func (pc *upConn) watchContext(ctx context.Context, soon time.Duration) {
	d := watchAfter
	if soon > 0 && soon < d {
		d = soon
	}
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	pc.watchMu.Lock()
	pc.watchCtx, pc.watchArmed, pc.watchCancel = ctx, true, nil
	pc.watchMu.Unlock()
	if d <= 0 {
		pc.watchFired()
		return
	}
	if pc.watchTimer == nil {
		pc.watchTimer = time.AfterFunc(d, pc.watchFired)
	} else {
		pc.watchTimer.Reset(d)
	}
}

// watchFired registers the context watch of the request under way.
func (pc *upConn) watchFired() {
	pc.watchMu.Lock()
	defer pc.watchMu.Unlock()
	if pc.watchArmed && pc.watchCancel == nil {
		pc.watchCancel = context.AfterFunc(pc.watchCtx, pc.abortFn)
	}
}

// stopWatch ends the watch of the request under way. Like the stop
// function of context.AfterFunc, it reports false when the context ended
// the request (the connection was aborted) or the watch was stopped
// already.
func (pc *upConn) stopWatch() bool {
	if pc.watchTimer != nil {
		pc.watchTimer.Stop()
	}
	pc.watchMu.Lock()
	defer pc.watchMu.Unlock()
	if !pc.watchArmed {
		return false
	}
	pc.watchArmed = false
	pc.watchCtx = nil
	if stop := pc.watchCancel; stop != nil {
		pc.watchCancel = nil
		return stop()
	}
	return true
}

// fail ends an exchange that produced no response: the connection is
// closed (the body writer, if any, then ends) and err is mapped the way
// resendable and the caller expect.
func (pc *upConn) fail(ctx context.Context, start int64, err error) error {
	pc.stopWatch()
	pc.close()
	if w := pc.body; w != nil {
		<-w.done
		if w.err != nil {
			err = w.err // the reader saw the connection the writer closed
		}
	}
	if pc.aborted.Load() || ctx.Err() != nil {
		return context.Cause(ctx)
	}
	switch {
	case isNothingWritten(err):
		return err
	case pc.nwrite == start:
		return nothingWrittenError{err}
	case isReadFromServer(err):
		return err
	}
	return fmt.Errorf("proxy: upstream connection broken: %w", err)
}

// writeRequest writes req and flushes it.
func (pc *upConn) writeRequest(req *http.Request) error {
	start := pc.nwrite
	var err error
	if fastHead(req) {
		pc.writeHead(req)
	} else {
		err = pc.writeSlow(req)
	}
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil && pc.nwrite == start {
		err = nothingWrittenError{err}
	}
	return err
}

// writeSlow writes req with net/http's own writer: requests with a body,
// and the unusual ones writeHead leaves alone.
func (pc *upConn) writeSlow(req *http.Request) error {
	if pc.pool.t.disableKeepAlives && !wantsClose(req) && !isProtocolSwitch(req.Header) {
		r := *req // not req itself: retries copy it
		r.Close = true
		req = &r
	}
	return req.Write(pc.bw)
}

// fastHead reports whether writeHead can write req: no body, no
// trailers, an origin-form URL (the proxy's requests) without control
// bytes, a Host of plain host bytes and no IPv6 zone.
func fastHead(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody || req.ContentLength != 0 ||
		len(req.TransferEncoding) != 0 || req.Trailer != nil || req.Method == http.MethodConnect {
		return false
	}
	u := req.URL
	if p := u.Opaque; p == "" || p[0] != '/' || len(p) > 1 && p[1] == '/' || hasCTL(p) || hasCTL(u.RawQuery) {
		return false
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	return httpguts.ValidHostHeader(host) && strings.IndexByte(host, '%') < 0
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}

// excludedHeader are the fields writeHead writes from the request's
// fields rather than from its header map.
func excludedHeader(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// writeHead writes a request fastHead accepted, byte for byte as
// net/http's writer does: request line, Host, User-Agent (the default
// unless the header has one; an empty one sends none), Connection: close
// when req.Close asks for it, Content-Length: 0 for POST, PUT and PATCH,
// the header fields sorted by name with their values trimmed, and
// Connection: close when keep-alive is disabled.
func (pc *upConn) writeHead(req *http.Request) {
	bw, u := pc.bw, req.URL
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(u.Opaque)
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	h := req.Header
	ua := defaultUserAgent
	if vv, ok := h["User-Agent"]; ok {
		ua = ""
		if len(vv) > 0 {
			ua = vv[0]
		}
	}
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(textproto.TrimString(ua))
		bw.WriteString("\r\n")
	}
	if req.Close && !httpfield.HasToken(firstValue(h, "Connection"), "close") {
		bw.WriteString("Connection: close\r\n")
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	var arr [32]string
	keys := arr[:0]
	for k := range h {
		if !excludedHeader(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	if pc.pool.t.disableKeepAlives && !wantsClose(req) && !isProtocolSwitch(h) {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

func firstValue(h http.Header, k string) string {
	if vv := h[k]; len(vv) > 0 {
		return vv[0]
	}
	return ""
}

// wantsClose: the request asks for the connection to close after it.
func wantsClose(req *http.Request) bool {
	return req.Close || httpfield.HasToken(firstValue(req.Header, "Connection"), "close")
}

// isProtocolSwitch: an Upgrade request, or the header of a 101 response
// that switches protocols.
func isProtocolSwitch(h http.Header) bool {
	return h.Get("Upgrade") != "" && httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade")
}

// readResponse reads the final response's headers, skipping 1xx
// responses other than 101, within maxResponseHeaderBytes. Its body, if
// any, is an *upstreamBody still to be tied to the exchange.
func (pc *upConn) readResponse(req *http.Request, into *upstreamResponse) (*http.Response, error) {
	pc.readLimit = maxResponseHeaderBytes
	if _, err := pc.br.Peek(1); err != nil {
		return nil, readFromServerError{err}
	}
	for {
		var res *http.Response
		if u := readResponseHead(pc.br, req, into); u != nil {
			res = &u.res
		} else {
			var err error
			if res, err = http.ReadResponse(pc.br, req); err != nil {
				if pc.readLimit <= 0 {
					err = errResponseHeadersTooLong
				}
				return nil, err
			}
			if res.Body != http.NoBody {
				res.Body = &upstreamBody{body: res.Body}
			}
		}
		if c := res.StatusCode; c >= 100 && c <= 199 && c != http.StatusSwitchingProtocols {
			continue
		}
		pc.readLimit = math.MaxInt64
		return res, nil
	}
}

// bodyWrite is the goroutine writing a request with a body; done closes
// once err is set.
type bodyWrite struct {
	done chan struct{}
	err  error
}

// startBodyWrite writes req (head and body) on a goroutine of the
// request's own, while the caller reads the response. A failed write
// closes the connection, so the reader stops too.
func (pc *upConn) startBodyWrite(req *http.Request) {
	w := &bodyWrite{done: make(chan struct{})}
	pc.body = w
	go func() {
		defer close(w.done)
		if w.err = pc.writeRequest(req); w.err != nil {
			pc.close()
		}
	}()
}

// wroteRequest reports whether the request was written in full; it
// waits briefly for a body writer still running (an upstream may answer
// before the last body byte left), after which the connection is not
// reused.
func (pc *upConn) wroteRequest() bool {
	w := pc.body
	if w == nil {
		return true
	}
	select {
	case <-w.done:
	default:
		t := time.NewTimer(bodyWriteGrace)
		defer t.Stop()
		select {
		case <-w.done:
		case <-t.C:
			return false
		}
	}
	return w.err == nil
}

// upstreamBody is a response body streaming from its connection. The
// connection is released when the body ends: to the pool after EOF (if
// keep-alive holds), closed after an error or an early Close, so a
// half-read response never leaves bytes on a reused connection.
type upstreamBody struct {
	pc   *upConn
	body io.ReadCloser // ReadResponse's framing (length, chunks, trailers), unless direct
	// direct: readResponseHead framed it; remaining bytes of its
	// Content-Length, -1 to the end of the stream.
	direct    bool
	remaining int64
	ctx       context.Context
	alive     bool
	done      bool
	err       error // what reads return once done
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	var n int
	var err error
	if b.direct {
		n, err = b.readDirect(p)
	} else {
		n, err = b.body.Read(p)
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		b.done, b.err = true, io.EOF
		b.pc.release(b.alive)
	default:
		b.done = true
		b.pc.stopWatch()
		b.pc.close()
		if b.pc.aborted.Load() {
			err = context.Cause(b.ctx)
		}
		b.err = err
	}
	return n, b.err
}

// Close releases the connection; before EOF it closes it (the rest of
// the response is not read).
func (b *upstreamBody) Close() error {
	if !b.done {
		b.done, b.err = true, errReadOnClosedBody
		b.pc.stopWatch()
		b.pc.close()
	}
	return nil
}

// handOver gives the connection of a 101 Switching Protocols response to
// its body: it leaves the pool (its slot is free), and closing the body
// closes it.
func (pc *upConn) handOver() io.ReadWriteCloser {
	owned := pc.closed.CompareAndSwap(false, true)
	if owned {
		p := pc.pool
		p.mu.Lock()
		p.releaseSlotLocked()
		p.mu.Unlock()
	}
	return &switchedBody{pc: pc, owned: owned}
}

// switchedBody is the raw connection after a protocol switch: bytes
// already buffered first.
type switchedBody struct {
	pc     *upConn
	owned  bool
	closed bool
}

func (b *switchedBody) Read(p []byte) (int, error) {
	if n := b.pc.br.Buffered(); n > 0 {
		return b.pc.br.Read(p[:min(len(p), n)])
	}
	return b.pc.conn.Read(p)
}

func (b *switchedBody) Write(p []byte) (int, error) { return b.pc.conn.Write(p) }

func (b *switchedBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.pc.conn.Close()
	if b.owned {
		b.pc.pool.t.stats.cxActive.Add(-1)
		b.pc.pool.cx.active.Add(-1)
	}
	return err
}

// Interface guards.
var (
	_ io.ReadCloser      = (*upstreamBody)(nil)
	_ io.ReadWriteCloser = (*switchedBody)(nil)
	_ error              = nothingWrittenError{}
	_ error              = readFromServerError{}
)
