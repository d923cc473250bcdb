package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// starColors is the colour of each reviews version's stars; v1 shows none
// and calls nothing.
var starColors = map[string]string{"v1": "", "v2": "black", "v3": "red"}

// Reviews is Bookinfo's reviews service, an [http.Handler]:
//
//	GET /reviews/{id}   {"id", "podname", "clustername", "reviews": [{"reviewer", "text", "rating"}]}
//	GET /health         {"status": "Reviews is healthy"}
//
// v1 answers without ratings. v2 and v3 call
// http://ratings:9080/ratings/{id} through the proxy listener (see
// [MeshCaller]), or by name (BookinfoOptions.ByName), within
// RatingsTimeout, propagating end-user and the trace headers, and show
// black (v2) or red (v3) stars; when ratings fails each review's rating
// carries RatingsUnavailable instead, and reviews still answers 200, as
// Bookinfo does.
type Reviews struct {
	bookinfoService
	color   string
	timeout time.Duration
	mesh    *meshClient
}

// NewReviews returns a Reviews service; opts.Version must be v1, v2 or v3.
func NewReviews(opts BookinfoOptions) (*Reviews, error) {
	color, ok := starColors[opts.Version]
	if !ok {
		return nil, fmt.Errorf("demo: reviews needs version v1, v2 or v3, not %q", opts.Version)
	}
	s := &Reviews{bookinfoService: newBookinfoService(NameReviews, opts.Version, opts.AccessLog), color: color, timeout: opts.RatingsTimeout, mesh: opts.outbound()}
	if s.timeout <= 0 {
		s.timeout = DefaultRatingsTimeout
	}
	s.mux.HandleFunc("GET /reviews/{id}", s.serveReviews)
	return s, nil
}

func (s *Reviews) serveReviews(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := strconv.Atoi(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	out := ReviewsReply{ID: id, Podname: NameReviews + "-" + s.version, Clustername: "null"}
	var ratings map[string]int
	var ratingsErr bool
	if s.color != "" {
		ratings, ratingsErr = s.ratings(r, id)
	}
	for _, rv := range theReviews {
		switch {
		case s.color == "":
		case ratingsErr:
			rv.Rating = &Rating{Error: RatingsUnavailable}
		default:
			rv.Rating = &Rating{Stars: ratings[rv.Reviewer], Color: s.color}
		}
		out.Reviews = append(out.Reviews, rv)
	}
	writeJSON(w, http.StatusOK, out)
}

// ratings asks ratings for product id; failed reports any failure: no
// reply, a non-200 reply or one that is not ratings' JSON.
func (s *Reviews) ratings(r *http.Request, id string) (ratings map[string]int, failed bool) {
	rep, err := s.mesh.get(r.Context(), ratingsURL+id, r.Header, s.timeout)
	if err != nil || rep.status != http.StatusOK {
		return nil, true
	}
	var rr RatingsReply
	if err := json.Unmarshal(rep.body, &rr); err != nil {
		return nil, true
	}
	return rr.Ratings, false
}

// SetMesh points the calls to ratings at the proxy listener addr. A
// reviews service that calls by name ignores it.
func (s *Reviews) SetMesh(addr string) { s.mesh.setAddr(addr) }

// CloseIdleConnections drops the idle connections to the proxy listener,
// once the service is done.
func (s *Reviews) CloseIdleConnections() { s.mesh.transport.CloseIdleConnections() }

var (
	_ Target     = (*Reviews)(nil)
	_ MeshCaller = (*Reviews)(nil)
)
