package demo

import (
	"fmt"
	"net/http"
	"time"
)

// accessTimeFormat is RFC 3339 with milliseconds.
const accessTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// logAccess writes one access-log line for s. A failed write is dropped: the
// log must not fail the request.
func (h *HTTPBin) logAccess(s SeenRequest) {
	version := h.version
	if version == "" {
		version = "-"
	}
	line := fmt.Sprintf("%s %s %s %s %d %.3f host=%s\n",
		s.At.UTC().Format(accessTimeFormat), version, s.Method, s.Path, s.Status,
		float64(s.Duration)/float64(time.Millisecond), s.Host)
	h.logMu.Lock()
	defer h.logMu.Unlock()
	_, _ = h.accessLog.Write([]byte(line))
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
