package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/internal/pgtest"
	"github.com/faultline/faultline/internal/spawn"
)

// binary is the faultline binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	var remove func()
	binary, remove = spawn.Build("faultline")
	// Both shared servers, the Kubernetes cluster and PostgreSQL, stop
	// once the tests have run.
	code := pgtest.MainFunc(func() int { return kubetest.Main(m) })
	remove()
	os.Exit(code)
}

// faultline runs the binary and returns its stdout, stderr and exit code.
func faultline(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("faultline %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "experiment.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const experiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: cli-abort}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/status/200", connections: 2, requests: 50}
  hypothesis:
  - {metric: status_ratio, status: 418, op: "==", value: HYPOTHESIS}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`

func TestRunExitCodesAndJSONReport(t *testing.T) {
	pass := writeFile(t, strings.Replace(experiment, "HYPOTHESIS", "1", 1))
	stdout, stderr, code := faultline(t, "run", "--json", pass)
	if code != 0 {
		t.Fatalf("run pass: exit %d, stderr %s", code, stderr)
	}
	var rep struct {
		Status   string           `json:"status"`
		Verdict  string           `json:"verdict"`
		Requests int64            `json:"requests"`
		Codes    map[string]int64 `json:"codes"`
		Proxy    struct {
			FaultsAborted int64 `json:"faultsAborted"`
		} `json:"proxy"`
		Hypothesis []struct {
			Check    string  `json:"check"`
			Observed float64 `json:"observed"`
			Pass     bool    `json:"pass"`
		} `json:"hypothesis"`
		Fortio json.RawMessage `json:"fortio"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if rep.Status != "succeeded" || rep.Verdict != "pass" || rep.Requests != 50 || rep.Codes["418"] != 50 || rep.Proxy.FaultsAborted != 50 {
		t.Errorf("report = %+v", rep)
	}
	if len(rep.Hypothesis) != 1 || rep.Hypothesis[0].Check != "status_ratio 418 == 1" || rep.Hypothesis[0].Observed != 1 {
		t.Errorf("hypothesis = %+v", rep.Hypothesis)
	}
	if len(rep.Fortio) == 0 {
		t.Error("no fortio JSON in the report")
	}

	dir := t.TempDir()
	junit, fortio, csvFile := filepath.Join(dir, "j.xml"), filepath.Join(dir, "f.json"), filepath.Join(dir, "h.csv")
	reportFile := filepath.Join(dir, "a.json")
	if err := os.WriteFile(reportFile, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := faultline(t, "run", "--junit", junit, "--fortio-json", fortio, "--csv", csvFile, pass); code != 0 {
		t.Fatalf("run with exports: exit %d %s", code, stderr)
	}
	for _, f := range []struct{ path, want string }{{junit, `<testcase name="status_ratio 418 == 1"`}, {fortio, `"RetCodes"`}, {csvFile, "start_ms,end_ms,count"}} {
		if b, err := os.ReadFile(f.path); err != nil || !strings.Contains(string(b), f.want) {
			t.Errorf("%s lacks %q (%v)", f.path, f.want, err)
		}
	}
	cmpOut, stderr, code := faultline(t, "compare", reportFile, reportFile)
	if code != 0 || !strings.Contains(cmpOut, "error ratio") || !strings.Contains(cmpOut, "not significant") {
		t.Errorf("compare a report with itself: exit %d %s\n%s", code, stderr, cmpOut)
	}

	fail := writeFile(t, strings.Replace(experiment, "HYPOTHESIS", "0", 1))
	stdout, _, code = faultline(t, "run", fail)
	if code != 1 {
		t.Errorf("run with a falsified hypothesis: exit %d, want 1", code)
	}
	for _, want := range []string{"Code 418 : 50 (100.0 %)", "# target 99%", "FAIL  status_ratio 418 == 0 (observed 1)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text summary lacks %q:\n%s", want, stdout)
		}
	}

	invalid := writeFile(t, strings.Replace(experiment, "httpStatus: 418", "httpStatus: 99", 1))
	_, stderr, code = faultline(t, "run", invalid)
	if code != 2 || !strings.Contains(stderr, "VirtualService httpbin: spec.http[0].fault.abort.httpStatus") {
		t.Errorf("run invalid: exit %d, stderr %s", code, stderr)
	}

	closedPort := strings.Replace(strings.Replace(experiment, "HYPOTHESIS", "1", 1), "[{demo: httpbin}]", "[{address: 127.0.0.1:1}]", 1)
	_, stderr, code = faultline(t, "run", "--json", writeFile(t, closedPort))
	if code != 3 || !strings.Contains(stderr, "spec.services[0].endpoints[0]: target 127.0.0.1:1 of httpbin is unreachable") {
		t.Errorf("run against a closed port is a run error naming the target: exit %d, stderr %s", code, stderr)
	}

	refused := writeFile(t, strings.Replace(strings.Replace(experiment, "HYPOTHESIS", "1", 1), "[{demo: httpbin}]", "[{address: 192.0.2.1:80}]", 1))
	_, stderr, code = faultline(t, "run", refused)
	if code != 2 || !strings.Contains(stderr, "spec.services[0].endpoints[0].address") {
		t.Errorf("run against a target off the allow-list: exit %d, stderr %s", code, stderr)
	}
}

func TestValidate(t *testing.T) {
	good := writeFile(t, strings.Replace(experiment, "HYPOTHESIS", "1", 1))
	stdout, _, code := faultline(t, "validate", good)
	if code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("validate good: exit %d\n%s", code, stdout)
	}
	bad := strings.Replace(experiment, "HYPOTHESIS", "1", 1)
	bad = strings.Replace(bad, "percentage: {value: 100}", "percentage: {value: 120}", 1)
	bad = strings.Replace(bad, "connections: 2", "connections: 2, conns: 3", 1)
	stdout, _, code = faultline(t, "validate", writeFile(t, bad))
	if code != 2 {
		t.Errorf("validate bad: exit %d, want 2", code)
	}
	for _, want := range []string{"spec.load.conns: unknown field", "spec.http[0].fault.abort.percentage.value"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestValidateEnvironments(t *testing.T) {
	env := writeFile(t, `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:15001
  services:
  - {host: httpbin, port: 8000, endpoints: [{address: 127.0.0.1:18080}]}
`)
	stdout, _, code := faultline(t, "validate", env)
	if code != 0 || !strings.Contains(stdout, "valid, 0 warning(s)") {
		t.Errorf("validate an environment: exit %d\n%s", code, stdout)
	}
	onEnv := func(host string) string {
		return writeFile(t, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: on-staging}
spec:
  environment: staging
  load: {url: "http://httpbin:8000/get", requests: 10}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [`+host+`]
  http:
  - route: [{destination: {host: `+host+`}}]
`)
	}
	// Alone, the experiment's hosts wait for the environment; with it, an
	// unbound host answers 503 UH (a warning), and is an error only when
	// the load's own request goes there.
	stdout, _, code = faultline(t, "validate", onEnv("nowhere"))
	if code != 0 || !strings.Contains(stdout, "spec.environment: hosts, gateways and subsets are checked against environment staging") {
		t.Errorf("validate alone: exit %d\n%s", code, stdout)
	}
	stdout, _, code = faultline(t, "validate", onEnv("nowhere"), "--environment", env)
	if code != 0 || !strings.Contains(stdout, "no service binds nowhere here: requests get 503 UH") {
		t.Errorf("validate on the environment: exit %d\n%s", code, stdout)
	}
	reached := onEnv("httpbin")
	src, err := os.ReadFile(reached)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reached, []byte(strings.Replace(string(src), "destination: {host: httpbin}", "destination: {host: nowhere}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = faultline(t, "validate", reached, "--environment", env)
	if code != 2 || !strings.Contains(stdout, "spec.load.url: the load's requests") || !strings.Contains(stdout, "no service binds nowhere here") {
		t.Errorf("validate a load that reaches the unbound host: exit %d\n%s", code, stdout)
	}
	stdout, _, code = faultline(t, "validate", onEnv("httpbin"), "--environment", env)
	if code != 0 || !strings.Contains(stdout, "valid, 0 warning(s)") {
		t.Errorf("validate a good one on the environment: exit %d\n%s", code, stdout)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, cmd := range []string{"serve", "run", "validate", "proxy", "demo", "scenarios", "compare", "export", "agent"} {
		stdout, _, code := faultline(t, cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, stdout)
		}
	}
	stdout, _, _ := faultline(t, "scenarios")
	if !strings.Contains(stdout, "httpbin-abort") {
		t.Errorf("scenarios lists no example:\n%s", stdout)
	}
}
