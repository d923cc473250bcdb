// Package ci holds the test of the CI examples: it runs resilience.sh, the
// commands examples/ci/github-actions.yml and examples/ci/gitlab-ci.yml
// run, with a Faultline binary of this tree first in PATH, and checks
// that both files run that script and publish its JUnit XML.
package ci

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faultline/faultline/internal/testserver"
)

// junit is the part of the JUnit XML the CI's test report reads.
type junit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestResilienceScript runs examples/ci/resilience.sh on free loopback
// ports: the shipped experiment passes (exit 0, three checks in the JUnit
// XML, none failed), and the same experiment with a hypothesis the fault
// breaks fails the job (exit 1, that check failed). Whatever the script
// started is gone when it exits.
func TestResilienceScript(t *testing.T) {
	needTools(t, "bash", "curl")
	bin := t.TempDir()
	start := time.Now()
	if _, err := testserver.BuildBinary(bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("faultline binary: %s", time.Since(start).Round(time.Millisecond))
	shipped, err := os.ReadFile("experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// 30 % of the calls are delayed by 100 ms: the tail cannot be under 50 ms.
	const held, broken = `{metric: latency_p99, op: "<", value: 1s}`, `{metric: latency_p99, op: "<", value: 50ms}`
	if !bytes.Contains(shipped, []byte(held)) {
		t.Fatalf("experiment.yaml has no %s to break", held)
	}
	failing := filepath.Join(t.TempDir(), "experiment-fails.yaml")
	if err := os.WriteFile(failing, bytes.Replace(shipped, []byte(held), []byte(broken), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name       string
		experiment string // "": the script's default, experiment.yaml
		exit       int
		failed     []string
		verdict    string
	}{
		{"the shipped experiment passes", "", 0, nil, "verdict pass"},
		{"a hypothesis that does not hold fails the job", failing, 1, []string{"latency_p99 < 50ms"}, "verdict fail"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ports := map[string]string{"FAULTLINE_PORT": freePort(t), "EGRESS_PORT": freePort(t), "HTTPBIN_PORT": freePort(t)}
			env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "JUNIT=results.xml"}
			for k, v := range ports {
				env = append(env, k+"="+v)
			}
			if c.experiment != "" {
				env = append(env, "EXPERIMENT="+c.experiment)
			}
			start := time.Now()
			out, code := runScript(t, dir, env)
			t.Logf("resilience.sh: exit %d in %s", code, time.Since(start).Round(time.Millisecond))
			if code != c.exit {
				t.Fatalf("exit %d, want %d\n%s", code, c.exit, out)
			}
			if !strings.Contains(out, c.verdict) {
				t.Errorf("the output does not say %q:\n%s", c.verdict, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "results.xml"))
			if err != nil {
				t.Fatalf("JUnit XML: %v\n%s", err, out)
			}
			var j junit
			if err := xml.Unmarshal(b, &j); err != nil {
				t.Fatalf("JUnit XML: %v\n%s", err, b)
			}
			var failed []string
			for _, s := range j.Suites {
				for _, tc := range s.Cases {
					if tc.Failure != nil {
						failed = append(failed, tc.Name)
					}
				}
			}
			if j.Tests != 3 || j.Failures != len(c.failed) || j.Errors != 0 || !slices.Equal(failed, c.failed) {
				t.Errorf("JUnit: %d tests, %d failures %q, %d errors; want 3 tests, failures %q, no errors\n%s",
					j.Tests, j.Failures, failed, j.Errors, c.failed, b)
			}
			// The script stops what it started: its ports are free again.
			for name, p := range ports {
				ln, err := net.Listen("tcp", "127.0.0.1:"+p)
				if err != nil {
					t.Errorf("%s %s is still taken after the script: %v", name, p, err)
					continue
				}
				ln.Close()
			}
		})
	}
}

// runScript runs resilience.sh in dir with env beside the test's own
// environment (less its FAULTLINE_ settings and proxies) and returns its
// output and exit code.
func runScript(t *testing.T, dir string, env []string) (string, int) {
	t.Helper()
	script, err := filepath.Abs("resilience.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "FAULTLINE_") && !strings.HasSuffix(strings.ToUpper(name), "_PROXY") &&
			!slices.Contains([]string{"EXPERIMENT", "JUNIT", "EGRESS_PORT", "HTTPBIN_PORT"}, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	// On a timeout the whole group goes: the script and what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return string(out), exit.ExitCode()
	}
	t.Fatalf("resilience.sh: %v\n%s", err, out)
	return "", -1
}

// TestCIFilesRunTheScript checks that the GitHub Actions workflow and the
// GitLab CI job install faultline, run resilience.sh, and publish the
// JUnit XML it writes, even when the job fails.
func TestCIFilesRunTheScript(t *testing.T) {
	var gh struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Uses string            `yaml:"uses"`
				If   string            `yaml:"if"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "github-actions.yml", &gh)
	job, ok := gh.Jobs["resilience"]
	if !ok {
		t.Fatalf("github-actions.yml: no job resilience in %v", gh.Jobs)
	}
	var installs, runs bool
	var junitFile string
	published := map[string]string{}
	for _, s := range job.Steps {
		installs = installs || strings.Contains(s.Run, "go install github.com/faultline/faultline/cmd/faultline@")
		if strings.Contains(s.Run, "examples/ci/resilience.sh") {
			runs, junitFile = true, s.Env["JUNIT"]
		}
		switch {
		case strings.HasPrefix(s.Uses, "actions/upload-artifact@"):
			published["artifact"] = s.With["path"] + " if " + s.If
		case strings.HasPrefix(s.Uses, "mikepenz/action-junit-report@"):
			published["test report"] = s.With["report_paths"] + " if " + s.If
		}
	}
	if !installs || !runs || junitFile == "" {
		t.Errorf("github-actions.yml: installs faultline %v, runs resilience.sh %v with JUNIT %q", installs, runs, junitFile)
	}
	for _, what := range []string{"artifact", "test report"} {
		if got, want := published[what], junitFile+" if always()"; got != want {
			t.Errorf("github-actions.yml: %s publishes %q, want %q", what, got, want)
		}
	}

	var gl map[string]struct {
		Image     string            `yaml:"image"`
		Variables map[string]string `yaml:"variables"`
		Script    []string          `yaml:"script"`
		Artifacts struct {
			When    string   `yaml:"when"`
			Paths   []string `yaml:"paths"`
			Reports struct {
				JUnit string `yaml:"junit"`
			} `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	readYAML(t, "gitlab-ci.yml", &gl)
	gj, ok := gl["resilience"]
	if !ok {
		t.Fatalf("gitlab-ci.yml: no job resilience")
	}
	script := strings.Join(gj.Script, "\n")
	junitFile = gj.Variables["JUNIT"]
	if !strings.Contains(script, "go install github.com/faultline/faultline/cmd/faultline@") || !strings.Contains(script, "examples/ci/resilience.sh") || junitFile == "" {
		t.Errorf("gitlab-ci.yml: the job's script %q with JUNIT %q, want it to install faultline and run resilience.sh", script, junitFile)
	}
	if a := gj.Artifacts; a.When != "always" || a.Reports.JUnit != junitFile || !slices.Contains(a.Paths, junitFile) {
		t.Errorf("gitlab-ci.yml: artifacts %+v, want %s as a JUnit report and a path, always", a, junitFile)
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// needTools skips without the tools the script needs, unless CI is set.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI is set but %s is missing: %v", tool, err)
			}
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
