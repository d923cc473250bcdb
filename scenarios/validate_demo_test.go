package scenarios_test

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// TestDemoEndpoints checks the built-in demo targets an endpoint may name,
// and that reviews gets the version label that picks its behaviour.
func TestDemoEndpoints(t *testing.T) {
	const stream = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: demo}
spec:
  services:
  - host: reviews
    port: 9080
    endpoints: [ENDPOINT]
  load: {url: http://reviews:9080/reviews/0}
`
	for _, tc := range []struct {
		name     string
		endpoint string
		want     []want
	}{
		{name: "httpbin", endpoint: "{demo: httpbin}"},
		{name: "productpage", endpoint: "{demo: productpage}"},
		{name: "ratings", endpoint: "{demo: ratings, labels: {version: v1}}"},
		{name: "reviews v1 shows no ratings", endpoint: "{demo: reviews, labels: {version: v1}}"},
		{name: "reviews v3 shows red stars", endpoint: "{demo: reviews, labels: {version: v3}}"},
		{name: "reviews without a version has no behaviour to pick", endpoint: "{demo: reviews}",
			want: []want{errAt("spec.services[0].endpoints[0].labels.version", `demo reviews needs version v1 (no ratings), v2 (black stars) or v3 (red stars), not ""`)}},
		{name: "reviews v4 does not exist", endpoint: "{demo: reviews, labels: {version: v4}}",
			want: []want{errAt("spec.services[0].endpoints[0].labels.version", `not "v4"`)}},
		{name: "details serves a book's details", endpoint: "{demo: details}"},
		{name: "an unknown demo target", endpoint: "{demo: mongodb}",
			want: []want{errAt("spec.services[0].endpoints[0].demo", `must be one of httpbin, productpage, reviews, ratings, details, not "mongodb"`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := scenarios.Lint([]byte(strings.Replace(stream, "ENDPOINT", tc.endpoint, 1)))
			checkProblems(t, ps, tc.want)
		})
	}
}
