package scenarios_test

import "testing"

// corsPolicy is validated as Istio's validateCORSPolicy validates it.
func TestValidateCORSPolicy(t *testing.T) {
	const cp = "spec.http[0].corsPolicy"
	runLintCases(t, "VirtualService", []lintCase{
		{name: "every field, as Istio's reference shows them", yaml: rule("    corsPolicy:\n      allowOrigins: [{exact: https://example.com}, {prefix: https://app.}, {regex: 'https://.*\\.test'}]\n      allowMethods: [POST, GET]\n      allowHeaders: [X-Foo-Bar, '*']\n      exposeHeaders: [X-Trace]\n      maxAge: 24h\n      allowCredentials: false\n      unmatchedPreflights: IGNORE\n")},
		{name: "the deprecated allowOrigin list", yaml: rule("    corsPolicy: {allowOrigin: [https://example.com]}\n")},
		{name: "an empty origin match", yaml: rule("    corsPolicy: {allowOrigins: [{}, {exact: ''}]}\n"),
			want: []want{
				errAt(cp+".allowOrigins[0]", "'' is not a valid match type for CORS allow origins"),
				errAt(cp+".allowOrigins[1]", "'' is not a valid match type for CORS allow origins"),
			}},
		{name: "a regex that does not compile", yaml: rule("    corsPolicy: {allowOrigins: [{regex: '*'}]}\n"),
			want: []want{errAt(cp+".allowOrigins[0].regex", "missing argument to repetition operator")}},
		{name: "two matchers in one origin", yaml: rule("    corsPolicy: {allowOrigins: [{exact: a, prefix: b}]}\n"),
			want: []want{errAt(cp+".allowOrigins[0]", "set exactly one of exact, prefix or regex")}},
		{name: "a method Istio does not know", yaml: rule("    corsPolicy: {allowMethods: [GET, get, PROPFIND]}\n"),
			want: []want{
				errAt(cp+".allowMethods[1]", `"get" is not a supported HTTP method`),
				errAt(cp+".allowMethods[2]", `"PROPFIND" is not a supported HTTP method`),
			}},
		{name: "header names", yaml: rule("    corsPolicy: {allowHeaders: ['', 'a b'], exposeHeaders: ['x:y']}\n"),
			want: []want{
				errAt(cp+".allowHeaders[0]", "header name cannot be empty"),
				errAt(cp+".allowHeaders[1]", "header name a b is not a valid header name"),
				errAt(cp+".exposeHeaders[0]", "header name x:y is not a valid header name"),
			}},
		{name: "maxAge below a second", yaml: rule("    corsPolicy: {maxAge: 1500ms}\n"),
			want: []want{errAt(cp+".maxAge", "max_age duration is accurate only to seconds precision")}},
		{name: "unknown unmatchedPreflights", yaml: rule("    corsPolicy: {unmatchedPreflights: DROP}\n"),
			want: []want{errAt(cp+".unmatchedPreflights", "must be one of UNSPECIFIED, FORWARD, IGNORE")}},
	})
}
