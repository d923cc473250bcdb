package store

import (
	"context"
	"time"
)

// gameDayFires is the table of game days' fires; RunID names a game-day
// run.
var gameDayFires = fireTable{name: "gameday_fires", owner: "gameday_id", run: "gameday_run_id", noun: "game day",
	own: func(f *Fire, id int64) { f.GameDayID = id }}

// CreateGameDayFire records a fire of game day f.GameDayID and sets f.ID;
// a zero f.FiredAt means now and f.RunID, when set, names a game-day run.
// A second fire for the same game day and scheduled time gives
// ErrConflict, which is how a scheduler claims a time exactly once; a game
// day (or game-day run) that does not exist gives ErrNotFound.
func (db *DB) CreateGameDayFire(ctx context.Context, f *Fire) error {
	return gameDayFires.create(ctx, db, f.GameDayID, f)
}

// SetGameDayFireOutcome records how a claimed fire of a game day ended;
// runID names the game-day run it started.
func (db *DB) SetGameDayFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error {
	return gameDayFires.setOutcome(ctx, db, id, outcome, reason, runID)
}

// LastGameDayFire returns the latest scheduled time a game day fired for;
// ok is false when it never fired.
func (db *DB) LastGameDayFire(ctx context.Context, gameDayID int64) (at time.Time, ok bool, err error) {
	return gameDayFires.last(ctx, db, gameDayID)
}

// LastGameDayFireRun returns the game-day run that a game day's latest
// fire that started one started, whichever server fired it; ok is false
// when none did.
func (db *DB) LastGameDayFireRun(ctx context.Context, gameDayID int64) (runID int64, ok bool, err error) {
	return gameDayFires.lastRun(ctx, db, gameDayID)
}

// ListGameDayFires returns one page of a game day's fires, latest
// scheduled time first, and how many there are in all.
func (db *DB) ListGameDayFires(ctx context.Context, gameDayID int64, p Page) ([]Fire, int64, error) {
	return gameDayFires.list(ctx, db, gameDayID, p)
}
