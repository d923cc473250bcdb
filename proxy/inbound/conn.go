package inbound

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const bufferBytes = 4 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferBytes) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferBytes) }}
)

// aLongTimeAgo is a deadline in the past: it ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one downstream connection and what its requests reuse.
type conn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string
	born       time.Time
	tls        *tls.ConnectionState
	state      atomic.Int32 // http.ConnState

	// lr limits what the buffered reader may take from the connection
	// while a request head is read.
	lr limitedConn
	br *bufio.Reader
	bw *bufio.Writer

	// ctx is every request's context: it ends when the client goes away
	// (watch.go) or the connection closes. One per connection, so that a
	// request pays for no context of its own.
	ctx        context.Context
	cancelConn context.CancelFunc
	// body is the body of the request in the handler, if it has one.
	body *body
	// The request and response of the moment, reused: blank is an empty
	// request with ctx, copied over req to start each plain one.
	blank  *http.Request
	req    *http.Request
	url    url.URL
	header http.Header
	res    response

	// Read deadline in force (readTimeout).
	rdur time.Duration
	rset time.Time
	// Write deadline in force (connWriter).
	wset time.Time

	lastMethod string

	// Watching for the client going away (watch.go).
	watchMu     sync.Mutex
	watchArmed  bool // a request is in the handler
	watchReady  bool // its body is read: a watch may start
	watchWanted bool // the timer fired before the body ended
	watching    bool
	watchTimer  *time.Timer
	watchDone   chan struct{}
	peerGone    atomic.Bool

	// wmu orders a 100 Continue written from a body reader with the
	// response's head.
	wmu         sync.Mutex
	headStarted bool
}

// limitedConn reads from the connection, at most remain bytes while a
// limit is set.
type limitedConn struct {
	c       net.Conn
	limited bool
	remain  int64
	hit     bool
	// recording: what is read is appended to rec as well.
	recording bool
	rec       []byte
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.limited {
		if l.remain <= 0 {
			l.hit = true
			return 0, io.EOF
		}
		if int64(len(p)) > l.remain {
			p = p[:l.remain]
		}
	}
	n, err := l.c.Read(p)
	if l.limited {
		l.remain -= int64(n)
	}
	if l.recording {
		l.rec = append(l.rec, p[:n]...)
	}
	return n, err
}

// connWriter writes to the connection, re-arming the write deadline when
// an eighth of it has passed since it was last set.
type connWriter conn

func (w *connWriter) Write(p []byte) (int, error) {
	c := (*conn)(w)
	d := c.s.writeTimeout()
	if now := time.Now(); now.Sub(c.wset) > d/8 {
		c.rwc.SetWriteDeadline(now.Add(d))
		c.wset = now
	}
	return c.rwc.Write(p)
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String(), born: time.Now()}
	c.lr.c = rwc
	c.header = make(http.Header)
	c.res.c = c
	c.res.header = make(http.Header)
	c.watchDone = make(chan struct{}, 1)
	return c
}

func (c *conn) serve() {
	s := c.s
	s.setState(c, http.StateNew)
	hijacked := false
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			s.logError("inbound: handler panic", "remote", c.remoteAddr, "panic", fmt.Sprint(v), "stack", string(buf))
		}
		if c.cancelConn != nil {
			c.cancelConn()
		}
		// After a panic the watch, or another goroutine reading the body,
		// may still use the buffer: both end before it goes back.
		if c.watchTimer != nil {
			c.disarmWatch()
		}
		if c.body != nil {
			c.body.stop()
		}
		if !hijacked {
			if c.bw != nil {
				c.bw.Flush()
			}
			c.rwc.Close()
			s.setState(c, http.StateClosed)
		}
		c.release()
		s.remove(c)
	}()

	if tc, ok := c.rwc.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(s.readHeaderTimeout()))
		if err := tc.HandshakeContext(context.Background()); err != nil {
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
				// Plain HTTP to a TLS listener: say so in plain HTTP,
				// as net/http does.
				io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			}
			s.logDebug("inbound: TLS handshake failed", "remote", c.remoteAddr, "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		c.tls = &st
	}
	c.ctx, c.cancelConn = context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, c.rwc.LocalAddr()))
	c.blank = new(http.Request).WithContext(c.ctx)
	c.req = new(http.Request)
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.lr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset((*connWriter)(c))

	// The first request's head goes straight to the parser; later ones
	// wait for four bytes first, and a connection that ends with fewer
	// closes without an answer, as net/http's do.
	need := 1
	for ; ; need = 4 {
		if c.br.Buffered() < need {
			if need == 4 {
				s.setState(c, http.StateIdle)
			}
			c.readTimeout(s.idleTimeout())
			if _, err := c.br.Peek(need); err != nil && (need == 4 || c.br.Buffered() == 0) {
				return
			}
		}
		if s.closing.Load() {
			return
		}
		s.setState(c, http.StateActive)
		if !c.serveOne() {
			hijacked = c.res.hijacked
			return
		}
	}
}

// release gives the buffers back; not after a hijack, whose caller owns
// what was buffered.
func (c *conn) release() {
	if c.res.hijacked {
		return
	}
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
}

// readTimeout arms a read deadline d from now, unless one of the same
// length was armed less than an eighth of it ago.
func (c *conn) readTimeout(d time.Duration) {
	now := time.Now()
	if d == c.rdur && now.Sub(c.rset) < d/8 {
		return
	}
	c.rwc.SetReadDeadline(now.Add(d))
	c.rdur, c.rset = d, now
}

// serveOne reads one request, runs the handler and finishes the
// response; false when the connection must not serve another.
func (c *conn) serveOne() bool {
	s := c.s
	req, err := c.readRequest()
	if err != nil {
		c.refuse(err)
		return false
	}
	w := &c.res
	w.reset(req)

	if expectsContinue(req) {
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
			w.canContinue = true
			c.headStarted = false
		}
	} else if len(req.Header["Expect"]) > 0 && req.Header["Expect"][0] != "" {
		w.header["Connection"] = []string{"close"}
		w.WriteHeader(http.StatusExpectationFailed)
		w.finish()
		return false
	}
	body := c.wrapBody(req)
	c.body = body
	c.armWatch(body == nil)

	s.Handler.ServeHTTP(w, req)

	c.disarmWatch()
	c.body = nil
	if w.hijacked {
		return false
	}
	keep := !req.Close && !w.closeAfter
	if body != nil && !body.finish() {
		keep = false
	}
	if !w.finish() {
		keep = false
	}
	if c.peerGone.Load() {
		keep = false
	}
	if !keep {
		c.bw.Flush()
		return false
	}
	c.lastMethod = req.Method
	return true
}

// refuse answers a request that could not be read, as net/http does, and
// the connection closes.
func (c *conn) refuse(err error) {
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	var line string
	var se statusError
	switch {
	case errors.Is(err, errTooLarge):
		line = "431 Request Header Fields Too Large"
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
		// net/http's parser gives no other sign of it; 501 as RFC 7230
		// §3.3.1 asks, without echoing the coding.
		io.WriteString(c.rwc, "HTTP/1.1 501 Not Implemented"+errorHeaders+"Unsupported transfer encoding")
		return
	case errors.As(err, &se):
		line = fmt.Sprintf("%d %s: %s", se.code, http.StatusText(se.code), se.text)
	case isNetReadError(err):
		return
	default:
		line = "400 Bad Request"
	}
	c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c.rwc, "HTTP/1.1 "+line+errorHeaders+line)
	c.closeWriteAndWait()
}

// closeWriteAndWait half-closes the connection and drains what the
// client still sends, for up to half a second, so that the refusal is
// read before the close (closing with unread bytes resets the connection,
// and the client may lose the answer).
func (c *conn) closeWriteAndWait() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	cw.CloseWrite()
	c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c.rwc, 1<<20))
}

// statusError is a refusal with its status and text.
type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return fmt.Sprintf("%d %s", e.code, e.text) }

var errTooLarge = errors.New("inbound: request head too large")

// isNetReadError: the client went away or timed out before a whole head
// came; no answer is due.
func isNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// looksLikeHTTP reports whether the first five bytes of a connection that
// should have started a TLS handshake start an HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
