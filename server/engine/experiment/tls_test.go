package experiment_test

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/runstatus"
)

// tlsIngress is the secure-ingress task as a run: the load goes over
// HTTPS to a Gateway server in SIMPLE (or MUTUAL), which terminates TLS
// with a certificate of the run's CA and routes by path, half of
// /status/503 aborted by a fault.
const tlsIngress = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: secure-ingress}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}
  load: {url: "https://httpbin.example.com/status/200", via: mygateway, connections: 2, requests: 40}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mygateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: MODE, credentialName: httpbin-credential}
    hosts: [httpbin.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin.example.com]
  gateways: [mygateway]
  http:
  - match: [{uri: {prefix: /status}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: httpbin, port: {number: 8000}}}]
`

// faultline run over HTTPS: the load trusts the run's CA, asks for the
// gateway server's host and, for MUTUAL, presents a client certificate
// of the same CA; the report counts the codes the gateway answered.
func TestRunOverHTTPSThroughATerminatingGateway(t *testing.T) {
	for _, mode := range []string{"SIMPLE", "MUTUAL"} {
		t.Run(mode, func(t *testing.T) {
			r, err := experiment.Execute(context.Background(), parse(t, strings.Replace(tlsIngress, "MODE", mode, 1)), experiment.Options{Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != runstatus.Succeeded || r.Requests != 40 {
				t.Fatalf("status %s, %d requests, reason %q", r.Status, r.Requests, r.Reason)
			}
			if got := r.Codes["200"] + r.Codes["503"]; got != 40 || r.Codes["200"] == 0 || r.Codes["503"] == 0 {
				t.Errorf("codes %v: want 40 answers, 200s and 503s", r.Codes)
			}
			if ls, ok := r.Proxy.Listener("mygateway:443"); !ok || ls.Requests != 40 {
				t.Errorf("gateway listener %+v (found %v), want 40 requests", ls, ok)
			}
			if r.Proxy.ByFlag["FI"] != r.Codes["503"] {
				t.Errorf("FI %d, 503s %d: every 503 is the fault's", r.Proxy.ByFlag["FI"], r.Codes["503"])
			}
		})
	}
}
