package demo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Productpage is Bookinfo's front page, an [http.Handler]:
//
//	GET /                                the store's index (HTML)
//	GET /productpage                     the book with its reviews (HTML; JSON with ?json or Accept: application/json)
//	GET /health                          {"status": "Productpage is healthy"}
//	GET /api/v1/products                 the list of books
//	GET /api/v1/products/{id}            a book's details
//	GET /api/v1/products/{id}/reviews    reviews' reply, relayed
//	GET /api/v1/products/{id}/ratings    ratings' reply, relayed
//
// It calls http://reviews:9080/reviews/0 through the proxy listener (see
// [MeshCaller]), or by name (BookinfoOptions.ByName), as Bookinfo does:
// ReviewsTimeout per try, two tries for any failure, propagating end-user
// and the trace headers. When both fail the page still answers 200, with
// ReviewsUnavailable where the reviews would be. The details are Bookinfo's
// details v1, built in, unless BookinfoOptions.CallDetails makes it call
// http://details:9080/details/0 the same way (one try within
// DetailsTimeout); when that fails the page still answers 200, with
// DetailsUnavailable where the details would be.
type Productpage struct {
	bookinfoService
	timeout        time.Duration
	callDetails    bool
	detailsTimeout time.Duration
	mesh           *meshClient
}

// NewProductpage returns a Productpage configured by opts.
func NewProductpage(opts BookinfoOptions) *Productpage {
	s := &Productpage{
		bookinfoService: newBookinfoService(NameProductpage, opts.version(), opts.AccessLog),
		timeout:         positiveOr(opts.ReviewsTimeout, DefaultReviewsTimeout),
		callDetails:     opts.CallDetails,
		detailsTimeout:  positiveOr(opts.DetailsTimeout, DefaultDetailsTimeout),
		mesh:            opts.outbound(),
	}
	s.mux.HandleFunc("GET /{$}", serveStoreIndex)
	s.mux.HandleFunc("GET /index.html", serveStoreIndex)
	s.mux.HandleFunc("GET /productpage", s.servePage)
	s.mux.HandleFunc("GET /api/v1/products", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []Product{theProduct})
	})
	s.mux.HandleFunc("GET /api/v1/products/{id}", s.serveAPIDetails)
	s.mux.HandleFunc("GET /api/v1/products/{id}/reviews", s.serveAPIReviews)
	s.mux.HandleFunc("GET /api/v1/products/{id}/ratings", s.serveAPIRatings)
	return s
}

func (s *Productpage) servePage(w http.ResponseWriter, r *http.Request) {
	p := Page{Product: theProduct, Details: theDetails, User: r.Header.Get("End-User")}
	id := strconv.Itoa(theProduct.ID)
	if s.callDetails {
		status, d := s.details(r, id)
		p.DetailsStatus = status
		if d != nil {
			p.Details = *d
		} else {
			p.Details, p.DetailsError = Details{}, DetailsUnavailable
		}
	}
	status, rr := s.reviews(r, id)
	p.ReviewsStatus = status
	if rr != nil {
		p.ReviewsPod, p.Reviews = rr.Podname, rr.Reviews
	} else {
		p.ReviewsError = ReviewsUnavailable
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, p)
		return
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// reviews asks reviews for product id the way Bookinfo's productpage does:
// up to two tries, each within the timeout, any failure retried. It
// returns the last status (500 when no reply came) and the reviews, nil
// when both tries failed.
func (s *Productpage) reviews(r *http.Request, id string) (int, *ReviewsReply) {
	status := http.StatusInternalServerError
	for range ReviewsAttempts {
		rep, err := s.mesh.get(r.Context(), reviewsURL+id, r.Header, s.timeout)
		if err != nil {
			status = http.StatusInternalServerError
			if r.Context().Err() != nil {
				break // the client went away: nobody reads a second try
			}
			continue
		}
		status = rep.status
		if rep.status != http.StatusOK {
			continue
		}
		var rr ReviewsReply
		if err := json.Unmarshal(rep.body, &rr); err != nil {
			status = http.StatusInternalServerError
			continue
		}
		return http.StatusOK, &rr
	}
	return status, nil
}

// details asks details for product id the way Bookinfo's productpage does:
// one try within the details timeout. It returns the status (500 when no
// reply came, or the reply was not details' JSON) and the details, nil on
// any failure.
func (s *Productpage) details(r *http.Request, id string) (int, *Details) {
	rep, err := s.mesh.get(r.Context(), detailsURL+id, r.Header, s.detailsTimeout)
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	if rep.status != http.StatusOK {
		return rep.status, nil
	}
	var d Details
	if err := json.Unmarshal(rep.body, &d); err != nil {
		return http.StatusInternalServerError, nil
	}
	return http.StatusOK, &d
}

// serveAPIDetails answers a book's details: the built-in copy, or
// details' answer with CallDetails.
func (s *Productpage) serveAPIDetails(w http.ResponseWriter, r *http.Request) {
	if !s.callDetails {
		serveDetails(w, r)
		return
	}
	id := r.PathValue("id")
	if _, err := strconv.Atoi(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	status, d := s.details(r, id)
	if d == nil {
		writeJSON(w, status, map[string]string{"error": DetailsUnavailable})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Productpage) serveAPIReviews(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := strconv.Atoi(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	status, rr := s.reviews(r, id)
	if rr == nil {
		writeJSON(w, status, map[string]string{"error": ReviewsUnavailable})
		return
	}
	writeJSON(w, http.StatusOK, rr)
}

func (s *Productpage) serveAPIRatings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := strconv.Atoi(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "please provide numeric product ID"})
		return
	}
	rep, err := s.mesh.get(r.Context(), ratingsURL+id, r.Header, DefaultRatingsTimeout)
	if err != nil || rep.status != http.StatusOK {
		status := http.StatusInternalServerError
		if err == nil {
			status = rep.status
		}
		writeJSON(w, status, map[string]string{"error": "Sorry, product ratings are currently unavailable for this book."})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rep.body)
}

// wantsJSON reports whether the page is asked for as JSON: ?json, or an
// Accept header naming application/json.
func wantsJSON(r *http.Request) bool {
	return r.URL.Query().Has("json") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// SetMesh points the calls to reviews and ratings at the proxy listener
// addr. A productpage that calls by name ignores it.
func (s *Productpage) SetMesh(addr string) { s.mesh.setAddr(addr) }

// CloseIdleConnections drops the idle connections to the proxy listener,
// once the service is done.
func (s *Productpage) CloseIdleConnections() { s.mesh.transport.CloseIdleConnections() }

var (
	_ Target     = (*Productpage)(nil)
	_ MeshCaller = (*Productpage)(nil)
)
