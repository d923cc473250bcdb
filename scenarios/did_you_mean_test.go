package scenarios

import (
	"reflect"
	"strings"
	"testing"
)

// An unknown field within a small edit distance of a known field of the
// same object, or equal to it but for case, says which one was meant.
func TestUnknownFieldSaysDidYouMean(t *testing.T) {
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: typo}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:9080"}]}]
  load: {url: "http://reviews:9080/", requests: 10, Connections: 2, zzz: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retires: {attempts: 3}
`
	got := map[string]string{}
	for _, p := range Lint([]byte(src)) {
		got[p.Path] = p.Message
	}
	for path, want := range map[string]string{
		"spec.http[0].retires":  `unknown field "retires"; did you mean "retries"?`,
		"spec.load.Connections": `unknown field "Connections"; did you mean "connections"?`,
		"spec.load.zzz":         `unknown field "zzz"`,
	} {
		if got[path] != want {
			t.Errorf("%s: %q, want %q", path, got[path], want)
		}
	}
}

// Root cause first: a Gateway's misspelt field, which leaves it without
// servers, is listed before the problems it causes, though the Gateway
// stands after the VirtualService in the stream.
func TestProblemsListTheCauseFirst(t *testing.T) {
	src := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: order}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:9080"}]}]
  load: {url: "http://reviews:9080/", requests: 10}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  gateways: [ingress]
  http:
  - route: [{destination: {host: reviews, subset: v9}}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  severs:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [reviews.example.com]
`
	ps := Lint([]byte(src))
	if len(ps) < 2 || !strings.HasPrefix(ps[0].Message, `unknown field "severs"`) || ps[0].Document != "Gateway ingress" {
		t.Fatalf("first problem %v, want the Gateway's unknown field (all: %v)", ps[0], ps)
	}
	for _, p := range ps[1:] {
		if p.Line < ps[0].Line && readingProblem(p) {
			t.Errorf("a reading problem after the cause: %v", p)
		}
	}
	if editDistance("retires", "retries") != 1 || editDistance("abc", "abc") != 0 || editDistance("kitten", "sitting") != 3 {
		t.Error("editDistance")
	}
}

// A key far longer than any field name gets no suggestion, and costs no
// distance table as long as the key.
func TestUnknownLongKeyGetsNoSuggestion(t *testing.T) {
	long := strings.Repeat("k", 200_000)
	if got := nearestField(reflect.TypeFor[Load](), long); got != "" {
		t.Errorf("nearest field of a %d-letter key: %q", len(long), got)
	}
	if allocs := testing.AllocsPerRun(3, func() { nearestField(reflect.TypeFor[Load](), long) }); allocs > 0 {
		t.Errorf("%v allocations for a key no field name is near, want none", allocs)
	}
	if got := nearestField(reflect.TypeFor[Load](), "conections"); got != "connections" {
		t.Errorf("nearest field of conections: %q", got)
	}
}
