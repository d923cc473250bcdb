package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/demo"
)

// A phased run on an environment switches its faults on the
// environment's data plane for the fault phase only, and the baseline
// is back after it.
func TestPhasedRunOnAnEnvironment(t *testing.T) {
	c := serve(t, server.Config{})
	egress := freeAddr(t)
	target := serveTarget(t, demo.NewHTTPBin(demo.HTTPBinOptions{Version: "v1"}))
	createEnv(t, c, httpbinEnv("staging", egress, freeAddr(t), target))
	src := strings.Replace(envAbort("phased", "staging", "qps: 50"),
		"  hypothesis:\n  - {metric: status_ratio, status: 418, op: \"==\", value: 1}\n",
		"  phases: {baseline: 1s, fault: 1s, recovery: 2s}\n  hypothesis:\n  - {metric: status_ratio, status: 418, op: \">\", value: 0.95, phase: fault}\n  - {metric: error_ratio, op: \"==\", value: 0, phase: baseline}\n", 1)
	if !strings.Contains(src, "phases:") {
		t.Fatal("the experiment was not made phased")
	}
	r := waitRun(t, c, startRun(t, c, createExp(t, c, src)))
	var rep struct {
		Environment string
		Phases      []struct {
			Name     string
			Requests int64
			Codes    map[string]int64
		}
		TimeToRecoverMs *float64
		Injection       []struct {
			Kind              string
			Matched, Injected int64
			OK                bool
		}
	}
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if r.Status != "succeeded" || rep.Environment != "staging" || len(rep.Phases) != 3 {
		t.Fatalf("run: %s %s, report %+v", r.Status, r.Reason, rep)
	}
	base, fault, recovery := rep.Phases[0], rep.Phases[1], rep.Phases[2]
	if base.Codes["418"] > 1 || fault.Codes["418"] < fault.Requests-1 || recovery.Codes["418"] > 1 || fault.Requests < 30 {
		t.Errorf("418s by phase: %d of %d, %d of %d, %d of %d", base.Codes["418"], base.Requests, fault.Codes["418"], fault.Requests, recovery.Codes["418"], recovery.Requests)
	}
	if rep.TimeToRecoverMs == nil || *rep.TimeToRecoverMs > 1000 {
		t.Errorf("time to recover %v, want within a window of the fault's end", rep.TimeToRecoverMs)
	}
	// The accounting is the fault phase's: every request it matched was
	// aborted, as configured.
	if len(rep.Injection) != 1 || !rep.Injection[0].OK || rep.Injection[0].Matched != rep.Injection[0].Injected {
		t.Errorf("injection %+v", rep.Injection)
	}
	if code, body := status(t, viaEgress(t, egress), "http://httpbin:8000/get", nil); code != 200 {
		t.Errorf("after the run: %d %.80s, want the baseline's 200", code, body)
	}
}
