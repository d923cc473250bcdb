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
	bookinfoService
}

// NewDetailsService returns a details service configured by opts (Version
// and AccessLog; it makes no calls).
func NewDetailsService(opts BookinfoOptions) *DetailsService {
	s := &DetailsService{newBookinfoService(NameDetails, opts.version(), opts.AccessLog)}
	s.mux.HandleFunc("GET /details/{id}", serveDetails)
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

var _ Target = (*DetailsService)(nil)
