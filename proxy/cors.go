package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// CORS, as Envoy's CORS filter answers a route's corsPolicy that istiod
// translated (pilot route.TranslateCORSPolicy; Envoy
// source/extensions/filters/http/cors/cors_filter.cc). The filter runs
// after the route is chosen and before the fault filter, on routes that
// forward (redirect and directResponse routes have no route entry for it):
//
//   - no Origin, or an empty one: not a CORS request, nothing changes;
//   - an OPTIONS with Origin and a non-empty Access-Control-Request-Method
//     is a preflight: the proxy answers 200 itself (details cors_response)
//     with access-control-allow-origin (the origin, when allowed),
//     -allow-credentials, -allow-methods, -allow-headers and -max-age,
//     unless the origin is not allowed and unmatchedPreflights is FORWARD
//     (the default), when it goes on to the upstream like any request;
//   - any other response to an allowed origin, the upstream's or a local
//     reply, gets access-control-allow-origin (the origin),
//     -allow-credentials and -expose-headers.

// CORS response headers, canonical.
const (
	hdrOrigin            = "Origin"
	hdrACRequestMethod   = "Access-Control-Request-Method"
	hdrACRequestHeaders  = "Access-Control-Request-Headers"
	hdrACAllowOrigin     = "Access-Control-Allow-Origin"
	hdrACAllowCreds      = "Access-Control-Allow-Credentials"
	hdrACAllowMethods    = "Access-Control-Allow-Methods"
	hdrACAllowHeaders    = "Access-Control-Allow-Headers"
	hdrACMaxAge          = "Access-Control-Max-Age"
	hdrACExposeHeaders   = "Access-Control-Expose-Headers"
	corsResponseDetails  = "cors_response"
	corsWildcardListItem = "*"
)

var valTrue = []string{"true"}

// corsPolicy is a route's compiled corsPolicy. Header values are built
// once; nil means the header is not sent.
type corsPolicy struct {
	origins       []*strMatch
	allowMethods  []string // nil, or one value: the methods joined by ","
	allowHeaders  []string
	exposeHeaders []string
	maxAge        []string // whole seconds
	credentials   bool
	// echoMethod, echoHeaders: allowMethods (allowHeaders) is exactly "*",
	// and Envoy answers with the preflight's own request header.
	echoMethod, echoHeaders bool
	// forwardUnmatched: a preflight from an origin not allowed goes to the
	// upstream (unmatchedPreflights FORWARD, istiod's default).
	forwardUnmatched bool
}

// corsPolicy compiles h.CorsPolicy as istiod translates it: allowOrigins
// (else the deprecated allowOrigin as exact matches), lists joined with
// ",", maxAge in whole seconds.
func (b *builder) corsPolicy(label, path string, c *scenarios.CorsPolicy) *corsPolicy {
	out := &corsPolicy{
		credentials:      c.AllowCredentials != nil && *c.AllowCredentials,
		forwardUnmatched: c.UnmatchedPreflights != "IGNORE",
		allowMethods:     joined(c.AllowMethods),
		allowHeaders:     joined(c.AllowHeaders),
		exposeHeaders:    joined(c.ExposeHeaders),
	}
	out.echoMethod = len(out.allowMethods) == 1 && out.allowMethods[0] == corsWildcardListItem
	out.echoHeaders = len(out.allowHeaders) == 1 && out.allowHeaders[0] == corsWildcardListItem
	if c.MaxAge != nil {
		out.maxAge = []string{strconv.FormatInt(int64(c.MaxAge.D().Seconds()), 10)}
	}
	if c.AllowOrigins != nil {
		for i := range c.AllowOrigins {
			sm := &c.AllowOrigins[i]
			p := path + ".allowOrigins[" + strconv.Itoa(i) + "]"
			if sm.Exact == nil && sm.Prefix == nil && sm.Regex == nil {
				b.errorf(label, p, "set one of exact, prefix or regex")
				continue
			}
			if sm.Regex != nil && *sm.Regex == "*" {
				b.errorf(label, p+".regex", "invalid RE2 regex %q", *sm.Regex)
				continue
			}
			if m := b.strMatch(label, p, sm, false); m != nil {
				out.origins = append(out.origins, m)
			}
		}
	} else {
		for _, o := range c.AllowOrigin {
			out.origins = append(out.origins, &strMatch{kind: strExact, value: o})
		}
	}
	return out
}

// joined is a list header's one value, nil for an empty list.
func joined(items []string) []string {
	if len(items) == 0 {
		return nil
	}
	return []string{strings.Join(items, ",")}
}

// allows is Envoy's isOriginAllowed: a matcher that matches "*" allows
// every origin.
func (c *corsPolicy) allows(origin string) bool {
	for _, m := range c.origins {
		if m.match(corsWildcardListItem) || m.match(origin) {
			return true
		}
	}
	return false
}

// cors runs the CORS filter for a request of a route with policy c: it
// latches an allowed origin for the response headers and answers a
// preflight. It reports whether it answered.
func (x *exchange) cors(c *corsPolicy) bool {
	origin := x.r.Header[hdrOrigin]
	if len(origin) == 0 || origin[0] == "" {
		return false
	}
	allowed := c.allows(origin[0])
	if allowed {
		x.corsOrigin = origin[:1:1]
		x.corsPolicy = c
	}
	if x.r.Method != http.MethodOptions {
		return false
	}
	reqMethod := x.r.Header[hdrACRequestMethod]
	if len(reqMethod) == 0 || reqMethod[0] == "" || !allowed && c.forwardUnmatched {
		return false
	}
	h := x.w.Header()
	if allowed {
		h[hdrACAllowOrigin] = x.corsOrigin
	}
	if c.credentials {
		h[hdrACAllowCreds] = valTrue
	}
	switch {
	case c.echoMethod:
		h[hdrACAllowMethods] = reqMethod[:1:1]
	case c.allowMethods != nil:
		h[hdrACAllowMethods] = c.allowMethods
	}
	switch {
	case c.echoHeaders:
		v := x.r.Header[hdrACRequestHeaders]
		if len(v) == 0 {
			v = []string{""}
		}
		h[hdrACAllowHeaders] = v[:1:1]
	case c.allowHeaders != nil:
		h[hdrACAllowHeaders] = c.allowHeaders
	}
	if c.maxAge != nil {
		h[hdrACMaxAge] = c.maxAge
	}
	x.finishLocal(http.StatusOK, nil, corsResponseDetails)
	return true
}

// corsHeaders adds the headers of a response to an allowed origin (the
// filter's encodeHeaders): on every response once the filter latched the
// origin, local replies included.
func (x *exchange) corsHeaders(h http.Header) {
	c := x.corsPolicy
	h[hdrACAllowOrigin] = x.corsOrigin
	if c.credentials {
		h[hdrACAllowCreds] = valTrue
	}
	if c.exposeHeaders != nil {
		h[hdrACExposeHeaders] = c.exposeHeaders
	}
}
