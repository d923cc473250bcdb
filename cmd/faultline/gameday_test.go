package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGameDayCommand(t *testing.T) {
	dir := t.TempDir()
	steady := strings.Replace(strings.Replace(experiment, "HYPOTHESIS", "1", 1), "  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n", "  - ", 1)
	steady = strings.Replace(steady, "status_ratio, status: 418", "status_ratio, status: 200", 1)
	files := map[string]string{
		"steady.yaml": steady,
		"abort.yaml":  strings.Replace(experiment, "HYPOTHESIS", "1", 1),
		"day.yaml":    "apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nmetadata: {name: cmd-day}\nspec:\n  steadyState: steady.yaml\n  steps:\n  - experiment: abort.yaml\n",
		"bad.yaml":    "apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nmetadata: {name: cmd-day}\nspec:\n  steadyState: steady.yaml\n  steps:\n  - {experiment: abort.yaml, wait: 1s}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	junit := filepath.Join(dir, "gd.xml")
	stdout, stderr, code := faultline(t, "gameday", "run", "--junit", junit, filepath.Join(dir, "day.yaml"))
	if code != 0 || !strings.Contains(stdout, "game day cmd-day: pass") {
		t.Fatalf("gameday run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), `name="spec.steps[0] experiment abort.yaml"`) {
		t.Errorf("JUnit (%v):\n%s", err, b)
	}
	_, stderr, code = faultline(t, "gameday", "run", filepath.Join(dir, "bad.yaml"))
	if code != 2 || !strings.Contains(stderr, "spec.steps[0]: set exactly one of") {
		t.Errorf("invalid game day: exit %d\n%s", code, stderr)
	}
}
