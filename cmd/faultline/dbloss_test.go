package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/pgtest"
	"github.com/faultline/faultline/internal/wait"
)

var leaseLostLine = regexp.MustCompile(`run stopped: its lease could not be renewed`)

// TestADatabaseThatGoesAwayMidRun: PostgreSQL stops under a running run.
// /healthz says so at once; the run, whose lease can no longer be
// renewed, ends as an error that names the cause; once the database is
// back, serve answers healthy again and the run's end is recorded, with
// nothing half-written.
func TestADatabaseThatGoesAwayMidRun(t *testing.T) {
	pg := pgtest.Private(t)
	r := startReplica(t, "serve", pg.Database(t))
	c := r.api
	id := c.startRun(c.createExperiment(replicaExperiment("held-through-a-database-loss", time.Minute, "")))
	waitStatus(c, id, "running", 15*time.Second)

	pg.Pause(t)
	start := time.Now()
	var code int
	var body []byte
	if !wait.Until(10*time.Second, func() bool {
		code, body = call(t, "GET", c.base+"/healthz", "", "", nil)
		return code == http.StatusServiceUnavailable && strings.Contains(string(body), "unhealthy")
	}) {
		t.Fatalf("/healthz still answers %d %s 10s after the database went away", code, body)
	}
	t.Logf("/healthz unhealthy %v after the database went away: %s", time.Since(start).Round(time.Millisecond), body)
	// The run stops once its lease can no longer be renewed (before it
	// could expire); its end waits for the database.
	r.waitLine(t, leaseLostLine, 2*replicaTTL)
	pg.Resume(t)
	start = time.Now()
	if !wait.Until(15*time.Second, func() bool {
		code, _ = call(t, "GET", c.base+"/healthz", "", "", nil)
		return code == http.StatusOK
	}) {
		t.Fatalf("/healthz still answers %d 15s after the database came back", code)
	}
	t.Logf("/healthz healthy %v after the database came back", time.Since(start).Round(time.Millisecond))
	got := c.waitRun(id, 30*time.Second)
	if got.Status != "error" || !strings.Contains(got.Reason, "lost the database") {
		t.Fatalf("run %+v: want error naming the lost database", got)
	}
	t.Logf("run %d: %s: %s", id, got.Status, got.Reason)
	if got.Report == nil || got.Report.Requests == 0 {
		t.Errorf("the run's report was not recorded whole: %+v", got.Report)
	}
}
