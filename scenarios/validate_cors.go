package scenarios

import (
	"fmt"
	"time"

	"golang.org/x/net/http/httpguts"
)

// corsMethods are the methods Istio accepts in corsPolicy.allowMethods
// (pkg/config/validation supportedCORSMethods).
var corsMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "*": true,
}

// validateCORSPolicy applies Istio's validateCORSPolicy to the corsPolicy
// at p: each allowOrigins entry a non-empty exact, prefix or regex (one of
// them), methods Istio knows, header names that are tokens or "*", a
// maxAge of whole seconds, unmatchedPreflights one of its enum.
func validateCORSPolicy(r *reporter, p string, c *CorsPolicy) {
	for i := range c.AllowOrigins {
		validateAllowOrigin(r, fmt.Sprintf("%s.allowOrigins[%d]", p, i), &c.AllowOrigins[i])
	}
	for i, m := range c.AllowMethods {
		if !corsMethods[m] {
			r.errorf(fmt.Sprintf("%s.allowMethods[%d]", p, i), "%q is not a supported HTTP method", m)
		}
	}
	for _, f := range []struct {
		name  string
		names []string
	}{{"allowHeaders", c.AllowHeaders}, {"exposeHeaders", c.ExposeHeaders}} {
		for i, n := range f.names {
			fp := fmt.Sprintf("%s.%s[%d]", p, f.name, i)
			switch {
			case n == "":
				r.errorf(fp, "header name cannot be empty")
			case n != "*" && !httpguts.ValidHeaderFieldName(n):
				r.errorf(fp, "header name %s is not a valid header name", n)
			}
		}
	}
	if d := c.MaxAge; d != nil {
		validateDurationField(r, p+".maxAge", d)
		if d.D()%time.Second != 0 {
			r.errorf(p+".maxAge", "max_age duration is accurate only to seconds precision")
		}
	}
	oneOf(r, p+".unmatchedPreflights", c.UnmatchedPreflights, "UNSPECIFIED", "FORWARD", "IGNORE")
}

// validateAllowOrigin checks one allowOrigins entry (Istio's
// validateAllowOrigins): exactly one of exact, prefix or regex, not empty,
// a regex that compiles.
func validateAllowOrigin(r *reporter, p string, sm *StringMatch) {
	var set []*string
	for _, s := range []*string{sm.Exact, sm.Prefix, sm.Regex} {
		if s != nil {
			set = append(set, s)
		}
	}
	switch {
	case len(set) > 1:
		r.errorf(p, "set exactly one of exact, prefix or regex")
	case len(set) == 0 || *set[0] == "":
		r.errorf(p, "'' is not a valid match type for CORS allow origins")
	case sm.Regex != nil:
		validateRegex(r, p+".regex", *sm.Regex)
	}
}
