// Package inbound is the proxy's client-facing HTTP/1.1 server: it reads
// requests off downstream connections and hands them to an http.Handler,
// as net/http's server does, at a fraction of its cost per request.
//
// What it keeps from net/http, so that a handler cannot tell the two
// apart: the same request fields (method, target, protocol, Host, header
// with canonical names, body framing by Content-Length or chunks with
// trailers, Close, RemoteAddr, TLS, a context carrying
// http.LocalAddrContextKey and cancelled when the client goes away),
// the same refusals (400, 417, 431, 501, 505), Expect: 100-continue
// answered on the body's first read, responses framed by the handler's
// Content-Length or else chunked past 2 KiB (a shorter body gets its
// length), trailers, 1xx informational responses, HEAD, Hijack and Flush,
// keep-alive and pipelined requests answered in order.
//
// What it does differently, for speed: a connection reuses its buffers,
// its request, header map and response writer from request to request,
// and its requests share one context, which ends with the connection
// (net/http's ends with each request: a handler here must stop what it
// started for a request before it returns);
// a request whose head is plain (origin-form target, HTTP/1.1, CRLF line
// ends, token field names, a Content-Length or no body) is parsed from the
// connection's buffer with two allocations, and any other head goes to
// net/http's own parser (http.ReadRequest). Deadlines are re-armed only
// when they are due, not once per request. A client that goes away while
// its request is in the handler is noticed by a read that starts only
// when the request has run for WatchAfter, so a short request costs no
// goroutine. The fuzz test holds its parsing side by side with net/http's.
//
// Limits, Envoy's defaults: a request head of at most 60 KiB and 100
// fields (431 beyond), a head that must arrive within 30 s of its first
// byte, an idle connection closed after an hour, a body or a response
// that makes no progress for 5 minutes ends the connection.
package inbound

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server's limits.
const (
	DefaultReadHeaderTimeout = 30 * time.Second
	DefaultIdleTimeout       = time.Hour
	DefaultBodyTimeout       = 5 * time.Minute
	DefaultWriteTimeout      = 5 * time.Minute
	DefaultMaxHeaderBytes    = 60 << 10
	DefaultMaxHeaders        = 100
	DefaultWatchAfter        = 2 * time.Millisecond
)

// Server serves HTTP/1.1 requests to Handler. The zero values of its
// limits are the defaults above. Its fields must not change once Serve
// was called.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds the wait for a request head once its first
	// byte arrived.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a connection that waits this long for its next
	// request.
	IdleTimeout time.Duration
	// BodyTimeout ends a connection whose request body sends nothing for
	// this long while the handler waits for it.
	BodyTimeout time.Duration
	// WriteTimeout ends a connection whose client takes nothing of its
	// response for this long.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds the request line and header fields together;
	// MaxHeaders the number of header fields.
	MaxHeaderBytes int
	MaxHeaders     int
	// WatchAfter is how long a request runs in the handler before a read
	// watches for its client going away (which cancels its context).
	WatchAfter time.Duration
	// ConnState, if set, is told when a connection opens
	// (http.StateNew), starts and ends requests (StateActive, StateIdle),
	// is taken over (StateHijacked) and closes (StateClosed).
	ConnState func(net.Conn, http.ConnState)
	// Logger receives failed TLS handshakes and handler panics at debug
	// and error level; nil discards them.
	Logger *slog.Logger

	date atomic.Pointer[dateLine]

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	done      chan struct{} // closed by Close and Shutdown
}

// ErrServerClosed is what Serve returns after Close or Shutdown; it is
// net/http's, so callers check one error whichever server they run.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln and serves each on its own goroutine
// until Close or Shutdown. It closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.track(ln, false)
	defer ln.Close()
	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if retryable(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-s.closed():
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, rwc)
		if !s.add(c) {
			rwc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// retryable reports whether an accept error passes (too many open files
// and the like): net/http's test, the error's own Temporary.
func retryable(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Close stops accepting and closes every connection at once, requests
// in flight included.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.rwc.Close()
	}
	return nil
}

// Shutdown stops accepting, closes idle connections, and waits for the
// others to finish their request and close, polling until ctx ends (then
// it returns ctx's error and leaves them open: Close cuts them).
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	if s.done == nil {
		s.done = make(chan struct{})
	}
	close(s.done)
	for ln := range s.listeners {
		ln.Close()
	}
}

// closed is a channel closed once the server is closing.
func (s *Server) closed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// closeIdle closes the idle connections, and those that have sent
// nothing for 5 s since they opened (a younger one may be sending its
// first request: net/http's rule), and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		st := c.state.Load()
		if st == int32(http.StateIdle) || st == int32(http.StateNew) && time.Since(c.born) > 5*time.Second {
			c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) setState(c *conn, st http.ConnState) {
	c.state.Store(int32(st))
	if s.ConnState != nil {
		s.ConnState(c.rwc, st)
	}
}

func (s *Server) readHeaderTimeout() time.Duration {
	return orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}
func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) bodyTimeout() time.Duration { return orDefault(s.BodyTimeout, DefaultBodyTimeout) }
func (s *Server) writeTimeout() time.Duration {
	return orDefault(s.WriteTimeout, DefaultWriteTimeout)
}
func (s *Server) watchAfter() time.Duration { return orDefault(s.WatchAfter, DefaultWatchAfter) }
func (s *Server) maxHeaderBytes() int       { return orDefault(s.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (s *Server) maxHeaders() int           { return orDefault(s.MaxHeaders, DefaultMaxHeaders) }

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (s *Server) logDebug(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Debug(msg, args...)
	}
}

func (s *Server) logError(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Error(msg, args...)
	}
}

// dateLine is a Date field line, valid for one second.
type dateLine struct {
	sec  int64
	line []byte
}

// dateLine is the Date field of responses sent now.
func (s *Server) dateLine() []byte {
	now := time.Now()
	if d := s.date.Load(); d != nil && d.sec == now.Unix() {
		return d.line
	}
	d := &dateLine{sec: now.Unix(), line: []byte("Date: " + now.UTC().Format(http.TimeFormat) + "\r\n")}
	s.date.Store(d)
	return d.line
}
