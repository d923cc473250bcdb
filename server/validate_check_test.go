package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server"
)

// dnsLoad is an experiment whose load goes to loadHost, beside a
// ServiceEntry resolved by DNS; its endpoint is at addr.
func dnsLoad(loadHost, addr string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dns}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "` + addr + `"}]}]
  load: {url: "http://` + loadHost + `/", requests: 5}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`
}

// POST /validate finds what a run would: the proxy's compilation (a DNS
// ServiceEntry is a warning at its line, an error where the load reaches
// it) and the server's own allow-list.
func TestValidateFindsWhatARunWould(t *testing.T) {
	c := serve(t, server.Config{})
	var out struct {
		Valid    bool               `json:"valid"`
		Problems scenarios.Problems `json:"problems"`
	}
	c.json("POST", "/api/v1/validate", "application/yaml", []byte(dnsLoad("reviews:9080", "127.0.0.1:9")), 200, &out)
	if !out.Valid || len(out.Problems) != 1 || out.Problems[0].Severity != scenarios.SeverityWarning ||
		out.Problems[0].Document != "ServiceEntry ext" || out.Problems[0].Path != "spec.resolution" || out.Problems[0].Line != 14 {
		t.Errorf("a DNS ServiceEntry the load does not reach: %+v", out)
	}
	c.json("POST", "/api/v1/validate", "application/yaml", []byte(dnsLoad("api.example.com", "127.0.0.1:9")), 200, &out)
	errs := out.Problems.Errors()
	if out.Valid || len(errs) != 1 || errs[0].Path != "spec.load.url" || errs[0].Line != 6 ||
		!strings.Contains(errs[0].Message, "cannot take them here: ServiceEntry ext: spec.resolution: resolution DNS") {
		t.Errorf("a DNS ServiceEntry the load reaches: %+v", out)
	}
	c.json("POST", "/api/v1/validate", "application/yaml", []byte(dnsLoad("reviews:9080", "10.1.2.3:80")), 200, &out)
	errs = out.Problems.Errors()
	if out.Valid || len(errs) != 1 || errs[0].Path != "spec.services[0].endpoints[0].address" || errs[0].Line != 5 {
		t.Errorf("an endpoint off the server's allow-list: %+v", out)
	}
}

// A run whose load would reach a host the proxy cannot serve is refused
// when it is started, with validate's words, and no run is recorded.
func TestRunStartRefusesWhatValidateRefuses(t *testing.T) {
	c := serve(t, server.Config{})
	id := createExp(t, c, dnsLoad("api.example.com", "127.0.0.1:9"))
	var refusal struct {
		Error struct {
			Message, Field string
		}
		Problems scenarios.Problems
	}
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", id), "", nil, http.StatusUnprocessableEntity, &refusal)
	if refusal.Error.Field != "spec.load.url" || len(refusal.Problems) != 1 || refusal.Problems[0].Line != 6 ||
		!strings.Contains(refusal.Error.Message, "resolution DNS") {
		t.Errorf("refusal %+v", refusal)
	}
	var runs struct{ Total int64 }
	c.json("GET", fmt.Sprintf("/api/v1/runs?experiment=%d", id), "", nil, http.StatusOK, &runs)
	if runs.Total != 0 {
		t.Errorf("%d runs recorded, want none", runs.Total)
	}
}
