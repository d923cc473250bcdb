package scheduler

import (
	"context"
	"time"

	"github.com/faultline/faultline/server/store"
)

// ExperimentFireStore is the table of experiments' fires (*store.DB).
type ExperimentFireStore interface {
	CreateFire(ctx context.Context, f *store.Fire) error
	SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error
	LastFire(ctx context.Context, experimentID int64) (time.Time, bool, error)
}

// ExperimentFires records experiments' fires in db.
func ExperimentFires(db ExperimentFireStore) Fires { return experimentFires{db} }

type experimentFires struct{ ExperimentFireStore }

func (t experimentFires) ClaimFire(ctx context.Context, owner int64, f *store.Fire) error {
	f.ExperimentID = owner
	return t.CreateFire(ctx, f)
}

// GameDayFireStore is the table of game days' fires (*store.DB).
type GameDayFireStore interface {
	CreateGameDayFire(ctx context.Context, f *store.Fire) error
	SetGameDayFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error
	LastGameDayFire(ctx context.Context, gameDayID int64) (time.Time, bool, error)
}

// GameDayFires records game days' fires in db.
func GameDayFires(db GameDayFireStore) Fires { return gameDayFires{db} }

type gameDayFires struct{ db GameDayFireStore }

func (t gameDayFires) ClaimFire(ctx context.Context, owner int64, f *store.Fire) error {
	f.GameDayID = owner
	return t.db.CreateGameDayFire(ctx, f)
}

func (t gameDayFires) SetFireOutcome(ctx context.Context, id int64, outcome, reason string, runID *int64) error {
	return t.db.SetGameDayFireOutcome(ctx, id, outcome, reason, runID)
}

func (t gameDayFires) LastFire(ctx context.Context, owner int64) (time.Time, bool, error) {
	return t.db.LastGameDayFire(ctx, owner)
}

// ExperimentTrigger starts and stops experiment runs (*runs.Manager).
type ExperimentTrigger interface {
	Start(ctx context.Context, experimentID, seed int64) (*store.Run, error)
	StopBecause(ctx context.Context, runID int64, reason string) error
	// Active reports whether a run is still queued or running.
	Active(runID int64) bool
	Lever() store.LeverState
}

// ExperimentRuns starts experiments' scheduled runs through t, each with
// a fresh seed.
func ExperimentRuns(t ExperimentTrigger) Runs { return experimentRuns{t} }

type experimentRuns struct{ t ExperimentTrigger }

func (r experimentRuns) Start(ctx context.Context, owner int64) (int64, error) {
	run, err := r.t.Start(ctx, owner, 0)
	if err != nil {
		return 0, err
	}
	return run.ID, nil
}

func (r experimentRuns) Active(runID int64) bool { return r.t.Active(runID) }

func (r experimentRuns) Stop(ctx context.Context, runID int64, reason string) error {
	return r.t.StopBecause(ctx, runID, reason)
}

func (r experimentRuns) Lever() store.LeverState { return r.t.Lever() }

// GameDayTrigger starts and stops game-day runs (the game-day manager).
type GameDayTrigger interface {
	StartGameDay(ctx context.Context, gameDayID int64, trigger string) (runID int64, err error)
	// Active reports whether a game-day run is still running.
	Active(runID int64) bool
	Stop(ctx context.Context, runID int64, reason string) error
}

// GameDayRuns starts game days' scheduled runs through t (with trigger
// "schedule"); lever reads the safety lever.
func GameDayRuns(t GameDayTrigger, lever func() store.LeverState) Runs { return gameDayRuns{t, lever} }

type gameDayRuns struct {
	t     GameDayTrigger
	lever func() store.LeverState
}

func (r gameDayRuns) Start(ctx context.Context, owner int64) (int64, error) {
	return r.t.StartGameDay(ctx, owner, store.TriggerSchedule)
}

func (r gameDayRuns) Active(runID int64) bool { return r.t.Active(runID) }

func (r gameDayRuns) Stop(ctx context.Context, runID int64, reason string) error {
	return r.t.Stop(ctx, runID, reason)
}

func (r gameDayRuns) Lever() store.LeverState { return r.lever() }

var (
	_ Fires = experimentFires{}
	_ Fires = gameDayFires{}
	_ Runs  = experimentRuns{}
	_ Runs  = gameDayRuns{}
)
