package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/manager/runs"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// TestReplicaStopsItsRunsWhenCutOffFromTheDatabase: a replica that cannot
// renew its leases stops its runs before they could expire.
func TestReplicaStopsItsRunsWhenCutOffFromTheDatabase(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "faultline.db"))
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 3 * time.Second
	db.SetReplica("cut-off", ttl)
	exp := &store.Experiment{Name: "held", Format: store.FormatYAML, Source: `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: held}
spec:
  services:
  - {host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}
  load: {url: "http://httpbin:8000/get", qps: 10, duration: 1h}
`}
	if err := db.CreateExperiment(ctx, exp); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	block := func(ctx context.Context, _ *scenarios.Document, _ experiment.Options) (*report.Report, error) {
		<-ctx.Done()
		close(stopped)
		return &report.Report{Status: runstatus.Stopped}, nil
	}
	m := runs.New(db, block, runs.Config{})
	defer m.Close()
	_, err = m.Start(ctx, exp.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	r := &replica{id: "cut-off", ttl: ttl, db: db, runs: m, planes: newSharedPlanes(db, ttl, log), log: log}
	r.renew(ctx)
	if r.renewedAt.IsZero() {
		t.Fatal("the first renewal failed")
	}
	db.Close() // the database is gone

	r.renew(ctx)
	select {
	case <-stopped:
		t.Fatal("the run was stopped at the first failed renewal, long before its lease could expire")
	default:
	}
	r.renewedAt = time.Now().Add(-(ttl - r.heartbeat())) // the lease is about to expire
	r.renew(ctx)
	// The run stops at once; its end is then retried until the database
	// is back (recordEndFor), which this one never is.
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the run still runs although its lease could not be renewed")
	}
}
