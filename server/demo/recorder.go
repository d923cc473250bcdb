package demo

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// seenCapacity is how many requests Seen remembers.
const seenCapacity = 1000

// accessTimeFormat is RFC 3339 with milliseconds.
const accessTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// SeenRequest is what a demo target remembers of one request.
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

// recorder counts, remembers and optionally logs the requests one demo
// target served. Every demo target owns one, so tests can see what reached
// each upstream.
type recorder struct {
	label     string // first field of an access-log line; "" prints "-"
	requests  atomic.Int64
	seen      seenRing
	logMu     sync.Mutex // serializes writes to accessLog
	accessLog io.Writer
}

func newRecorder(label string, accessLog io.Writer) *recorder {
	return &recorder{label: label, accessLog: accessLog, seen: seenRing{buf: make([]SeenRequest, seenCapacity)}}
}

// serve runs h for r, then counts, remembers and logs the request.
func (rc *recorder) serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	start := time.Now()
	sr := &statusRecorder{ResponseWriter: w}
	h.ServeHTTP(sr, r)
	s := SeenRequest{
		Method:   r.Method,
		Path:     r.URL.EscapedPath(),
		Host:     r.Host,
		Header:   r.Header.Clone(),
		At:       start,
		Status:   sr.statusOrOK(),
		Duration: time.Since(start),
	}
	if rc.accessLog != nil {
		rc.logAccess(s)
	}
	rc.seen.add(s)
	rc.requests.Add(1) // last: once Requests counts r, its log line and Seen entry exist
}

// Requests returns how many requests have been served: those whose handler
// has returned.
func (rc *recorder) Requests() int64 { return rc.requests.Load() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (rc *recorder) Seen() []SeenRequest { return rc.seen.list() }

// logAccess writes one access-log line for s:
//
//	<RFC3339 ms, UTC> <label or -> <method> <escaped path> <status> <duration ms> host=<host>
//
// A failed write is dropped: the log must not fail the request.
func (rc *recorder) logAccess(s SeenRequest) {
	label := rc.label
	if label == "" {
		label = "-"
	}
	line := fmt.Sprintf("%s %s %s %s %d %.3f host=%s\n",
		s.At.UTC().Format(accessTimeFormat), label, s.Method, s.Path, s.Status,
		float64(s.Duration)/float64(time.Millisecond), s.Host)
	rc.logMu.Lock()
	defer rc.logMu.Unlock()
	_, _ = rc.accessLog.Write([]byte(line))
}

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

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusOrOK is the status sent, 200 when the handler wrote nothing.
func (r *statusRecorder) statusOrOK() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
