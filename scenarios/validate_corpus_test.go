package scenarios_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// docWant is an expected problem of a whole stream: the document it names,
// and the severity, exact path and message substring.
type docWant struct {
	doc string
	want
}

// TestValidateCorpus lints Istio's sample configurations and the
// reference scenarios' resources (testdata/validate; docs/istio.md,
// Validation corpus) and checks that each yields exactly the expected
// problems: Istio accepts them all and so does Faultline (no errors), and
// the only warnings are the deprecations and dead rules Istio itself
// reports.
func TestValidateCorpus(t *testing.T) {
	corpus := map[string][]docWant{
		"bookinfo-destination-rule-all.yaml":      nil,
		"bookinfo-destination-rule-all-mtls.yaml": nil,
		"bookinfo-destination-rule-reviews.yaml":  nil,
		"bookinfo-virtual-service-all-v1.yaml":    nil,
		"bookinfo-reviews-80-20.yaml":             nil,
		"bookinfo-reviews-test-v2.yaml":           nil,
		"bookinfo-reviews-jason-v2-v3.yaml":       nil,
		"bookinfo-ratings-mysql.yaml":             nil,
		"bookinfo-ratings-test-abort.yaml":        nil,
		"bookinfo-ratings-test-delay.yaml": {
			{"VirtualService ratings", warnAt("spec.http[0].fault.delay.percent", "is deprecated: use percentage: {value: 100}")},
		},
		"bookinfo-fault-injection-details-v1.yaml": {
			{"VirtualService details", warnAt("spec.http[1]", "is unreachable: spec.http[0] before it matches every request")},
		},
		"bookinfo-gateway.yaml":      nil,
		"certmanager-gateway.yaml":   nil,
		"httpbin-gateway.yaml":       nil,
		"ingress-httpbin-paths.yaml": nil,
		"egress-gateway.yaml":        nil,
		"circuit-breaker.yaml": {
			{"DestinationRule httpbin", warnAt("spec.trafficPolicy.outlierDetection.consecutiveErrors",
				"is deprecated and ignored by Istio since 1.7; Envoy's default of 5 consecutive 5xx applies")},
		},
		"mirror.yaml": {
			{"VirtualService httpbin", warnAt("spec.http[0].mirrorPercent", "mirror_percent is deprecated: use mirrorPercentage: {value: 100}")},
		},
		"reviews-timeout.yaml": {
			{"VirtualService ratings", warnAt("spec.http[0].fault.delay.percent", "is deprecated")},
		},
		"ratings-retries.yaml": {
			{"VirtualService ratings", warnAt("spec.http[0].fault.delay.percent", "is deprecated")},
		},
	}

	files, err := filepath.Glob(filepath.Join("testdata", "validate", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpus) {
		t.Errorf("testdata/validate holds %d files, the corpus table %d", len(files), len(corpus))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			wants, ok := corpus[name]
			if !ok {
				t.Fatalf("%s is not in the corpus table", name)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkStream(t, scenarios.Lint(src), wants)

			// Parse agrees: accepted unless an error is expected.
			_, err = scenarios.Parse(src)
			wantErr := false
			for _, w := range wants {
				wantErr = wantErr || w.sev == scenarios.SeverityError
			}
			if (err != nil) != wantErr {
				t.Errorf("Parse error = %v, want error: %v", err, wantErr)
			}
		})
	}
}

// checkStream matches every wanted problem to a distinct problem of the
// stream, by document too, and reports missing and unexpected ones.
func checkStream(t *testing.T, got scenarios.Problems, wants []docWant) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.Document == w.doc && p.Severity == w.sev && p.Path == w.path && strings.Contains(p.Message, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %s: %s", w.doc, w.want)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected %s %s", p.Severity, p)
		}
	}
}
