package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Fire outcomes.
const (
	FireRan     = "ran"     // a run was started; RunID names it
	FireSkipped = "skipped" // the previous scheduled run was still active (concurrency: forbid)
	FireRefused = "refused" // the safety lever was engaged
	FireError   = "error"   // the run could not be started; Reason says why
)

// Fire is one firing of an experiment's schedule.
type Fire struct {
	ID           int64
	ExperimentID int64
	// ScheduledFor is the schedule's time the fire stands for; an
	// experiment has at most one fire per scheduled time.
	ScheduledFor time.Time
	// FiredAt is when it actually fired.
	FiredAt time.Time
	Outcome string
	Reason  string
	// RunID is the started run; nil when none was (or it was deleted).
	RunID *int64
}

// fireRow is a row of table schedule_fires.
type fireRow struct {
	ID           int64 `gorm:"primaryKey"`
	ExperimentID int64
	ScheduledFor time.Time
	FiredAt      time.Time
	Outcome      string
	Reason       string
	RunID        *int64
}

func (fireRow) TableName() string { return "schedule_fires" }

func (r *fireRow) fire() Fire {
	return Fire{ID: r.ID, ExperimentID: r.ExperimentID, ScheduledFor: r.ScheduledFor.UTC(), FiredAt: r.FiredAt.UTC(),
		Outcome: r.Outcome, Reason: r.Reason, RunID: r.RunID}
}

func validOutcome(o string) bool {
	return o == FireRan || o == FireSkipped || o == FireRefused || o == FireError
}

// CreateFire records a fire and sets f.ID; a zero f.FiredAt means now. A
// second fire for the same experiment and scheduled time gives ErrConflict,
// which is how a scheduler claims a time exactly once.
func (db *DB) CreateFire(ctx context.Context, f *Fire) error {
	op := fmt.Sprintf("create fire of experiment %d", f.ExperimentID)
	if !validOutcome(f.Outcome) {
		return translate(op, fmt.Errorf("unknown outcome %q: %w", f.Outcome, ErrInvalid))
	}
	row := fireRow{ExperimentID: f.ExperimentID, ScheduledFor: f.ScheduledFor.UTC(), FiredAt: db.utc(f.FiredAt),
		Outcome: f.Outcome, Reason: f.Reason, RunID: f.RunID}
	if err := db.gdb.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(op, err)
	}
	f.ID, f.FiredAt = row.ID, row.FiredAt
	return nil
}

// SetFireOutcome records how a claimed fire ended.
func (db *DB) SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error {
	op := fmt.Sprintf("set outcome of fire %d", id)
	if !validOutcome(outcome) {
		return translate(op, fmt.Errorf("unknown outcome %q: %w", outcome, ErrInvalid))
	}
	res := db.gdb.WithContext(ctx).Model(&fireRow{}).Where("id = ?", id).
		Updates(map[string]any{"outcome": outcome, "reason": reason, "run_id": runID})
	if res.Error == nil && res.RowsAffected == 0 {
		return translate(op, ErrNotFound)
	}
	return translate(op, res.Error)
}

// LastFire returns the latest scheduled time an experiment fired for; ok
// is false when it never fired.
func (db *DB) LastFire(ctx context.Context, experimentID int64) (at time.Time, ok bool, err error) {
	var row fireRow
	err = db.gdb.WithContext(ctx).Where("experiment_id = ?", experimentID).Order("scheduled_for DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, translate(fmt.Sprintf("last fire of experiment %d", experimentID), err)
	}
	return row.ScheduledFor.UTC(), true, nil
}

// ListFires returns one page of an experiment's fires, latest scheduled
// time first, and how many there are in all.
func (db *DB) ListFires(ctx context.Context, experimentID int64, p Page) ([]Fire, int64, error) {
	limit, offset := p.window()
	var (
		rows  []fireRow
		total int64
	)
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := func() *gorm.DB { return tx.Model(&fireRow{}).Where("experiment_id = ?", experimentID) }
		if err := q().Count(&total).Error; err != nil {
			return err
		}
		return q().Order("scheduled_for DESC").Limit(limit).Offset(offset).Find(&rows).Error
	}, readOnly)
	if err != nil {
		return nil, 0, translate(fmt.Sprintf("list fires of experiment %d", experimentID), err)
	}
	out := make([]Fire, len(rows))
	for i := range rows {
		out[i] = rows[i].fire()
	}
	return out, total, nil
}
