package demo

import (
	"net/http"
	"strconv"
)

// DetailsService is Bookinfo's details v1 service, an [http.Handler]:
//
//	GET /details/{id}   the book's [Details], with that id
//	GET /health         {"status": "Details is healthy"}
//
// It calls nothing; a non-numeric id gets 400, as in Bookinfo.
type DetailsService struct {
	version string
	rec     *recorder
	mux     *http.ServeMux
}

// NewDetailsService returns a details service configured by opts (Version
// and AccessLog; it makes no calls).
func NewDetailsService(opts BookinfoOptions) *DetailsService {
	s := &DetailsService{version: opts.version()}
	s.rec = newRecorder(NameDetails+"-"+s.version, opts.AccessLog)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /details/{id}", serveDetails)
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, healthReply{Status: "Details is healthy"})
	})
	return s
}

// serveDetails answers the details of the book {id}: details v1's
// GET /details/{id}, which productpage's built-in GET /api/v1/products/{id}
// answers the same way.
func serveDetails(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	d := theDetails
	d.ID = id
	writeJSON(w, http.StatusOK, d)
}

// ServeHTTP answers r, then counts and remembers it.
func (s *DetailsService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(VersionHeader, s.version)
	s.rec.serve(w, r, s.mux)
}

// Requests returns how many requests have been served.
func (s *DetailsService) Requests() int64 { return s.rec.Requests() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (s *DetailsService) Seen() []SeenRequest { return s.rec.Seen() }

var _ Target = (*DetailsService)(nil)
