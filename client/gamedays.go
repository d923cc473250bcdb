package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// GameDay is a stored game day.
type GameDay struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Version is 1 when created and grows by one on every update.
	Version int `json:"version"`
	// Format is yaml or json: how Source was sent.
	Format string `json:"format"`
	// Source is the document as submitted, verbatim; lists leave it out.
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Warnings are the problems of an accepted document (Create, Update).
	Warnings []Problem `json:"warnings,omitempty"`
	// Schedule is spec.schedule with its next fires; nil when none.
	Schedule *Schedule `json:"schedule,omitempty"`
	// LastRun sums up the latest run; nil before the first.
	LastRun *GameDayRunSummary `json:"lastRun,omitempty"`
}

// GameDayRunSummary sums up a game day's latest run.
type GameDayRunSummary struct {
	ID        int64     `json:"id"`
	Status    Status    `json:"status"`
	Verdict   Verdict   `json:"verdict"`
	CreatedAt time.Time `json:"createdAt"`
}

// GameDayRun is a run of a game day.
type GameDayRun struct {
	ID int64 `json:"id"`
	// GameDayID is the game day's id; 0 once it is deleted.
	GameDayID      int64  `json:"gameDayId"`
	GameDay        string `json:"gameDay"`
	GameDayVersion int    `json:"gameDayVersion"`
	// Trigger is api or schedule.
	Trigger   string    `json:"trigger"`
	Status    Status    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Verdict   Verdict   `json:"verdict,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// EndedAt is zero while it runs.
	EndedAt time.Time `json:"endedAt"`
	// Report is the game day's report (so far, while it runs); Get only.
	Report *GameDayReport `json:"report,omitempty"`
	// Webhooks are the deliveries of its end to the game day's webhook.
	Webhooks []WebhookDelivery `json:"webhooks,omitempty"`
}

// GameDayReport is what a game-day run recorded: the steady state before
// and after, and every step.
type GameDayReport struct {
	GameDay string  `json:"gameDay"`
	Status  Status  `json:"status"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	// OnFailure is stop or continue.
	OnFailure string    `json:"onFailure"`
	StartedAt time.Time `json:"startedAt"`
	// EndedAt is zero while it runs.
	EndedAt           time.Time     `json:"endedAt"`
	SteadyStateBefore *GameDayStep  `json:"steadyStateBefore"`
	Steps             []GameDayStep `json:"steps"`
	// SteadyStateAfter is nil when the first check failed or the game day
	// stopped.
	SteadyStateAfter *GameDayStep `json:"steadyStateAfter,omitempty"`
}

// GameDayStep is one step's outcome; an experiment's or steady-state
// check's report is its run's (Runs.Get(RunID)).
type GameDayStep struct {
	// ID is the step's field path (spec.steps[2].parallel[0]), or
	// steadyState.before / steadyState.after.
	ID string `json:"id"`
	// Index is the step's position in its list; -1 for the steady-state
	// checks.
	Index int `json:"index"`
	// Kind is experiment, wait, steadyState, parallel or action.
	Kind string `json:"kind"`
	// Name is the experiment's name; Path the experiment as the game day
	// names it.
	Name    string  `json:"name,omitempty"`
	Path    string  `json:"path,omitempty"`
	Wait    string  `json:"wait,omitempty"`
	Status  Status  `json:"status"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	// StartedAt and EndedAt bound the step; zero until then.
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
	// RunID is the run of an experiment or steady-state step, or the run
	// an action step acted in; zero when none.
	RunID int64 `json:"runId,omitempty"`
	// Action is an action step's container action; ActsOn the ID of the
	// experiment step it acted on.
	Action *ContainerAction `json:"action,omitempty"`
	ActsOn string           `json:"actsOn,omitempty"`
	// Steps are a parallel group's steps.
	Steps []GameDayStep `json:"steps,omitempty"`
}

// ContainerAction is a timed action on a container endpoint.
type ContainerAction struct {
	// At is the offset from the start of the experiment's load ("2s").
	At        string `json:"at"`
	Container string `json:"container"`
	// Action is pause, unpause, stop, start, kill or restart.
	Action string `json:"action"`
}

// WebhookDelivery is one delivery of a game-day run's end.
type WebhookDelivery struct {
	// Event is finished or failed.
	Event      string `json:"event"`
	URL        string `json:"url"`
	StatusCode int    `json:"statusCode"`
	Attempts   int    `json:"attempts"`
	// Error is the class of a failed delivery ("timeout", "status 5xx").
	Error       string    `json:"error,omitempty"`
	DeliveredAt time.Time `json:"deliveredAt"`
}

// GameDaysService stores game days and starts them: /api/v1/gamedays.
// A game day's steady state and experiment steps name stored experiments
// (an unknown one is a 422 at its field). Delete stops a running run of
// the game day first; its runs stay.
type GameDaysService struct {
	Documents[GameDay]
	c *Client
}

// Start starts a run of the game day and returns it (status running);
// GameDayRuns.Wait follows it to its end. It is refused (409) while the
// safety lever is engaged (Code lever), a blackout window of its schedule
// holds (Code blackout) or a run of it is running (Code running).
func (s *GameDaysService) Start(ctx context.Context, id int64) (*GameDayRun, error) {
	var r GameDayRun
	if err := s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/gamedays/%d/runs", id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Runs reads a page of the game day's runs, latest first, without
// reports.
func (s *GameDaysService) Runs(ctx context.Context, id int64, opts ListOptions) (*Page[GameDayRun], error) {
	var p Page[GameDayRun]
	if err := s.c.getJSON(ctx, idPath("/api/v1/gamedays/%d/runs", id), opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Fires reads a page of the fires of the game day's schedule, latest
// first; a fire's RunID is its game-day run.
func (s *GameDaysService) Fires(ctx context.Context, id int64, opts ListOptions) (*Page[Fire], error) {
	return s.c.fires(ctx, idPath("/api/v1/gamedays/%d/fires", id), opts)
}

// Calendar lays the game day's schedule out over [from, to), at most 31
// days: a zero from means now, a zero to a week after from.
func (s *GameDaysService) Calendar(ctx context.Context, id int64, from, to time.Time) (*Calendar, error) {
	return s.c.calendar(ctx, idPath("/api/v1/gamedays/%d/calendar", id), from, to)
}

// GameDayRunsService follows, stops and reads game-day runs:
// /api/v1/gameday-runs.
type GameDayRunsService struct{ c *Client }

// Get reads a game-day run with its report (so far, while it runs) and
// its webhook deliveries.
func (s *GameDayRunsService) Get(ctx context.Context, id int64) (*GameDayRun, error) {
	var r GameDayRun
	if err := s.c.getJSON(ctx, idPath("/api/v1/gameday-runs/%d", id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Stop stops a running game-day run and waits (up to 10 s on the server)
// for it to record its end; one that is not running is a 409.
func (s *GameDayRunsService) Stop(ctx context.Context, id int64) error {
	return s.c.postJSON(ctx, http.MethodPost, idPath("/api/v1/gameday-runs/%d/stop", id), nil, nil)
}

// JUnit returns a game-day run as JUnit XML, one test case per step and
// steady-state check.
func (s *GameDayRunsService) JUnit(ctx context.Context, id int64) ([]byte, error) {
	return s.c.getBytes(ctx, idPath("/api/v1/gameday-runs/%d/junit.xml", id), nil)
}

// GameDayEvent is one event of a game-day run's stream: exactly one field
// is set.
type GameDayEvent struct {
	// State is the first event: the run with its report so far.
	State *GameDayRun
	// Step is a step starting or ending.
	Step *StepEvent
	// End is the last event: the run as stored when it ended, with its
	// report.
	End *GameDayRun
}

// StepEvent is a step of a game day starting or ending.
type StepEvent struct {
	// Start is true when the step starts, false when it ends.
	Start bool        `json:"start"`
	Step  GameDayStep `json:"step"`
	// Parent is the ID of the parallel group the step is in; "" for a
	// step of spec.steps and the steady-state checks.
	Parent string `json:"parent"`
}

// Events follows a game-day run over server-sent events: its state, a
// Step per step start and end, then its End (state and end at once for a
// run that has ended). The channel is closed after the end, when ctx
// ends, or when the stream drops.
func (s *GameDayRunsService) Events(ctx context.Context, id int64) (<-chan GameDayEvent, error) {
	return openEvents(ctx, s.c, idPath("/api/v1/gameday-runs/%d/events", id), func(name string, data []byte) (GameDayEvent, bool, error) {
		switch name {
		case "state":
			var r GameDayRun
			return GameDayEvent{State: &r}, false, json.Unmarshal(data, &r)
		case "step":
			var st StepEvent
			return GameDayEvent{Step: &st}, false, json.Unmarshal(data, &st)
		case "end":
			var r GameDayRun
			return GameDayEvent{End: &r}, true, json.Unmarshal(data, &r)
		}
		return GameDayEvent{}, false, errSkipEvent
	})
}

// Wait follows a game-day run to its end and returns it as Get does. It
// streams the run's events, and when the stream drops reads it every
// poll interval until it has ended.
func (s *GameDayRunsService) Wait(ctx context.Context, id int64) (*GameDayRun, error) {
	return waitEnd(ctx, s.c,
		func(ctx context.Context) error { return drain(s.Events(ctx, id)) },
		func(ctx context.Context) (*GameDayRun, bool, error) {
			r, err := s.Get(ctx, id)
			if err != nil {
				return nil, false, err
			}
			return r, r.Status.Done(), nil
		})
}
