package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Fire outcomes.
const (
	FireRan     = "ran"     // a run was started; RunID names it
	FireSkipped = "skipped" // the previous scheduled run was still active, or a blackout window held the time
	FireRefused = "refused" // the safety lever was engaged
	FireError   = "error"   // the run could not be started; Reason says why
)

// Fire is one firing of a schedule: an experiment's (ExperimentID set) or
// a game day's (GameDayID set).
type Fire struct {
	ID int64
	// ExperimentID owns a fire of an experiment's schedule.
	ExperimentID int64
	// GameDayID owns a fire of a game day's schedule.
	GameDayID int64
	// ScheduledFor is the schedule's time the fire stands for; an owner
	// has at most one fire per scheduled time.
	ScheduledFor time.Time
	// FiredAt is when it actually fired.
	FiredAt time.Time
	Outcome string
	Reason  string
	// RunID is the started run (a game-day run for a game day's fire);
	// nil when none was (or it was deleted).
	RunID *int64
}

// fireTable is one of the two tables of fires, schedule_fires for
// experiments and gameday_fires for game days. They have the same shape
// and the same unique (owner, scheduled_for) key; only the owner's and
// the run's columns are named apart, so one set of queries serves both.
type fireTable struct {
	name  string // the table
	owner string // the column of the owner's ID
	run   string // the column of the started run's ID
	noun  string // the owner in error messages
	// own sets the owner's ID on a fire read from the table.
	own func(f *Fire, id int64)
}

// experimentFires is the table of experiments' fires.
var experimentFires = fireTable{name: "schedule_fires", owner: "experiment_id", run: "run_id", noun: "experiment",
	own: func(f *Fire, id int64) { f.ExperimentID = id }}

// fireRow is a row of either table, with the owner and run columns read
// under common names.
type fireRow struct {
	ID           int64
	OwnerID      int64
	ScheduledFor time.Time
	FiredAt      time.Time
	Outcome      string
	Reason       string
	RunID        *int64
}

func (t fireTable) fire(r *fireRow) Fire {
	f := Fire{ID: r.ID, ScheduledFor: r.ScheduledFor.UTC(), FiredAt: r.FiredAt.UTC(), Outcome: r.Outcome, Reason: r.Reason, RunID: r.RunID}
	t.own(&f, r.OwnerID)
	return f
}

// columns selects a row of the table as a fireRow.
func (t fireTable) columns() string {
	return "id, " + t.owner + " AS owner_id, scheduled_for, fired_at, outcome, reason, " + t.run + " AS run_id"
}

func validOutcome(o string) bool {
	return o == FireRan || o == FireSkipped || o == FireRefused || o == FireError
}

// create records f as a fire of owner and sets f.ID and f.FiredAt; a
// second fire for the same owner and scheduled time gives ErrConflict.
func (t fireTable) create(ctx context.Context, db *DB, owner int64, f *Fire) error {
	op := fmt.Sprintf("create fire of %s %d", t.noun, owner)
	if !validOutcome(f.Outcome) {
		return translate(op, fmt.Errorf("unknown outcome %q: %w", f.Outcome, ErrInvalid))
	}
	firedAt := db.utc(f.FiredAt)
	var id int64
	err := db.gdb.WithContext(ctx).Raw("INSERT INTO "+t.name+" ("+t.owner+", scheduled_for, fired_at, outcome, reason, "+t.run+
		") VALUES (?, ?, ?, ?, ?, ?) RETURNING id", owner, db.stored(f.ScheduledFor), firedAt, f.Outcome, f.Reason, f.RunID).Scan(&id).Error
	if err != nil {
		return translate(op, err)
	}
	f.ID, f.FiredAt = id, firedAt
	return nil
}

// setOutcome records how the claimed fire id ended.
func (t fireTable) setOutcome(ctx context.Context, db *DB, id int64, outcome, reason string, runID *int64) error {
	op := fmt.Sprintf("set outcome of %s fire %d", t.noun, id)
	if !validOutcome(outcome) {
		return translate(op, fmt.Errorf("unknown outcome %q: %w", outcome, ErrInvalid))
	}
	res := db.gdb.WithContext(ctx).Table(t.name).Where("id = ?", id).
		Updates(map[string]any{"outcome": outcome, "reason": reason, t.run: runID})
	if res.Error == nil && res.RowsAffected == 0 {
		return translate(op, ErrNotFound)
	}
	return translate(op, res.Error)
}

// last returns the latest scheduled time owner fired for; ok is false
// when it never fired.
func (t fireTable) last(ctx context.Context, db *DB, owner int64) (at time.Time, ok bool, err error) {
	var rows []fireRow
	err = db.gdb.WithContext(ctx).Table(t.name).Select(t.columns()).Where(t.owner+" = ?", owner).
		Order("scheduled_for DESC").Limit(1).Find(&rows).Error
	if err != nil {
		return time.Time{}, false, translate(fmt.Sprintf("last fire of %s %d", t.noun, owner), err)
	}
	if len(rows) == 0 {
		return time.Time{}, false, nil
	}
	return rows[0].ScheduledFor.UTC(), true, nil
}

// lastRun returns the run started by owner's latest fire that started
// one; ok is false when none did (or that run was deleted).
func (t fireTable) lastRun(ctx context.Context, db *DB, owner int64) (runID int64, ok bool, err error) {
	var ids []int64
	err = db.gdb.WithContext(ctx).Table(t.name).Where(t.owner+" = ? AND "+t.run+" IS NOT NULL", owner).
		Order("scheduled_for DESC").Limit(1).Pluck(t.run, &ids).Error
	if err != nil {
		return 0, false, translate(fmt.Sprintf("last run of a fire of %s %d", t.noun, owner), err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

// list returns one page of owner's fires, latest scheduled time first,
// and how many there are in all.
func (t fireTable) list(ctx context.Context, db *DB, owner int64, p Page) ([]Fire, int64, error) {
	from := func(tx *gorm.DB) *gorm.DB { return tx.Table(t.name).Where(t.owner+" = ?", owner) }
	columns := func(q *gorm.DB) *gorm.DB { return q.Select(t.columns()) }
	rows, total, err := readPage[fireRow](ctx, db, p, from, "scheduled_for DESC", columns)
	if err != nil {
		return nil, 0, translate(fmt.Sprintf("list fires of %s %d", t.noun, owner), err)
	}
	return convert(rows, t.fire), total, nil
}

// CreateFire records a fire of experiment f.ExperimentID and sets f.ID; a
// zero f.FiredAt means now. A second fire for the same experiment and
// scheduled time gives ErrConflict, which is how a scheduler claims a time
// exactly once.
func (db *DB) CreateFire(ctx context.Context, f *Fire) error {
	return experimentFires.create(ctx, db, f.ExperimentID, f)
}

// SetFireOutcome records how a claimed fire of an experiment ended.
func (db *DB) SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error {
	return experimentFires.setOutcome(ctx, db, id, outcome, reason, runID)
}

// LastFire returns the latest scheduled time an experiment fired for; ok
// is false when it never fired.
func (db *DB) LastFire(ctx context.Context, experimentID int64) (at time.Time, ok bool, err error) {
	return experimentFires.last(ctx, db, experimentID)
}

// LastFireRun returns the run that an experiment's latest fire that
// started one started, whichever server fired it; ok is false when none
// did.
func (db *DB) LastFireRun(ctx context.Context, experimentID int64) (runID int64, ok bool, err error) {
	return experimentFires.lastRun(ctx, db, experimentID)
}

// ListFires returns one page of an experiment's fires, latest scheduled
// time first, and how many there are in all.
func (db *DB) ListFires(ctx context.Context, experimentID int64, p Page) ([]Fire, int64, error) {
	return experimentFires.list(ctx, db, experimentID, p)
}
