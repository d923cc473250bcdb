package demo

import (
	"net/http"
	"strconv"
)

// Ratings is Bookinfo's ratings service, an [http.Handler]:
//
//	GET /ratings/{id}   {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}
//	GET /health         {"status": "Ratings is healthy"}
//
// It calls nothing; a non-numeric id gets 400.
type Ratings struct {
	version string
	rec     *recorder
	mux     *http.ServeMux
}

// NewRatings returns a Ratings service configured by opts (Version and
// AccessLog; it makes no calls).
func NewRatings(opts BookinfoOptions) *Ratings {
	s := &Ratings{version: opts.version()}
	s.rec = newRecorder(NameRatings+"-"+s.version, opts.AccessLog)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /ratings/{id}", serveRatings)
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, healthReply{Status: "Ratings is healthy"})
	})
	return s
}

func serveRatings(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	writeJSON(w, http.StatusOK, RatingsReply{ID: id, Ratings: theRatings})
}

// ServeHTTP answers r, then counts and remembers it.
func (s *Ratings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(VersionHeader, s.version)
	s.rec.serve(w, r, s.mux)
}

// Requests returns how many requests have been served.
func (s *Ratings) Requests() int64 { return s.rec.Requests() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (s *Ratings) Seen() []SeenRequest { return s.rec.Seen() }

var _ Target = (*Ratings)(nil)
