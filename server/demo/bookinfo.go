package demo

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Bookinfo's client-side behaviour, which the classic Istio walkthrough
// depends on: productpage gives reviews 3 s and tries twice (so a reviews
// call that hangs costs about 6 s), reviews gives ratings 10 s. When it
// calls details, productpage gives it 3 s and one try.
const (
	DefaultReviewsTimeout = 3 * time.Second
	ReviewsAttempts       = 2
	DefaultRatingsTimeout = 10 * time.Second
	DefaultDetailsTimeout = 3 * time.Second
)

// The texts Bookinfo renders for a part it could not get.
const (
	// ReviewsUnavailable is productpage's text when reviews failed twice.
	ReviewsUnavailable = "Sorry, product reviews are currently unavailable for this book."
	// RatingsUnavailable is reviews' rating error when ratings failed.
	RatingsUnavailable = "Ratings service is currently unavailable"
	// DetailsUnavailable is productpage's text when details failed.
	DetailsUnavailable = "Sorry, product details are currently unavailable for this book."
)

// The URLs the Bookinfo services call, by Istio host name: through the
// proxy listener, or by name through a forward proxy or directly.
const (
	detailsURL = "http://details:9080/details/"
	reviewsURL = "http://reviews:9080/reviews/"
	ratingsURL = "http://ratings:9080/ratings/"
)

// BookinfoOptions configure a Bookinfo service. The zero value is usable.
type BookinfoOptions struct {
	// Version is the service's version label, sent in X-Demo-Version.
	// Reviews needs v1 (no ratings), v2 (black stars) or v3 (red stars);
	// the others default to v1.
	Version string
	// Mesh is the Faultline proxy listener ("127.0.0.1:15001") outbound
	// calls go through; "" = set later with SetMesh. Ignored with ByName.
	Mesh string
	// ByName sends the outbound calls as an ordinary HTTP client does, the
	// way a service in its own process or container calls its peers:
	// through the forward proxy Proxy picks for each URL (an absolute-form
	// request such as GET http://reviews:9080/reviews/0), or straight to
	// the named host when it picks none. Mesh and SetMesh are then unused.
	ByName bool
	// Proxy picks the forward proxy of each call when ByName is set, as
	// [http.Transport] Proxy does. nil = [http.ProxyFromEnvironment]
	// (HTTP_PROXY, http_proxy, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// CallDetails makes productpage ask details
	// (http://details:9080/details/{id}) for the book's details instead of
	// using its built-in copy of details v1's answer.
	CallDetails bool
	// AccessLog receives one line per request when non-nil, labelled
	// "<service>-<version>".
	AccessLog io.Writer
	// ReviewsTimeout bounds each of productpage's two calls to reviews.
	// 0 = DefaultReviewsTimeout (3s).
	ReviewsTimeout time.Duration
	// RatingsTimeout bounds reviews' call to ratings. 0 =
	// DefaultRatingsTimeout (10s).
	RatingsTimeout time.Duration
	// DetailsTimeout bounds productpage's one call to details (with
	// CallDetails). 0 = DefaultDetailsTimeout (3s).
	DetailsTimeout time.Duration
}

func (o BookinfoOptions) version() string {
	if o.Version == "" {
		return "v1"
	}
	return o.Version
}

// positiveOr returns d, or def when d is not positive.
func positiveOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Product is one book of the store, as productpage lists it.
type Product struct {
	ID              int    `json:"id"`
	Title           string `json:"title"`
	DescriptionHTML string `json:"descriptionHtml"`
}

// Details are a book's details, as Bookinfo's details v1 serves them.
type Details struct {
	ID        int    `json:"id"`
	Author    string `json:"author"`
	Year      int    `json:"year"`
	Type      string `json:"type"`
	Pages     int    `json:"pages"`
	Publisher string `json:"publisher"`
	Language  string `json:"language"`
	ISBN10    string `json:"ISBN-10"`
	ISBN13    string `json:"ISBN-13"`
}

// ReviewsReply is what reviews answers for GET /reviews/{id}.
type ReviewsReply struct {
	ID string `json:"id"`
	// Podname names the instance that answered: "reviews-v2".
	Podname     string   `json:"podname"`
	Clustername string   `json:"clustername"`
	Reviews     []Review `json:"reviews"`
}

// Review is one review; Rating is nil from reviews v1.
type Review struct {
	Reviewer string  `json:"reviewer"`
	Text     string  `json:"text"`
	Rating   *Rating `json:"rating,omitempty"`
}

// Rating is a review's stars (v2 black, v3 red) or, when ratings could
// not be reached, its error text.
type Rating struct {
	Stars int    `json:"stars,omitempty"`
	Color string `json:"color,omitempty"`
	Error string `json:"error,omitempty"`
}

// RatingsReply is what ratings answers for GET /ratings/{id}.
type RatingsReply struct {
	ID      int            `json:"id"`
	Ratings map[string]int `json:"ratings"`
}

// Page is productpage's view of a book: what /productpage renders, and its
// JSON form (?json, or Accept: application/json).
type Page struct {
	Product Product `json:"product"`
	// Details are the book's details, zero when details failed.
	Details Details `json:"details"`
	// DetailsStatus is details' status when productpage called it (200,
	// or the failure: a 5xx from the proxy, or 500 when no reply came
	// back); 0 when the details are built in.
	DetailsStatus int `json:"detailsStatus,omitempty"`
	// DetailsError is DetailsUnavailable when details failed.
	DetailsError string `json:"detailsError,omitempty"`
	// User is the end-user header of the request ("" when anonymous).
	User string `json:"user,omitempty"`
	// ReviewsStatus is reviews' last status: 200, or the failure (a 5xx
	// from the proxy, or 500 when no reply came back at all).
	ReviewsStatus int `json:"reviewsStatus"`
	// ReviewsPod names the reviews instance that answered ("reviews-v2").
	ReviewsPod string   `json:"reviewsPod,omitempty"`
	Reviews    []Review `json:"reviews,omitempty"`
	// ReviewsError is ReviewsUnavailable when reviews failed.
	ReviewsError string `json:"reviewsError,omitempty"`
}

// The one book of the store, as in Bookinfo.
var (
	theProduct = Product{
		ID:    0,
		Title: "The Comedy of Errors",
		DescriptionHTML: `<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: ` +
			`The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his ` +
			`most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, ` +
			`in addition to puns and word play.`,
	}
	theDetails = Details{ID: 0, Author: "William Shakespeare", Year: 1595, Type: "paperback", Pages: 200,
		Publisher: "PublisherA", Language: "English", ISBN10: "1234567890", ISBN13: "123-1234567890"}
	theReviews = []Review{
		{Reviewer: "Reviewer1", Text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"},
		{Reviewer: "Reviewer2", Text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."},
	}
	theRatings = map[string]int{"Reviewer1": 5, "Reviewer2": 4}
)

// healthReply is Bookinfo's /health body.
type healthReply struct {
	Status string `json:"status"`
}

// bookinfoService is what the four Bookinfo services share: the version
// they answer as (in VersionHeader), their routes, /health among them, and
// the recorder that counts and remembers what they served.
type bookinfoService struct {
	version string
	rec     *recorder
	mux     *http.ServeMux
}

// newBookinfoService starts the routes of service name (Details, …) at
// version with its /health; the caller adds the rest.
func newBookinfoService(name, version string, accessLog io.Writer) bookinfoService {
	s := bookinfoService{version: version, rec: newRecorder(name+"-"+version, accessLog), mux: http.NewServeMux()}
	healthy := healthReply{Status: strings.ToUpper(name[:1]) + name[1:] + " is healthy"}
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, healthy)
	})
	return s
}

// ServeHTTP answers r, then counts and remembers it.
func (s *bookinfoService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(VersionHeader, s.version)
	s.rec.serve(w, r, s.mux)
}

// Requests returns how many requests have been served.
func (s *bookinfoService) Requests() int64 { return s.rec.Requests() }

// Seen returns the last (up to 1000) served requests, oldest first.
func (s *bookinfoService) Seen() []SeenRequest { return s.rec.Seen() }
