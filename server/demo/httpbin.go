package demo

import (
	"io"
	"net/http"
	"time"
)

// DefaultMaxDelay caps /delay/{seconds} when HTTPBinOptions.MaxDelay is 0,
// as httpbin.org caps it.
const DefaultMaxDelay = 10 * time.Second

// VersionHeader carries HTTPBinOptions.Version on every response.
const VersionHeader = "X-Demo-Version"

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
	version  string
	maxDelay time.Duration
	mux      *http.ServeMux
	rec      *recorder
}

// NewHTTPBin returns an HTTPBin configured by opts.
func NewHTTPBin(opts HTTPBinOptions) *HTTPBin {
	h := &HTTPBin{
		version:  opts.Version,
		maxDelay: opts.MaxDelay,
		rec:      newRecorder(opts.Version, opts.AccessLog),
	}
	if h.maxDelay <= 0 {
		h.maxDelay = DefaultMaxDelay
	}
	h.mux = h.routes()
	return h
}

// ServeHTTP answers r, then counts, remembers and logs it.
func (h *HTTPBin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.version != "" {
		w.Header().Set(VersionHeader, h.version)
	}
	h.rec.serve(w, r, h.mux)
}

// Requests returns how many requests have been served: those whose handler
// has returned.
func (h *HTTPBin) Requests() int64 { return h.rec.Requests() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (h *HTTPBin) Seen() []SeenRequest { return h.rec.Seen() }

var _ http.Handler = (*HTTPBin)(nil)
