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
	bookinfoService
}

// NewRatings returns a Ratings service configured by opts (Version and
// AccessLog; it makes no calls).
func NewRatings(opts BookinfoOptions) *Ratings {
	s := &Ratings{newBookinfoService(NameRatings, opts.version(), opts.AccessLog)}
	s.mux.HandleFunc("GET /ratings/{id}", serveRatings)
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

var _ Target = (*Ratings)(nil)
