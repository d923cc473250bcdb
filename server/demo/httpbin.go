// Package demo is Faultline's built-in load target: a small httpbin-like HTTP
// service, so an experiment can run with no external upstream. Its JSON
// shapes follow httpbin.org for the endpoints it has; see [HTTPBin].
//
// It uses only the standard library.
package demo

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxDelay caps /delay/{seconds} when HTTPBinOptions.MaxDelay is 0,
// as httpbin.org caps it.
const DefaultMaxDelay = 10 * time.Second

// VersionHeader carries HTTPBinOptions.Version on every response.
const VersionHeader = "X-Demo-Version"

// seenCapacity is how many requests Seen remembers.
const seenCapacity = 1000

// HTTPBinOptions configures an [HTTPBin]. The zero value is usable.
type HTTPBinOptions struct {
	// Version, when set, is sent as the X-Demo-Version header on every
	// response, so tests can tell which of several targets answered.
	// "" = no header.
	Version string
	// AccessLog receives one line per request, when non-nil:
	//	<RFC3339 ms, UTC> <version or -> <method> <escaped path> <status> <duration ms> host=<host>
	// e.g. "2026-11-25T21:10:00.123Z v2 GET /status/503 503 0.042 host=127.0.0.1:8080".
	// Writes are serialized. nil = no access log.
	AccessLog io.Writer
	// MaxDelay caps /delay/{seconds}. 0 = DefaultMaxDelay (10s).
	MaxDelay time.Duration
}

// SeenRequest is what [HTTPBin] remembers of one request.
type SeenRequest struct {
	// Method is the request method.
	Method string
	// Path is the escaped request path, without the query.
	Path string
	// Host is the Host header (or the authority of an HTTP/2 request).
	Host string
	// Header is a copy of the request headers (Host excluded, as in net/http).
	Header http.Header
	// At is when the request arrived.
	At time.Time
	// Status is the response status, recorded when the handler returned.
	// 499 means the client went away first (nginx's convention).
	Status int
	// Duration is how long the handler ran.
	Duration time.Duration
}

// HTTPBin is an httpbin-like [http.Handler]:
//
//	GET  /                 text index of the endpoints
//	GET  /get              {args, headers, origin, url}
//	GET  /headers          {headers}
//	GET  /ip               {origin}
//	ANY  /anything[/...]   {args, data, files, form, headers, json, method, origin, url}
//	ANY  /status/{codes}   503 | 200,503 (uniform) | 200:0.9,503:0.1 (weighted)
//	ANY  /delay/{seconds}  the /get shape after min(seconds, MaxDelay)
//	GET  /healthz          200 "ok"
//
// Headers in the JSON are canonical names with single string values (several
// values joined with ","), Host included. Unknown paths get net/http's
// plain "404 page not found", a GET-only path asked with another method a 405.
type HTTPBin struct {
	version   string
	maxDelay  time.Duration
	mux       *http.ServeMux
	requests  atomic.Int64
	seen      seenRing
	logMu     sync.Mutex // serializes writes to accessLog
	accessLog io.Writer
}

// NewHTTPBin returns an HTTPBin configured by opts.
func NewHTTPBin(opts HTTPBinOptions) *HTTPBin {
	h := &HTTPBin{
		version:   opts.Version,
		maxDelay:  opts.MaxDelay,
		accessLog: opts.AccessLog,
		seen:      seenRing{buf: make([]SeenRequest, seenCapacity)},
	}
	if h.maxDelay <= 0 {
		h.maxDelay = DefaultMaxDelay
	}
	h.mux = h.routes()
	return h
}

// ServeHTTP answers r, then counts, remembers and logs it.
func (h *HTTPBin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if h.version != "" {
		w.Header().Set(VersionHeader, h.version)
	}
	rec := &statusRecorder{ResponseWriter: w}
	h.mux.ServeHTTP(rec, r)

	s := SeenRequest{
		Method:   r.Method,
		Path:     r.URL.EscapedPath(),
		Host:     r.Host,
		Header:   r.Header.Clone(),
		At:       start,
		Status:   rec.statusOrOK(),
		Duration: time.Since(start),
	}
	if h.accessLog != nil {
		h.logAccess(s)
	}
	h.seen.add(s)
	h.requests.Add(1) // last: once Requests counts r, its log line and Seen entry exist
}

// Requests returns how many requests have been served: those whose handler
// has returned.
func (h *HTTPBin) Requests() int64 { return h.requests.Load() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (h *HTTPBin) Seen() []SeenRequest { return h.seen.list() }

// seenRing is a bounded, mutex-guarded ring of the latest requests.
type seenRing struct {
	mu   sync.Mutex
	buf  []SeenRequest
	next int  // where the next request goes
	full bool // buf has wrapped at least once
}

func (s *seenRing) add(r SeenRequest) {
	s.mu.Lock()
	s.buf[s.next] = r
	s.next = (s.next + 1) % len(s.buf)
	s.full = s.full || s.next == 0
	s.mu.Unlock()
}

func (s *seenRing) list() []SeenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		return append([]SeenRequest(nil), s.buf[:s.next]...)
	}
	return append(append([]SeenRequest(nil), s.buf[s.next:]...), s.buf[:s.next]...)
}

var _ http.Handler = (*HTTPBin)(nil)
