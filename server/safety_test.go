package server_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

type leverJSON struct {
	Engaged bool       `json:"engaged"`
	Reason  string     `json:"reason"`
	Since   *time.Time `json:"since"`
	By      string     `json:"by"`
}

// waitStatus polls a run until it has the status or the deadline passes.
func waitStatus(t *testing.T, c client, id int64, status string, within time.Duration) runJSON {
	t.Helper()
	var r runJSON
	if !wait.Until(within, func() bool {
		r = runJSON{}
		c.json("GET", fmt.Sprintf("/api/v1/runs/%d", id), "", nil, 200, &r)
		return r.Status == status
	}) {
		t.Fatalf("run %d is %s (%s) after %v, want %s", id, r.Status, r.Reason, within, status)
	}
	return r
}

func TestSafetyLeverHaltsRunsRefusesNewOnesAndSurvivesRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "faultline.db")
	base, stop := testserver.Start(t, server.Config{DB: db})
	c := client{t: t, base: base}

	var lever leverJSON
	c.json("GET", "/api/v1/safety/lever", "", nil, 200, &lever)
	if lever.Engaged || lever.Since != nil {
		t.Fatalf("fresh lever = %+v", lever)
	}
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true}`), 400, nil)
	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"reason": "x"}`), 400, nil)

	quick := runToEnd(t, c, abortExperiment)
	long := strings.NewReplacer("requests: 60", "duration: 30s\n    qps: 50", "e2e-abort", "long").Replace(abortExperiment)
	var e experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(long), 201, &e)
	var running runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", e.ID), "", nil, 202, &running)
	waitStatus(t, c, running.ID, "running", 10*time.Second)

	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "prod incident 42", "by": "oncall"}`), 200, &lever)
	if !lever.Engaged || lever.Reason != "prod incident 42" || lever.By != "oncall" || lever.Since == nil {
		t.Errorf("engaged lever = %+v", lever)
	}
	halted := waitStatus(t, c, running.ID, "stopped", time.Second)
	if !strings.Contains(halted.Reason, "safety lever") || !strings.Contains(halted.Reason, "prod incident 42") {
		t.Errorf("halted run's reason = %q, want the lever and its reason", halted.Reason)
	}

	refused := func() {
		t.Helper()
		var e1, e2 errorJSON
		c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", e.ID), "", nil, 409, &e1)
		c.json("POST", fmt.Sprintf("/api/v1/runs/%d/rerun", quick.ID), "", nil, 409, &e2)
		for _, m := range []string{e1.Error.Message, e2.Error.Message} {
			if !strings.Contains(m, "safety lever") {
				t.Errorf("refusal = %q, want it to name the safety lever", m)
			}
		}
	}
	refused()

	stop()
	base, _ = testserver.Start(t, server.Config{DB: db})
	c = client{t: t, base: base}
	c.json("GET", "/api/v1/safety/lever", "", nil, 200, &lever)
	if !lever.Engaged || lever.Reason != "prod incident 42" {
		t.Fatalf("lever after restart = %+v, want still engaged", lever)
	}
	refused()

	c.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": false, "reason": "resolved"}`), 200, &lever)
	if lever.Engaged {
		t.Errorf("released lever = %+v", lever)
	}
	var again runJSON
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/rerun", quick.ID), "", nil, 202, &again)
	if got := waitRun(t, c, again.ID); got.Status != "succeeded" {
		t.Errorf("run after release = %+v", got)
	}
}
