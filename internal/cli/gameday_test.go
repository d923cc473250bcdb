package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gameDayFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gdExperiment(name, endpoint, check string, abort bool) string {
	s := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: ` + name + `}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{` + endpoint + `}]}]
  load: {url: "http://httpbin:8000/get", connections: 2, requests: 20}
  hypothesis: [` + check + `]
`
	if abort {
		s += `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`
	}
	return s
}

const cliGameDay = `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: cli-day}
spec:
  steadyState: ../experiments/steady.yaml
  steps:
  - experiment: ../experiments/abort.yaml
  - parallel: [{experiment: ../experiments/abort.yaml}, {wait: 10ms}]
`

func runGameDay(t *testing.T, ctx context.Context, path string, o runOptions) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	o.Stdout, o.Stderr = &out, &errOut
	code = runGameDayFile(ctx, path, o)
	return out.String(), errOut.String(), code
}

func TestRunGameDayExitCodes(t *testing.T) {
	const healthy, aborted, allErrors = `{metric: error_ratio, op: "==", value: 0}`, `{metric: status_ratio, status: 503, op: "==", value: 1}`, `{metric: error_ratio, op: "==", value: 1}`
	dir := gameDayFiles(t, map[string]string{
		"days/day.yaml":               cliGameDay,
		"experiments/steady.yaml":     gdExperiment("steady", "demo: httpbin", healthy, false),
		"experiments/abort.yaml":      gdExperiment("abort", "demo: httpbin", aborted, true),
		"experiments/bad-steady.yaml": gdExperiment("bad-steady", "demo: httpbin", allErrors, false),
	})
	day := filepath.Join(dir, "days", "day.yaml")
	ctx := context.Background()

	t.Run("pass", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "gd.xml")
		stdout, stderr, code := runGameDay(t, ctx, day, runOptions{JUnitFile: junit})
		if code != ExitPass {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		for _, want := range []string{
			"start  steadyState.before steadyState steady (../experiments/steady.yaml)\n",
			"end    spec.steps[0] experiment abort (../experiments/abort.yaml): succeeded, verdict pass in ",
			"start  spec.steps[1].parallel[0] experiment abort",
			"end    spec.steps[1].parallel[1] wait 10ms: succeeded in ",
			"end    steadyState.after steadyState steady",
			"game day cli-day: pass (succeeded) in ",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if n := strings.Count(stdout, "\nstart  "); n != 6 {
			t.Errorf("%d start lines, want 6:\n%s", n, stdout)
		}
		x, err := os.ReadFile(junit)
		if err != nil || strings.Count(string(x), "<testcase ") != 5 {
			t.Errorf("JUnit (%v):\n%s", err, x)
		}
	})

	t.Run("json", func(t *testing.T) {
		stdout, stderr, code := runGameDay(t, ctx, day, runOptions{JSON: true})
		if code != ExitPass {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var rep struct {
			GameDay           string `json:"gameDay"`
			Verdict           string `json:"verdict"`
			SteadyStateBefore struct {
				Report struct{ Requests int64 } `json:"report"`
			} `json:"steadyStateBefore"`
			Steps []struct {
				Kind   string `json:"kind"`
				Report *struct {
					Codes map[string]int64 `json:"codes"`
				} `json:"report"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, stdout)
		}
		if rep.GameDay != "cli-day" || rep.Verdict != "pass" || rep.SteadyStateBefore.Report.Requests != 20 || len(rep.Steps) != 2 || rep.Steps[0].Report == nil || rep.Steps[0].Report.Codes["503"] != 20 {
			t.Errorf("report = %+v", rep)
		}
		if !strings.Contains(stderr, "start  spec.steps[0]") {
			t.Errorf("step lines are not on stderr with --json:\n%s", stderr)
		}
	})

	t.Run("steady state fails first", func(t *testing.T) {
		p := filepath.Join(dir, "days", "bad.yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(cliGameDay, "steady.yaml", "bad-steady.yaml", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runGameDay(t, ctx, p, runOptions{})
		if code != ExitFail {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "reason: steady state did not hold before any fault") || strings.Contains(stdout, "start  spec.steps") {
			t.Errorf("output:\n%s", stdout)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for name, tc := range map[string]struct{ body, want string }{
			"two kinds":        {strings.Replace(cliGameDay, "  - experiment: ../experiments/abort.yaml\n", "  - {experiment: ../experiments/abort.yaml, wait: 1s}\n", 1), "GameDay cli-day: spec.steps[0]: set exactly one of"},
			"missing file":     {strings.Replace(cliGameDay, "  - experiment: ../experiments/abort.yaml\n", "  - experiment: nope.yaml\n", 1), "spec.steps[0].experiment: nope.yaml:"},
			"faulty steady":    {strings.Replace(cliGameDay, "steady.yaml", "abort.yaml", 1), "spec.steadyState: ../experiments/abort.yaml: VirtualService httpbin: spec.http[0].fault"},
			"experiment given": {gdExperiment("x", "demo: httpbin", healthy, false), "a game-day file holds one document of kind GameDay"},
		} {
			p := filepath.Join(dir, "days", strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runGameDay(t, ctx, p, runOptions{})
			if code != ExitInvalid || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s: exit %d, stderr lacks %q:\n%s\n%s", name, code, tc.want, stderr, stdout)
			}
		}
		if _, _, code := runGameDay(t, ctx, filepath.Join(dir, "absent.yaml"), runOptions{}); code != ExitInvalid {
			t.Errorf("absent file: exit %d", code)
		}
	})

	t.Run("run error", func(t *testing.T) {
		// A step whose target is down cannot run: exit 3.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := l.Addr().String()
		l.Close()
		p := filepath.Join(dir, "experiments", "down.yaml")
		if err := os.WriteFile(p, []byte(gdExperiment("down", "address: "+down, healthy, true)), 0o644); err != nil {
			t.Fatal(err)
		}
		dp := filepath.Join(dir, "days", "down.yaml")
		if err := os.WriteFile(dp, []byte(strings.Replace(cliGameDay, "  - experiment: ../experiments/abort.yaml\n", "  - experiment: ../experiments/down.yaml\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runGameDay(t, ctx, dp, runOptions{})
		if code != ExitRunError || !strings.Contains(stdout, "unreachable") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

// TestShippedGameDayRuns runs the shipped example game day end to end.
func TestShippedGameDayRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 5 s")
	}
	stdout, stderr, code := runGameDay(t, context.Background(), filepath.Join("..", "..", "scenarios", "gamedays", "httpbin-gameday.yaml"), runOptions{})
	if code != ExitPass || !strings.Contains(stdout, "game day httpbin-gameday: pass") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
