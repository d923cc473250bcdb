package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/pgtest"
	"github.com/faultline/faultline/internal/wait"
)

// End-to-end tests of several `faultline serve` processes on one
// PostgreSQL database: leases of runs, the safety lever, schedules and
// live events across replicas.

// replicaTTL is the lease TTL the replicas of these tests run with.
const replicaTTL = 3 * time.Second

var replicaLine = regexp.MustCompile(`msg="replica on a shared database" replica=(\S+)`)

// replicaProc is one `faultline serve` of several on a database.
type replicaProc struct {
	*proc
	id  string // the replica identity it logged
	api apiClient
}

// startReplica starts `faultline serve` on the PostgreSQL database dsn,
// with leases of replicaTTL, and waits until it serves.
func startReplica(t *testing.T, name, dsn string) *replicaProc {
	t.Helper()
	p := startProc(t, name, childEnv(), "serve", "--db", dsn, "--addr", "127.0.0.1:0", "--no-examples",
		"--lease-ttl", replicaTTL.String())
	addr := p.waitLine(t, servingLine, 60*time.Second)[1]
	id := p.waitLine(t, replicaLine, time.Second)[1]
	return &replicaProc{proc: p, id: id, api: apiClient{t: t, base: "http://" + addr}}
}

// replicaExperiment runs load against the demo httpbin for the given
// time: long enough to be running while the test acts on it.
func replicaExperiment(name string, duration time.Duration, schedule string) []byte {
	doc := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: %s}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 1, qps: 20, duration: %s}
`, name, duration)
	if schedule != "" {
		doc += "  schedule: {cron: \"" + schedule + "\"}\n"
	}
	return []byte(doc)
}

// waitStatus polls run id on c until it has status want.
func waitStatus(c apiClient, id int64, want string, within time.Duration) runResult {
	c.t.Helper()
	var r runResult
	if !wait.Until(within, func() bool {
		r = c.run(id)
		return r.Status == want
	}) {
		c.t.Fatalf("run %d is %s (%s) after %v, want %s", id, r.Status, r.Reason, within, want)
	}
	return r
}

// TestReplicaDeathInterruptsItsRunsAfterTheLease: the replica running a
// run dies (SIGKILL); the run stays running for the lease TTL, then a
// survivor marks it interrupted, naming the dead replica.
func TestReplicaDeathInterruptsItsRunsAfterTheLease(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	if a.id == b.id {
		t.Fatalf("two replicas with identity %s", a.id)
	}
	run := a.api.startRun(a.api.createExperiment(replicaExperiment("long-run", time.Minute, "")))
	waitStatus(b.api, run, "running", 10*time.Second)
	var shown struct{ Replica string }
	b.api.json("GET", fmt.Sprintf("/api/v1/runs/%d", run), "", nil, http.StatusOK, &shown)
	if shown.Replica != a.id {
		t.Errorf("run %d shows replica %q, want A's %s", run, shown.Replica, a.id)
	}

	a.kill(t)
	killed := time.Now()
	// The last renewal came at most a sixth of the TTL before the kill:
	// until then the run is the dead replica's, and stays running.
	holds := killed.Add(replicaTTL - replicaTTL/6 - 300*time.Millisecond)
	checks := 0
	for time.Now().Before(holds) {
		if r := b.api.run(run); r.Status != "running" {
			t.Fatalf("run %d is %s (%s) %v after the kill, before its lease could expire", run, r.Status, r.Reason, time.Since(killed))
		}
		checks++
		// That the run stays running until its lease could expire can
		// only be seen over that time: the lease runs on the wall clock
		// of separate processes.
		time.Sleep(100 * time.Millisecond)
	}
	if r := b.api.run(run); r.Status != "running" {
		t.Fatalf("run %d is %s %v after the kill", run, r.Status, time.Since(killed))
	}
	t.Logf("run %d still running %v after the kill (%d checks)", run, time.Since(killed).Round(time.Millisecond), checks)

	// A survivor sweeps every sixth of the TTL.
	r := waitStatus(b.api, run, "interrupted", replicaTTL+2*time.Second)
	took := time.Since(killed)
	t.Logf("run %d interrupted %v after the kill: %s", run, took.Round(time.Millisecond), r.Reason)
	if !strings.Contains(r.Reason, "replica "+a.id) {
		t.Errorf("reason %q does not name the dead replica %s", r.Reason, a.id)
	}
	if took < replicaTTL-replicaTTL/6 {
		t.Errorf("interrupted %v after the kill, before the lease could expire", took)
	}

	// A replica that starts now does not touch the survivor's runs.
	run2 := b.api.startRun(b.api.createExperiment(replicaExperiment("survivor-run", time.Minute, "")))
	waitStatus(b.api, run2, "running", 10*time.Second)
	c := startReplica(t, "serve-c", dsn)
	// A window: that C leaves the run alone can only be seen over time
	// (half a lease, three of its sweeps).
	time.Sleep(replicaTTL / 2)
	if r := c.api.run(run2); r.Status != "running" {
		t.Errorf("run %d of a live replica is %s (%s) once another replica started", run2, r.Status, r.Reason)
	}
}

// TestReplicaLeverHaltsRunsOnEveryReplica: the lever engaged on B stops
// a run on A within a second, and A refuses new runs.
func TestReplicaLeverHaltsRunsOnEveryReplica(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	exp := a.api.createExperiment(replicaExperiment("lever-run", time.Minute, ""))
	run := a.api.startRun(exp)
	waitStatus(a.api, run, "running", 10*time.Second)

	engaged := time.Now()
	b.api.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "replica drill"}`), http.StatusOK, nil)
	r := waitStatus(a.api, run, "stopped", 3*time.Second)
	took := time.Since(engaged)
	t.Logf("run %d on A stopped %v after the lever was engaged on B: %s", run, took.Round(time.Millisecond), r.Reason)
	if took > time.Second {
		t.Errorf("the run stopped %v after the lever was engaged on another replica, want within 1s", took)
	}
	if !strings.Contains(r.Reason, "replica drill") {
		t.Errorf("reason %q does not name the lever's reason", r.Reason)
	}
	var lever struct{ Engaged bool }
	a.api.json("GET", "/api/v1/safety/lever", "", nil, http.StatusOK, &lever)
	if !lever.Engaged {
		t.Error("A does not show the lever engaged")
	}
	a.api.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", exp), "", nil, http.StatusConflict, nil)
}

// TestReplicaSchedulesFireOnce: an @every 2s schedule on two replicas
// fires once per scheduled time, from one replica or the other.
func TestReplicaSchedulesFireOnce(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	const every, window = 2 * time.Second, 20 * time.Second
	exp := a.api.createExperiment(replicaExperiment("scheduled", 300*time.Millisecond, "@every 2s"))
	// Runs longer than the interval: forbid (the default policy) skips
	// the fires while the previous run, on either replica, is active.
	long := b.api.createExperiment(replicaExperiment("scheduled-long", 4500*time.Millisecond, "@every 2s"))
	from := time.Now()
	time.Sleep(window) // the schedules fire for the window's length: the scenario
	to := time.Now()
	// Fires in flight finish recording. Nothing tells when the last
	// one is in (two replicas record them), so this stays a margin.
	time.Sleep(time.Second)

	var fires struct {
		Items []struct {
			ScheduledFor time.Time `json:"scheduledFor"`
			Outcome      string    `json:"outcome"`
			RunID        *int64    `json:"runId"`
		} `json:"items"`
		Total int64 `json:"total"`
	}
	b.api.json("GET", fmt.Sprintf("/api/v1/experiments/%d/fires?limit=500", exp), "", nil, http.StatusOK, &fires)
	seen := map[time.Time]bool{}
	runs := map[int64]bool{}
	inWindow := 0
	for _, f := range fires.Items {
		if seen[f.ScheduledFor] {
			t.Errorf("scheduled time %v fired twice", f.ScheduledFor)
		}
		seen[f.ScheduledFor] = true
		if f.RunID != nil {
			if runs[*f.RunID] {
				t.Errorf("run %d recorded by two fires", *f.RunID)
			}
			runs[*f.RunID] = true
		}
		if !f.ScheduledFor.Before(from) && f.ScheduledFor.Before(to) {
			inWindow++
		}
	}
	want := int(window / every)
	if inWindow < want-1 || inWindow > want+1 {
		t.Errorf("%d fires within %v, want %d ± 1", inWindow, to.Sub(from).Round(time.Millisecond), want)
	}
	var list struct{ Total int64 }
	a.api.json("GET", fmt.Sprintf("/api/v1/runs?experiment=%d", exp), "", nil, http.StatusOK, &list)
	if list.Total != int64(len(runs)) {
		t.Errorf("%d runs of the experiment, %d fires started one", list.Total, len(runs))
	}
	// The long runs never overlap, whichever replica started them.
	var longRuns struct {
		Items []struct {
			ID        int64
			Status    string
			StartedAt *time.Time
			EndedAt   *time.Time
		}
	}
	a.api.json("GET", fmt.Sprintf("/api/v1/runs?experiment=%d&limit=500", long), "", nil, http.StatusOK, &longRuns)
	for i, r := range longRuns.Items {
		if r.StartedAt == nil {
			continue
		}
		for _, q := range longRuns.Items[i+1:] {
			if q.StartedAt != nil && (q.EndedAt == nil || q.EndedAt.After(*r.StartedAt)) && (r.EndedAt == nil || r.EndedAt.After(*q.StartedAt)) {
				t.Errorf("runs %d and %d of a forbid schedule overlap: %v–%v and %v–%v", r.ID, q.ID, r.StartedAt, r.EndedAt, q.StartedAt, q.EndedAt)
			}
		}
	}
	var longFires struct {
		Items []struct{ Outcome, Reason string }
	}
	b.api.json("GET", fmt.Sprintf("/api/v1/experiments/%d/fires?limit=500", long), "", nil, http.StatusOK, &longFires)
	skipped := 0
	for _, f := range longFires.Items {
		if f.Outcome == "skipped" && strings.Contains(f.Reason, "still active") {
			skipped++
		}
	}
	t.Logf("forbid schedule: %d fires, %d runs, %d skipped while the previous run was active", len(longFires.Items), len(longRuns.Items), skipped)
	if skipped == 0 || len(longRuns.Items) == 0 {
		t.Errorf("forbid schedule: %d runs, %d fires skipped, want some of each", len(longRuns.Items), skipped)
	}

	firedBy := func(p *replicaProc) int { return strings.Count(strings.Join(p.output(), "\n"), `msg="scheduled fire"`) }
	na, nb := firedBy(a), firedBy(b)
	t.Logf("%d fires in all (%d within the %v window, want %d ± 1), %d runs; the replicas logged %d (A) and %d (B) fires of both schedules", len(fires.Items), inWindow, window, want, len(runs), na, nb)
	if na+nb != len(fires.Items)+len(longFires.Items) {
		t.Errorf("the replicas logged %d + %d fires, the store has %d + %d", na, nb, len(fires.Items), len(longFires.Items))
	}
}

// TestReplicaStopReachesTheRunsReplica: a stop asked of B halts the run
// that A executes.
func TestReplicaStopReachesTheRunsReplica(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	run := a.api.startRun(a.api.createExperiment(replicaExperiment("stopped-elsewhere", time.Minute, "")))
	waitStatus(a.api, run, "running", 10*time.Second)
	asked := time.Now()
	b.api.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", run), "", nil, http.StatusAccepted, nil)
	r := waitStatus(b.api, run, "stopped", 3*time.Second)
	t.Logf("run %d on A stopped %v after B was asked: %s", run, time.Since(asked).Round(time.Millisecond), r.Reason)
	if time.Since(asked) > time.Second {
		t.Errorf("the run stopped %v after the request, want within 1s", time.Since(asked))
	}
	b.api.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", run), "", nil, http.StatusConflict, nil)
}

// TestReplicaEventsReachClientsOfOtherReplicas: a client of B follows the
// server-sent events of a run on A: its progress, then its end.
func TestReplicaEventsReachClientsOfOtherReplicas(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	run := a.api.startRun(a.api.createExperiment(replicaExperiment("followed", 3*time.Second, "")))
	waitStatus(a.api, run, "running", 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/runs/%d/events", b.api.base, run), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: status %d", resp.StatusCode)
	}
	var (
		event       string
		progress    int
		maxRequests int64
		end         struct{ Status string }
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && end.Status == "" {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data := []byte(strings.TrimSpace(strings.TrimPrefix(line, "data:")))
			switch event {
			case "progress":
				var p struct {
					Status   string
					Requests int64
				}
				if err := json.Unmarshal(data, &p); err != nil {
					t.Fatalf("progress event %s: %v", data, err)
				}
				progress++
				maxRequests = max(maxRequests, p.Requests)
			case "end":
				if err := json.Unmarshal(data, &end); err != nil {
					t.Fatalf("end event %s: %v", data, err)
				}
			}
		}
	}
	t.Logf("client of B: %d progress events of run %d on A (up to %d requests), then end %q", progress, run, maxRequests, end.Status)
	if end.Status != "succeeded" {
		t.Errorf("end event status %q, want succeeded (scan error %v)", end.Status, sc.Err())
	}
	if progress < 2 || maxRequests == 0 {
		t.Errorf("%d progress events, up to %d requests: the run's progress did not reach B", progress, maxRequests)
	}
}

// TestReplicaEnvironmentServedByOneReplica: an environment listens on one
// replica only; a run on it started on another is refused, naming the
// holder; once the holder dies, a survivor takes the environment over
// after the lease TTL and runs on it there.
func TestReplicaEnvironmentServedByOneReplica(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "target")
	}))
	defer target.Close()
	listen, egress := freeAddr(t), freeAddr(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)

	env := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: shared-env}
spec:
  egress: %s
  services:
  - host: httpbin
    port: 8000
    listen: %s
    endpoints: [{address: %s}]
`, egress, listen, strings.TrimPrefix(target.URL, "http://"))
	var created struct{ ID int64 }
	a.api.json("POST", "/api/v1/environments", "application/yaml", []byte(env), http.StatusCreated, &created)
	type planeJSON struct {
		Plane *struct{ Listening bool }
	}
	var onA, onB planeJSON
	a.api.json("GET", fmt.Sprintf("/api/v1/environments/%d", created.ID), "", nil, http.StatusOK, &onA)
	b.api.json("GET", fmt.Sprintf("/api/v1/environments/%d", created.ID), "", nil, http.StatusOK, &onB)
	if onA.Plane == nil || !onA.Plane.Listening || onB.Plane != nil {
		t.Fatalf("planes: on A %+v, on B %+v; want it listening on A only", onA.Plane, onB.Plane)
	}
	if got := getBody(t, "http://"+listen+"/"); got != "target" {
		t.Fatalf("through the environment's listener: %q", got)
	}

	exp := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: on-shared-env}
spec:
  environment: shared-env
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 20}
`)
	expID := b.api.createExperiment([]byte(exp))
	code, body := call(t, "POST", fmt.Sprintf("%s/api/v1/experiments/%d/runs", b.api.base, expID), "", "", nil)
	if code != http.StatusConflict || !strings.Contains(string(body), "replica "+a.id) || !strings.Contains(string(body), `"elsewhere"`) {
		t.Fatalf("run on B of an environment A serves: %d %s", code, body)
	}
	t.Logf("run on B refused: %s", body)

	a.kill(t)
	killed := time.Now()
	if !wait.Until(replicaTTL+3*time.Second, func() bool {
		var p planeJSON
		b.api.json("GET", fmt.Sprintf("/api/v1/environments/%d", created.ID), "", nil, http.StatusOK, &p)
		return p.Plane != nil && p.Plane.Listening
	}) {
		t.Fatalf("B has not taken the environment over %v after A died", time.Since(killed))
	}
	took := time.Since(killed)
	t.Logf("B took the environment over %v after A died", took.Round(time.Millisecond))
	if took < replicaTTL-replicaTTL/6 {
		t.Errorf("taken over %v after the kill, before A's lease could expire", took)
	}
	if got := getBody(t, "http://"+listen+"/"); got != "target" {
		t.Fatalf("through the environment's listener on B: %q", got)
	}
	run := b.api.startRun(expID)
	if r := b.api.waitRun(run, 30*time.Second); r.Status != "succeeded" {
		t.Errorf("run %d on B after the takeover: %s (%s)", run, r.Status, r.Reason)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getBody fetches url and returns its body ("" and a test error on
// failure).
func getBody(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestReplicaGameDayOnceAndStoppedElsewhere: a game day running on A is
// refused a second run on B, and a stop asked of B ends it on A.
func TestReplicaGameDayOnceAndStoppedElsewhere(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	a.api.createExperiment([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady-httpbin}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 5}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`))
	var gd struct{ ID int64 }
	a.api.json("POST", "/api/v1/gamedays", "application/yaml", []byte(`apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: long-day}
spec:
  steadyState: steady-httpbin
  steps:
  - wait: 1m
`), http.StatusCreated, &gd)
	var started struct{ ID int64 }
	a.api.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", gd.ID), "", nil, http.StatusAccepted, &started)
	code, body := call(t, "POST", fmt.Sprintf("%s/api/v1/gamedays/%d/runs", b.api.base, gd.ID), "", "", nil)
	if code != http.StatusConflict || !strings.Contains(string(body), `"running"`) {
		t.Errorf("second run of the game day on B: %d %s", code, body)
	}
	asked := time.Now()
	b.api.json("POST", fmt.Sprintf("/api/v1/gameday-runs/%d/stop", started.ID), "", nil, http.StatusAccepted, nil)
	var run struct{ Status, Reason string }
	b.api.json("GET", fmt.Sprintf("/api/v1/gameday-runs/%d", started.ID), "", nil, http.StatusOK, &run)
	t.Logf("game-day run %d on A: %s (%s) %v after B was asked to stop it", started.ID, run.Status, run.Reason, time.Since(asked).Round(time.Millisecond))
	if run.Status != "stopped" {
		t.Errorf("game-day run %d is %s after the stop returned, want stopped", started.ID, run.Status)
	}
}

// TestReplicaGameDayEventsReachClientsOfOtherReplicas: a client of B
// follows a game day running on A: its report so far, its steps, its end.
func TestReplicaGameDayEventsReachClientsOfOtherReplicas(t *testing.T) {
	dsn := pgtest.Get(t).Database(t)
	a, b := startReplica(t, "serve-a", dsn), startReplica(t, "serve-b", dsn)
	a.api.createExperiment([]byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: steady-httpbin}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", connections: 1, requests: 5}
  hypothesis: [{metric: error_ratio, op: "==", value: 0}]
`))
	var gd struct{ ID int64 }
	a.api.json("POST", "/api/v1/gamedays", "application/yaml", []byte(`apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: short-day}
spec:
  steadyState: steady-httpbin
  steps:
  - wait: 2s
  - wait: 1s
`), http.StatusCreated, &gd)
	var started struct{ ID int64 }
	a.api.json("POST", fmt.Sprintf("/api/v1/gamedays/%d/runs", gd.ID), "", nil, http.StatusAccepted, &started)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/gameday-runs/%d/events", b.api.base, started.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var (
		event, stateStatus string
		steps              int
		end                struct{ Status string }
	)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && end.Status == "" {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data := []byte(strings.TrimSpace(strings.TrimPrefix(line, "data:")))
			switch event {
			case "state":
				var s struct{ Status string }
				_ = json.Unmarshal(data, &s)
				stateStatus = s.Status
			case "step":
				steps++
			case "end":
				if err := json.Unmarshal(data, &end); err != nil {
					t.Fatalf("end event %s: %v", data, err)
				}
			}
		}
	}
	t.Logf("client of B: state %q, %d step events of game-day run %d on A, then end %q", stateStatus, steps, started.ID, end.Status)
	if stateStatus != "running" || end.Status != "succeeded" {
		t.Errorf("state %q and end %q, want running and succeeded (scan error %v)", stateStatus, end.Status, sc.Err())
	}
	if steps < 2 {
		t.Errorf("%d step events reached B, want the wait steps' at least", steps)
	}
}
