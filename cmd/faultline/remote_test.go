package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

// remoteToken is the admin token of the server the remote commands talk to.
const remoteToken = "remote-commands-test-token"

// remote runs the binary against the server at base with the token in
// FAULTLINE_TOKEN (none when token is empty), as a CI job would.
func remote(t *testing.T, base, token string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "FAULTLINE_SERVER="+base, "FAULTLINE_TOKEN="+token)
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

func TestRemoteCommandsRunOnAServer(t *testing.T) {
	base, _ := testserver.Start(t, server.Config{Token: remoteToken})
	pass := writeFile(t, strings.Replace(experiment, "HYPOTHESIS", "1", 1))

	t.Run("apply is idempotent", func(t *testing.T) {
		stdout, stderr, code := remote(t, base, remoteToken, "apply", "-f", pass)
		if code != 0 || strings.TrimSpace(stdout) != "experiment/cli-abort created (version 1)" {
			t.Fatalf("first apply: exit %d, stdout %q, stderr %s", code, stdout, stderr)
		}
		stdout, _, code = remote(t, base, remoteToken, "apply", "-f", pass, "-o", "json")
		var applied []struct {
			Kind, Name, Outcome string
			Version             int
		}
		if err := json.Unmarshal([]byte(stdout), &applied); code != 0 || err != nil || len(applied) != 1 ||
			applied[0].Outcome != "unchanged" || applied[0].Version != 1 || applied[0].Kind != "Experiment" {
			t.Fatalf("second apply: exit %d, %v, %s", code, err, stdout)
		}
	})
	t.Run("run a stored experiment by name", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "results.xml")
		stdout, stderr, code := remote(t, base, remoteToken, "run", "cli-abort", "--junit", junit)
		if code != 0 || !strings.Contains(stdout, "Experiment cli-abort: succeeded, verdict pass") || !strings.Contains(stdout, "All done 50 calls") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), "<testsuite") {
			t.Errorf("junit: %v %s", err, b)
		}
	})
	t.Run("a file is applied, then run; a falsified hypothesis exits 1", func(t *testing.T) {
		fail := writeFile(t, strings.Replace(experiment, "HYPOTHESIS", "0", 1))
		stdout, stderr, code := remote(t, base, remoteToken, "run", "--json", fail)
		var rep struct{ Status, Verdict string }
		if err := json.Unmarshal([]byte(stdout), &rep); code != 1 || err != nil || rep.Verdict != "fail" {
			t.Fatalf("exit %d, %v, report %+v\nstderr:\n%s", code, err, rep, stderr)
		}
		if !strings.Contains(stderr, "experiment/cli-abort updated (version 2)") {
			t.Errorf("stderr does not say the file was applied:\n%s", stderr)
		}
	})
	t.Run("a refused document exits 2 with every problem", func(t *testing.T) {
		bad := writeFile(t, strings.Replace(strings.Replace(experiment, "HYPOTHESIS", "1", 1), "requests: 50", "requests: 50, conns: 3", 1))
		_, stderr, code := remote(t, base, remoteToken, "run", bad)
		if code != 2 || !strings.Contains(stderr, "spec.load.conns") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
		_, stderr, code = remote(t, base, remoteToken, "run", "no-such-experiment")
		if code != 2 || !strings.Contains(stderr, `no stored experiment is named "no-such-experiment"`) {
			t.Errorf("unknown name: exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("get lists what the server stores", func(t *testing.T) {
		stdout, _, code := remote(t, base, remoteToken, "get", "runs", "-o", "json")
		var runs []struct{ Experiment, Status string }
		if err := json.Unmarshal([]byte(stdout), &runs); code != 0 || err != nil || len(runs) != 2 {
			t.Fatalf("get runs: exit %d, %v, %s", code, err, stdout)
		}
		stdout, _, code = remote(t, base, remoteToken, "get", "experiments", "cli-abort")
		if code != 0 || !strings.Contains(stdout, "cli-abort") || !strings.Contains(stdout, "VERSION") {
			t.Errorf("get experiments: exit %d\n%s", code, stdout)
		}
		stdout, _, code = remote(t, base, remoteToken, "get", "gamedays", "-o", "yaml")
		if code != 0 || strings.TrimSpace(stdout) != "null" && strings.TrimSpace(stdout) != "[]" {
			t.Errorf("get gamedays on a server with none: exit %d %q", code, stdout)
		}
	})
	t.Run("the lever halts the CI job", func(t *testing.T) {
		if _, stderr, code := remote(t, base, remoteToken, "lever", "engage"); code != 2 || !strings.Contains(stderr, "--reason is required") {
			t.Errorf("engage without a reason: exit %d %s", code, stderr)
		}
		stdout, _, code := remote(t, base, remoteToken, "lever", "engage", "--reason", "incident 42")
		if code != 0 || !strings.Contains(stdout, "ENGAGED") || !strings.Contains(stdout, "by admin: incident 42") {
			t.Fatalf("engage: exit %d\n%s", code, stdout)
		}
		if _, stderr, code := remote(t, base, remoteToken, "run", "cli-abort"); code != 3 || !strings.Contains(stderr, "the safety lever is engaged") {
			t.Errorf("run under the lever: exit %d, stderr:\n%s", code, stderr)
		}
		if stdout, _, code := remote(t, base, remoteToken, "lever", "release", "--reason", "resolved"); code != 0 || !strings.Contains(stdout, "released") {
			t.Errorf("release: exit %d\n%s", code, stdout)
		}
	})
	t.Run("without the token nothing is done", func(t *testing.T) {
		if _, stderr, code := remote(t, base, "", "run", "cli-abort"); code != 2 || !strings.Contains(stderr, "token") {
			t.Errorf("no token: exit %d, stderr:\n%s", code, stderr)
		}
	})
}

func TestRemoteGameDayRunsOnAServer(t *testing.T) {
	base, _ := testserver.Start(t, server.Config{Token: remoteToken, LoadExamples: true})
	stdout, stderr, code := remote(t, base, remoteToken, "gameday", "run", "httpbin-gameday")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"start  spec.steps[0] experiment httpbin-abort", "end    spec.steps[0] experiment httpbin-abort (httpbin-abort): succeeded, verdict pass",
		"game day httpbin-gameday: pass (succeeded)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
