// Package demo holds Faultline's built-in load targets, so an experiment can
// run with no external upstream:
//
//   - httpbin: an httpbin-like service whose JSON shapes follow httpbin.org
//     for the endpoints it has; see [HTTPBin].
//   - productpage, details, reviews and ratings: Istio's Bookinfo
//     (productpage → details, productpage → reviews → ratings) whose calls
//     go through a Faultline proxy listener by Host name, as a sidecar
//     would take them, or, one service per process, by name through the
//     forward proxy of HTTP_PROXY; see [Productpage], [DetailsService],
//     [Reviews] and [Ratings].
//
// Every target counts and remembers what reached it (Requests, Seen), so
// tests can assert what each upstream saw. It uses only the standard library.
package demo

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Names of the built-in demo targets, as an endpoint's `demo:` names them.
const (
	NameHTTPBin     = "httpbin"
	NameProductpage = "productpage"
	NameDetails     = "details"
	NameReviews     = "reviews"
	NameRatings     = "ratings"
)

// Names lists the built-in demo targets.
func Names() []string {
	return []string{NameHTTPBin, NameProductpage, NameDetails, NameReviews, NameRatings}
}

// Target is a demo target as the engine and tests see it: a handler that
// counts and remembers what it served.
type Target interface {
	http.Handler
	// Requests returns how many requests have been served.
	Requests() int64
	// Seen returns the last (up to 1000) served requests, oldest first.
	Seen() []SeenRequest
}

// MeshCaller is a target that calls other services through a Faultline
// proxy listener (the Bookinfo services). The listener's address is known
// only once the proxy has started, so it is set after construction.
type MeshCaller interface {
	// SetMesh points every later outbound call at the proxy listener addr
	// ("127.0.0.1:15001"). Calls made before any SetMesh fail as a
	// connection failure would. A service that calls by name
	// (BookinfoOptions.ByName) ignores it.
	SetMesh(addr string)
	// CloseIdleConnections drops idle connections to the listener, once
	// the target is done.
	CloseIdleConnections()
}

// Options configure a target made by [New]. The zero value is usable.
type Options struct {
	// Version is the endpoint's version label. httpbin reports it in
	// X-Demo-Version; reviews needs v1 (no ratings), v2 (black stars) or
	// v3 (red stars); productpage and ratings report it too.
	Version string
	// AccessLog receives one line per request when non-nil.
	AccessLog io.Writer
	// Mesh is the proxy listener the Bookinfo services call through; ""
	// means it is set later with SetMesh. httpbin ignores it.
	Mesh string
	// ByName, Proxy and CallDetails are the Bookinfo services' options of
	// the same names (see [BookinfoOptions]): calls by name through a
	// forward proxy or directly, and productpage asking details. httpbin
	// ignores them.
	ByName      bool
	Proxy       func(*http.Request) (*url.URL, error)
	CallDetails bool
}

// New returns the named demo target: httpbin, productpage, details,
// reviews or ratings.
func New(name string, o Options) (Target, error) {
	bo := BookinfoOptions{Version: o.Version, AccessLog: o.AccessLog, Mesh: o.Mesh, ByName: o.ByName, Proxy: o.Proxy, CallDetails: o.CallDetails}
	switch name {
	case NameHTTPBin:
		return NewHTTPBin(HTTPBinOptions{Version: o.Version, AccessLog: o.AccessLog}), nil
	case NameProductpage:
		return NewProductpage(bo), nil
	case NameDetails:
		return NewDetailsService(bo), nil
	case NameReviews:
		return NewReviews(bo)
	case NameRatings:
		return NewRatings(bo), nil
	}
	return nil, fmt.Errorf("demo: unknown target %q (known: %s)", name, strings.Join(Names(), ", "))
}
