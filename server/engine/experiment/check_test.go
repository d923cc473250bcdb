package experiment

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

func checkDoc(t *testing.T, loadHost string) *scenarios.Document {
	t.Helper()
	doc, err := scenarios.Parse([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dns}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:9"}]}]
  load: {url: "http://` + loadHost + `", requests: 5}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /ext}}]
    route:
    - {destination: {host: reviews}, weight: 75}
    - {destination: {host: api.example.com}, weight: 25}
  - route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Check warns of a destination the proxy cannot reach, and refuses a
// load whose own request is routed there, with the share it gets and
// the cause (ordered first); Execute refuses it with the same problems
// before starting anything.
func TestCheckRefusesALoadThatReachesAnUnusableDestination(t *testing.T) {
	ps := Check(checkDoc(t, "reviews:9080/"), Options{})
	if len(ps.Errors()) != 0 || len(ps.Warnings()) != 1 || ps[0].Document != "ServiceEntry ext" || ps[0].Line != 26 {
		t.Errorf("a load that does not reach it: %v", ps)
	}
	doc := checkDoc(t, "reviews:9080/ext")
	ps = Check(doc, Options{})
	errs := ps.Errors()
	want := "the load's requests (GET reviews:9080/ext on listener mesh, route reviews/0) go to outbound|80||api.example.com (25% of them), which cannot take them here: ServiceEntry ext: spec.resolution:"
	if len(errs) != 1 || errs[0].Path != "spec.load.url" || errs[0].Line != 6 || !strings.Contains(errs[0].Message, want) {
		t.Fatalf("a load that reaches it: %v", ps)
	}
	if ps[0].Severity != scenarios.SeverityWarning {
		t.Errorf("the cause is not listed first: %v", ps)
	}
	_, err := Execute(context.Background(), doc, Options{})
	var invalid *scenarios.InvalidError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 1 || invalid.Problems[0] != errs[0] {
		t.Errorf("Execute: %v, want the problems of Check", err)
	}
}

// A field the document's own validation warned about is not warned
// about again by the compiler: a gateway's tcp route to a host bound to
// nothing is one warning.
func TestCheckSaysEachFieldOnce(t *testing.T) {
	doc, err := scenarios.Parse([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: tcp-unbound}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{address: "127.0.0.1:9"}]}]
  load: {url: "http://httpbin:8000/get", requests: 5}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 31400, name: tcp, protocol: TCP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mongo}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 31400}]
    route: [{destination: {host: mongo, port: {number: 27017}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Warnings) != 1 || doc.Warnings[0].Path != "spec.tcp[0].route[0].destination.host" {
		t.Fatalf("the document's own warnings: %v", doc.Warnings)
	}
	for _, p := range Check(doc, Options{}) {
		if p.Path == doc.Warnings[0].Path {
			t.Errorf("the compiler warns again about %s: %v", p.Path, p)
		}
	}
}
