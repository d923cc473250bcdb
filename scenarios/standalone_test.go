package scenarios_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// plainHTTPBin is the istio.io circuit-breaking task's resources as
// written, without an Experiment: a route to httpbin:8000 and its
// DestinationRule.
const plainHTTPBin = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`

func mustBind(t *testing.T, s string) scenarios.Bind {
	t.Helper()
	b, err := scenarios.ParseBind(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     scenarios.Bind
		err      string // part of the error; "" when valid
	}{
		{name: "host alone takes its port from the resources", in: "httpbin=127.0.0.1:8000", want: scenarios.Bind{Host: "httpbin", Address: "127.0.0.1:8000"}},
		{name: "host and port", in: "HTTPBin:8000=127.0.0.1:9", want: scenarios.Bind{Host: "httpbin", Port: 8000, Address: "127.0.0.1:9"}},
		{name: "no address", in: "httpbin", err: "want HOST=ADDR"},
		{name: "address without port", in: "httpbin=127.0.0.1", err: "must be host:port"},
		{name: "port out of range", in: "httpbin:0=127.0.0.1:1", err: "must be 1-65535"},
		{name: "not a DNS name", in: "http_bin=127.0.0.1:1", err: "must be a DNS name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scenarios.ParseBind(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStandaloneBindsPlainIstio(t *testing.T) {
	doc, err := scenarios.ParseStandalone([]byte(plainHTTPBin), []scenarios.Bind{mustBind(t, "httpbin=127.0.0.1:8001")})
	if err != nil {
		t.Fatal(err)
	}
	svcs := doc.Experiment.Spec.Services
	if len(svcs) != 1 {
		t.Fatalf("got services %+v, want one", svcs)
	}
	if got, want := svcs[0].Port, uint32(8000); got != want {
		t.Errorf("port: got %d, want %d (the route's destination port)", got, want)
	}
	if got, want := svcs[0].Endpoints[0].Address, "127.0.0.1:8001"; got != want {
		t.Errorf("address: got %q, want %q", got, want)
	}
	if got := len(doc.VirtualServices) + len(doc.DestinationRules); got != 2 {
		t.Errorf("got %d resources, want 2", got)
	}
}

func TestParseStandaloneProblems(t *testing.T) {
	twoPorts := plainHTTPBin + "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: other}\nspec:\n  hosts: [other]\n  http:\n  - route:\n    - destination: {host: httpbin, port: {number: 9000}}\n"
	for _, tc := range []struct {
		name  string
		src   string
		binds []string
		want  []string // parts of the problems, in order
	}{
		{name: "plain YAML needs binds", src: plainHTTPBin, want: []string{"--bind: the stream holds no Experiment"}},
		{name: "a host the resources give no port", src: plainHTTPBin, binds: []string{"ratings=127.0.0.1:1"}, want: []string{"--bind ratings=127.0.0.1:1: no resource gives ratings a port"}},
		{name: "a host with two ports needs one", src: twoPorts, binds: []string{"httpbin=127.0.0.1:1"}, want: []string{"ports 8000, 9000"}},
		{name: "one service port bound twice", src: plainHTTPBin, binds: []string{"httpbin=127.0.0.1:1", "httpbin:8000=127.0.0.1:2"}, want: []string{"--bind httpbin:8000=127.0.0.1:2: binds httpbin:8000 again (--bind httpbin:8000=127.0.0.1:1)"}},
		{name: "binds beside an Experiment", src: experimentWithoutLoad, binds: []string{"httpbin=127.0.0.1:1"}, want: []string{"whose spec.services bind its hosts"}},
		{name: "a resource problem still names its field", src: strings.Replace(plainHTTPBin, "maxConnections: 1", "maxConnections: -1", 1), binds: []string{"httpbin=127.0.0.1:1"}, want: []string{"DestinationRule httpbin: spec.trafficPolicy.connectionPool.tcp.maxConnections"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var binds []scenarios.Bind
			for _, b := range tc.binds {
				binds = append(binds, mustBind(t, b))
			}
			_, err := scenarios.ParseStandalone([]byte(tc.src), binds)
			var invalid *scenarios.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("got %v, want an *InvalidError", err)
			}
			for i, w := range tc.want {
				if i >= len(invalid.Problems) || !strings.Contains(invalid.Problems[i].String(), w) {
					t.Errorf("problems %v: want #%d to contain %q", invalid.Problems, i, w)
				}
			}
		})
	}
}

// experimentWithoutLoad binds httpbin and sends no load.
const experimentWithoutLoad = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: no-load}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: "127.0.0.1:8001"}]
`

func TestParseStandaloneTakesAnExperimentWithoutLoad(t *testing.T) {
	if _, err := scenarios.Parse([]byte(experimentWithoutLoad)); err == nil || !strings.Contains(err.Error(), "spec.load") {
		t.Fatalf("Parse: got %v, want spec.load required (a run needs its load)", err)
	}
	doc, err := scenarios.ParseStandalone([]byte(experimentWithoutLoad), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Name(), "no-load"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Other problems of the Experiment still reject it.
	bad := strings.Replace(experimentWithoutLoad, `"127.0.0.1:8001"`, `"127.0.0.1"`, 1)
	if _, err := scenarios.ParseStandalone([]byte(bad), nil); err == nil || !strings.Contains(err.Error(), "spec.services[0].endpoints[0].address") {
		t.Errorf("got %v, want the address problem", err)
	}
}
