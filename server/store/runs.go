package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/faultline/faultline/server/runstatus"
)

// activeStatuses are the statuses a run can still leave, for queries.
var activeStatuses = runstatus.AllActive()

// Run is one execution of an experiment version.
type Run struct {
	// ID is assigned by CreateRun.
	ID int64
	// ExperimentID is the experiment that was run; nil once that experiment
	// has been deleted (or for a run of a document that was never stored).
	ExperimentID *int64
	// ExperimentName and ExperimentVersion name what was run, and stay when
	// the experiment is deleted.
	ExperimentName    string
	ExperimentVersion int
	// Status is where the run is in its life.
	Status runstatus.Status
	// Reason explains the current status ("" when there is nothing to say).
	Reason string
	// Verdict is the hypothesis outcome set by FinishRun ("" until then).
	Verdict string
	// Seed drives the run's fault decisions, so a re-run can replay them.
	Seed int64
	// CreatedAt is when the run was created (UTC).
	CreatedAt time.Time
	// StartedAt is when the run first became running; nil before that, and
	// for a run that ended without starting.
	StartedAt *time.Time
	// EndedAt is when the run reached a terminal status; nil before that.
	EndedAt *time.Time
	// Report is the run's report as raw JSON; nil until FinishRun stores
	// one. ListRuns leaves it nil: fetch it with GetRun.
	Report []byte
	// GameDayRunID is the game-day run whose step started this run; nil
	// for a run started on its own (or once that game-day run is deleted).
	GameDayRunID *int64
	// GameDayStep names that step by its field path
	// ("spec.steps[2].parallel[0]", "steadyState.before"); "" for none.
	GameDayStep string
	// Environment names the environment the run overlaid, and
	// EnvironmentVersion the version of it; "" and 0 for a run with a
	// data plane of its own.
	Environment        string
	EnvironmentVersion int
	// Owner is the replica that executes the run, and LeaseUntil when its
	// lease ends unless renewed (see SetReplica); "" and nil for a run
	// created by a DB without a replica identity.
	Owner      string
	LeaseUntil *time.Time
}

// Transition is one status change of a run.
type Transition struct {
	// RunID is the run that changed.
	RunID int64
	// Status is the status the run entered, and Reason why.
	Status runstatus.Status
	Reason string
	// At is when it happened (UTC).
	At time.Time
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	// ExperimentID keeps the runs of one experiment; 0 keeps all.
	ExperimentID int64
	// Status keeps the runs with that status; "" keeps all.
	Status runstatus.Status
	// GameDayRunID keeps the runs of one game-day run's steps; 0 keeps all.
	GameDayRunID int64
	// Environment keeps the runs on one environment; "" keeps all.
	Environment string
	// Page selects the window of the (newest first) result.
	Page
}

// runRow is a row of table runs.
type runRow struct {
	ID                int64 `gorm:"primaryKey"`
	ExperimentID      *int64
	ExperimentName    string
	ExperimentVersion int
	Status            runstatus.Status
	Reason            string
	Verdict           string
	Seed              int64
	CreatedAt         time.Time
	StartedAt         *time.Time
	EndedAt           *time.Time
	// Report is bound as text: a []byte would be stored as a BLOB, which
	// SQLite's JSON functions read as JSONB rather than JSON text.
	Report             *string
	GameDayRunID       *int64 `gorm:"column:gameday_run_id"`
	GameDayStep        string `gorm:"column:gameday_step"`
	Environment        string
	EnvironmentVersion int
	Owner              string
	LeaseUntil         *time.Time
}

func (runRow) TableName() string { return "runs" }

func (r *runRow) run() Run {
	out := Run{
		ID: r.ID, ExperimentID: r.ExperimentID,
		ExperimentName: r.ExperimentName, ExperimentVersion: r.ExperimentVersion,
		Status: r.Status, Reason: r.Reason, Verdict: r.Verdict, Seed: r.Seed,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utcPtr(r.StartedAt), EndedAt: utcPtr(r.EndedAt),
		GameDayRunID: r.GameDayRunID, GameDayStep: r.GameDayStep,
		Environment: r.Environment, EnvironmentVersion: r.EnvironmentVersion,
		Owner: r.Owner, LeaseUntil: utcPtr(r.LeaseUntil),
	}
	if r.Report != nil {
		out.Report = []byte(*r.Report)
	}
	return out
}

// transitionRow is a row of table run_transitions.
type transitionRow struct {
	ID     int64 `gorm:"primaryKey"`
	RunID  int64
	Status runstatus.Status
	Reason string
	At     time.Time
}

func (transitionRow) TableName() string { return "run_transitions" }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// reportText validates a report and returns it as text, or nil for none.
func reportText(report []byte) (*string, error) {
	if len(report) == 0 {
		return nil, nil
	}
	if !json.Valid(report) {
		return nil, fmt.Errorf("report is not valid JSON: %w", ErrInvalid)
	}
	s := string(report)
	return &s, nil
}

// CreateRun stores r as a new run and records its first transition, in one
// transaction. r.Status must be a known status (usually runstatus.Queued). It
// sets r.ID, and r.CreatedAt to now when zero; the run is owned by the
// DB's replica, with a lease from now (see SetReplica), and r.Owner and
// r.LeaseUntil are set to them. A non-nil r.ExperimentID or
// r.GameDayRunID that names no experiment or game-day run gives ErrNotFound.
func (db *DB) CreateRun(ctx context.Context, r *Run) error {
	const op = "create run"
	if !r.Status.Known() {
		return translate(op, fmt.Errorf("unknown status %q: %w", r.Status, ErrInvalid))
	}
	report, err := reportText(r.Report)
	if err != nil {
		return translate(op, err)
	}
	row := runRow{
		ExperimentID: r.ExperimentID, ExperimentName: r.ExperimentName, ExperimentVersion: r.ExperimentVersion,
		Status: r.Status, Reason: r.Reason, Verdict: r.Verdict, Seed: r.Seed,
		CreatedAt: db.utc(r.CreatedAt), StartedAt: db.storedPtr(r.StartedAt), EndedAt: db.storedPtr(r.EndedAt),
		Report: report, GameDayRunID: r.GameDayRunID, GameDayStep: r.GameDayStep,
		Environment: r.Environment, EnvironmentVersion: r.EnvironmentVersion,
	}
	row.Owner, row.LeaseUntil = db.newLease()
	err = db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return tx.Create(&transitionRow{RunID: row.ID, Status: row.Status, Reason: row.Reason, At: row.CreatedAt}).Error
	})
	if err != nil {
		return translate(op, err)
	}
	r.ID, r.CreatedAt, r.StartedAt, r.EndedAt = row.ID, row.CreatedAt, row.StartedAt, row.EndedAt
	r.Owner, r.LeaseUntil = row.Owner, row.LeaseUntil
	return nil
}

// GetRun returns the run with the given ID, report included, or ErrNotFound.
func (db *DB) GetRun(ctx context.Context, id int64) (*Run, error) {
	var row runRow
	if err := db.gdb.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(fmt.Sprintf("get run %d", id), err)
	}
	r := row.run()
	return &r, nil
}

// ListRuns returns one page of the runs that match f, newest first, and the
// number of matching runs in all. Reports are not loaded (Report is nil);
// they can be large, and GetRun returns them. An unknown f.Status gives
// ErrInvalid.
func (db *DB) ListRuns(ctx context.Context, f RunFilter) ([]Run, int64, error) {
	const op = "list runs"
	if f.Status != "" && !f.Status.Known() {
		return nil, 0, translate(op, fmt.Errorf("unknown status %q: %w", f.Status, ErrInvalid))
	}
	from := func(tx *gorm.DB) *gorm.DB {
		q := tx.Model(&runRow{})
		if f.ExperimentID != 0 {
			q = q.Where("experiment_id = ?", f.ExperimentID)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if f.GameDayRunID != 0 {
			q = q.Where("gameday_run_id = ?", f.GameDayRunID)
		}
		if f.Environment != "" {
			q = q.Where("environment = ?", f.Environment)
		}
		return q
	}
	rows, total, err := readPage[runRow](ctx, db, f.Page, from, "id DESC", omitReport)
	if err != nil {
		return nil, 0, translate(op, err)
	}
	return convert(rows, (*runRow).run), total, nil
}

// SetRunStatus moves a queued or running run to a non-terminal status
// (runstatus.Queued or runstatus.Running; terminal statuses go through FinishRun)
// and records the transition. The first move to runstatus.Running sets
// StartedAt to at. A zero at means now. An unknown run gives ErrNotFound, a
// run that has already finished ErrConflict, a terminal or unknown status
// ErrInvalid.
func (db *DB) SetRunStatus(ctx context.Context, id int64, status runstatus.Status, reason string, at time.Time) error {
	op := fmt.Sprintf("set run %d status %q", id, status)
	switch {
	case !status.Known():
		return translate(op, fmt.Errorf("unknown status: %w", ErrInvalid))
	case status.Terminal():
		return translate(op, fmt.Errorf("terminal status needs FinishRun: %w", ErrInvalid))
	}
	at = db.utc(at)
	err := db.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE runs SET status = ?, reason = ?,
			started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END
			WHERE id = ? AND status IN ?`,
			status, reason, status, at, id, activeStatuses)
		if err := res.Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return whyNotActive(tx, id)
		}
		return tx.Create(&transitionRow{RunID: id, Status: status, Reason: reason, At: at}).Error
	})
	return translate(op, err)
}

// FinishRun moves a queued or running run to a terminal status, stores its
// verdict, reason and report (raw JSON, nil for none), sets EndedAt to at
// (zero means now) and records the transition, in one transaction. An
// unknown run gives ErrNotFound, a run that has already finished
// ErrConflict, a non-terminal status or a report that is not JSON
// ErrInvalid.
func (db *DB) FinishRun(ctx context.Context, id int64, status runstatus.Status, verdict, reason string, report []byte, at time.Time) error {
	op := fmt.Sprintf("finish run %d as %q", id, status)
	if !status.Terminal() {
		return translate(op, fmt.Errorf("not a terminal status: %w", ErrInvalid))
	}
	text, err := reportText(report)
	if err != nil {
		return translate(op, err)
	}
	at = db.utc(at)
	err = db.write(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&runRow{}).Where("id = ? AND status IN ?", id, activeStatuses).Updates(map[string]any{
			"status": status, "verdict": verdict, "reason": reason, "report": text, "ended_at": at,
		})
		if err := res.Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return whyNotActive(tx, id)
		}
		return tx.Create(&transitionRow{RunID: id, Status: status, Reason: reason, At: at}).Error
	})
	return translate(op, err)
}

// whyNotActive explains why a run could not be moved: it does not exist
// (ErrNotFound) or has already finished (ErrConflict).
func whyNotActive(tx *gorm.DB, id int64) error {
	var row runRow
	if err := tx.Select("status").Take(&row, "id = ?", id).Error; err != nil {
		return err
	}
	return fmt.Errorf("run is already %s: %w", row.Status, ErrConflict)
}

// Transitions returns every status change of a run, oldest first, or
// ErrNotFound for an unknown run (a stored run always has at least one).
func (db *DB) Transitions(ctx context.Context, runID int64) ([]Transition, error) {
	op := fmt.Sprintf("transitions of run %d", runID)
	var rows []transitionRow
	if err := db.gdb.WithContext(ctx).Where("run_id = ?", runID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(op, err)
	}
	if len(rows) == 0 {
		return nil, translate(op, ErrNotFound)
	}
	out := make([]Transition, len(rows))
	for i, r := range rows {
		out[i] = Transition{RunID: r.RunID, Status: r.Status, Reason: r.Reason, At: r.At.UTC()}
	}
	return out, nil
}

// MarkInterrupted moves every queued or running run to runstatus.Interrupted
// with the given reason, sets their EndedAt to at (zero means now) and
// records the transitions, in one transaction. It returns how many runs it
// moved. The server calls it at start-up, before it starts any run: a run
// still active then belonged to a process that died.
func (db *DB) MarkInterrupted(ctx context.Context, reason string, at time.Time) (int64, error) {
	at = db.utc(at)
	var n int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO run_transitions (run_id, status, reason, at)
			SELECT id, ?, ?, ? FROM runs WHERE status IN ? ORDER BY id`,
			runstatus.Interrupted, reason, at, activeStatuses).Error
		if err != nil {
			return err
		}
		res := tx.Model(&runRow{}).Where("status IN ?", activeStatuses).Updates(map[string]any{
			"status": runstatus.Interrupted, "reason": reason, "ended_at": at,
		})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, translate("mark runs interrupted", err)
	}
	return n, nil
}

// PruneRuns deletes the oldest finished runs of an experiment so that at
// most keep of its runs remain; queued and running runs are never deleted
// and take their places first. Runs started by a game-day step are left
// out of the count and never deleted: their game-day run links to them.
// It returns how many runs it deleted.
func (db *DB) PruneRuns(ctx context.Context, experimentID int64, keep int) (int64, error) {
	op := fmt.Sprintf("prune runs of experiment %d", experimentID)
	if keep < 1 {
		return 0, translate(op, fmt.Errorf("keep must be >= 1: %w", ErrInvalid))
	}
	var deleted int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		var active int64
		if err := tx.Model(&runRow{}).Where("experiment_id = ? AND gameday_run_id IS NULL AND status IN ?", experimentID, activeStatuses).Count(&active).Error; err != nil {
			return err
		}
		var ids []int64
		err := tx.Model(&runRow{}).
			Where("experiment_id = ? AND gameday_run_id IS NULL AND status NOT IN ?", experimentID, activeStatuses).
			Order("id DESC").Offset(max(0, keep-int(active))).Pluck("id", &ids).Error
		if err != nil || len(ids) == 0 {
			return err
		}
		res := tx.Where("id IN ?", ids).Delete(&runRow{})
		deleted = res.RowsAffected
		return res.Error
	})
	return deleted, translate(op, err)
}
