package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dnsExperiment binds reviews on loopback (nothing need listen: validate
// dials nothing) beside a ServiceEntry resolved by DNS; the load goes to
// loadHost.
func dnsExperiment(loadHost string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dns}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:9"}]}]
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

// validate runs what a run runs before its load: a DNS ServiceEntry is a
// warning at its line, and an error (exit 2, as run) where the load's own
// request reaches it; run refuses it with the same words.
func TestValidateFindsWhatARunWould(t *testing.T) {
	warn := "warning: ServiceEntry ext: spec.resolution: resolution DNS resolves api.example.com by DNS, which Faultline never does: requests to api.example.com get 503 UH unless the Experiment's spec.services binds it (line 14)"

	aside := writeFile(t, dnsExperiment("reviews:9080"))
	stdout, _, code := faultline(t, "validate", aside)
	if code != 0 || !strings.Contains(stdout, warn) || !strings.Contains(stdout, "valid, 1 warning(s)") {
		t.Errorf("a DNS ServiceEntry the load does not reach: exit %d\n%s", code, stdout)
	}

	reached := writeFile(t, dnsExperiment("api.example.com"))
	stdout, _, code = faultline(t, "validate", reached)
	wantErr := "error: Experiment dns: spec.load.url: the load's requests (GET api.example.com/ on listener mesh, route default route) go to outbound|80||api.example.com, which cannot take them here: ServiceEntry ext: spec.resolution: resolution DNS"
	if code != 2 || !strings.Contains(stdout, wantErr) || !strings.Contains(stdout, "(line 14) (line 6)") {
		t.Fatalf("a DNS ServiceEntry the load reaches: exit %d\n%s", code, stdout)
	}
	// Root cause first: the ServiceEntry's warning before the load's error.
	if strings.Index(stdout, warn) > strings.Index(stdout, wantErr) {
		t.Errorf("the cause is listed after its symptom:\n%s", stdout)
	}
	_, stderr, code := faultline(t, "run", reached)
	if code != 2 || !strings.Contains(stderr, strings.TrimPrefix(wantErr, "error: ")) {
		t.Errorf("run of what validate refuses: exit %d\n%s", code, stderr)
	}
}

// validate applies the allow-list run and serve apply (--allow widens
// it), and says what a TLS gateway without --credentials-dir does.
func TestValidateAllowListAndCredentials(t *testing.T) {
	off := writeFile(t, strings.Replace(dnsExperiment("reviews:9080"), "127.0.0.1:9", "10.1.2.3:80", 1))
	stdout, _, code := faultline(t, "validate", off)
	if code != 2 || !strings.Contains(stdout, "error: Experiment dns: spec.services[0].endpoints[0].address: target 10.1.2.3:80 is not on the allow-list") ||
		!strings.Contains(stdout, "(line 5)") {
		t.Errorf("an endpoint off the allow-list: exit %d\n%s", code, stdout)
	}
	if stdout, _, code = faultline(t, "validate", "--allow", "10.0.0.0/8", off); code != 0 {
		t.Errorf("--allow 10.0.0.0/8: exit %d\n%s", code, stdout)
	}
	tlsGateway := writeFile(t, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: tls}
spec:
  services: [{host: reviews, port: 9080, endpoints: [{address: "127.0.0.1:9"}]}]
  load: {url: "http://reviews:9080/", requests: 5}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-cert}
`)
	stdout, _, code = faultline(t, "validate", tlsGateway)
	if code != 0 || !strings.Contains(stdout, "warning: Gateway gw: spec.servers[0].tls: no credentials directory is configured: the server presents a certificate of the run's CA") {
		t.Errorf("a TLS gateway without --credentials-dir: exit %d\n%s", code, stdout)
	}
}

// validate takes several files, and recognises environments and game
// days by their kind; a game day's experiment files are checked as their
// runs would check them.
func TestValidateEnvironmentAndGameDayFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := write("env.yaml", `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:15001
  services: [{host: httpbin, port: 8000, endpoints: [{address: "127.0.0.1:9"}]}]
`)
	good := write("good.yaml", dnsExperiment("reviews:9080"))
	bad := write("bad.yaml", dnsExperiment("api.example.com"))
	gameDay := func(steady string) string {
		return write("gd-"+steady, `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: gd}
spec:
  steadyState: `+steady+`
  steps:
  - experiment: good.yaml
`)
	}
	stdout, _, code := faultline(t, "validate", env, good)
	if code != 0 || !strings.Contains(stdout, env+": valid") || !strings.Contains(stdout, good+": valid, 1 warning(s)") {
		t.Errorf("an environment and an experiment: exit %d\n%s", code, stdout)
	}
	stdout, _, code = faultline(t, "validate", good, bad)
	if code != 2 || !strings.Contains(stdout, good+": valid") || !strings.Contains(stdout, bad+": invalid, 1 error(s)") {
		t.Errorf("a good and a bad file: exit %d\n%s", code, stdout)
	}
	stdout, _, code = faultline(t, "validate", gameDay("good.yaml"))
	if code != 2 || !strings.Contains(stdout, "spec.steadyState") {
		// good.yaml states no hypothesis: no steady-state experiment.
		t.Errorf("a game day whose steady state states no hypothesis: exit %d\n%s", code, stdout)
	}
	stdout, _, code = faultline(t, "validate", gameDay("bad.yaml"))
	if code != 2 || !strings.Contains(stdout, "GameDay gd: spec.steadyState: bad.yaml: invalid experiment: Experiment dns: spec.load.url: the load's requests") {
		t.Errorf("a game day naming an experiment the run would refuse: exit %d\n%s", code, stdout)
	}
}
