package scenarios_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// FuzzParse feeds arbitrary streams to the parser: whatever comes in, it
// returns a document or an error, never both and never a panic.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./scenarios/
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("httpbin-*.yaml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("kind: Experiment\n---\n- a\n---\n{\"apiVersion\": 1}"))
	f.Add([]byte("apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  services: &s [{host: a, port: 1, endpoints: [{demo: httpbin}]}, *s]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := scenarios.Parse(src)
		if (doc == nil) == (err == nil) {
			t.Fatalf("Parse returned a document (%v) and an error (%v)", doc != nil, err)
		}
		scenarios.Lint(src)
	})
}
