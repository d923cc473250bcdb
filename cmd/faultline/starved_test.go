package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/spawn"
)

const paced = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: paced}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 2, qps: 2000, duration: 3s}
  hypothesis:
  - {metric: latency_p99, op: "<", value: 5s}
  - {metric: error_ratio, op: "==", value: 0}
`

// A load generator starved of CPU cannot keep its schedule: the run is
// flagged, and its latency check, which service time would pass, is not
// gradable. The starvation is made on purpose: the run is pinned to one
// CPU at the lowest priority beside busy loops pinned there too.
func TestAStarvedGeneratorIsFlagged(t *testing.T) {
	spawn.BusyLoops(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := spawn.Starved(ctx, binary, "run", "--json", writeFile(t, paced)).Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run: %v", err)
	}
	var rep struct {
		Status          string
		Verdict         string
		GeneratorBehind bool
		Schedule        struct {
			AchievedRatio float64
			OwnLagMs      struct{ P99 float64 }
			BoundMs       float64
		}
		Hypothesis []struct {
			Check       string
			Pass        bool
			NotGradable bool
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	t.Logf("status %s, verdict %s, achieved %.2f, own lag p99 %.1f ms (bound %.1f)", rep.Status, rep.Verdict, rep.Schedule.AchievedRatio, rep.Schedule.OwnLagMs.P99, rep.Schedule.BoundMs)
	if !rep.GeneratorBehind || rep.Verdict != "inconclusive" || rep.Status != "failed" {
		t.Errorf("a starved generator: behind %v, verdict %s, status %s", rep.GeneratorBehind, rep.Verdict, rep.Status)
	}
	if len(rep.Hypothesis) != 2 || !rep.Hypothesis[0].NotGradable || rep.Hypothesis[0].Pass || !rep.Hypothesis[1].Pass {
		t.Errorf("hypothesis %+v: the latency check must be not gradable, the error ratio graded", rep.Hypothesis)
	}
	if exit == nil || exit.ExitCode() != 1 {
		t.Errorf("exit %v, want 1 (the run failed)", err)
	}
}
