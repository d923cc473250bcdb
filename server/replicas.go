package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/faultline/faultline/server/manager/gamedays"
	"github.com/faultline/faultline/server/manager/runs"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// DefaultLeaseTTL is Config.LeaseTTL when it is not set.
const DefaultLeaseTTL = 30 * time.Second

// leverPoll is how often a server on a shared database reads the safety
// lever, so that a move on another server reaches its runs within it.
const leverPoll = 250 * time.Millisecond

// newReplicaID returns a random identity for this server process.
func newReplicaID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replica keeps this server's part in a database that several servers
// share (PostgreSQL): it renews the leases of its runs, ends the runs of
// servers whose leases expired, and follows the safety lever that any of
// them may move.
type replica struct {
	id       string
	ttl      time.Duration
	db       *store.DB
	runs     *runs.Manager
	gameDays *gamedays.Manager
	// planes are the environments' data planes this replica serves.
	planes *sharedPlanes
	log    *slog.Logger

	// renewedAt is when the leases were last renewed (this process's
	// clock): run starts it at its start, when every lease this process
	// holds is newer than that.
	renewedAt time.Time
}

// heartbeat is how often the leases are renewed and expired ones looked
// for: a sixth of the TTL, so a lease is renewed several times before it
// could expire, and at most every 5 seconds.
func (r *replica) heartbeat() time.Duration {
	return min(r.ttl/6, 5*time.Second)
}

// run renews, sweeps and follows the lever until ctx ends.
func (r *replica) run(ctx context.Context) error {
	// A lease is granted with its run, for a TTL from then: cut off from
	// the database before the first renewal, the runs must stop as if
	// they had just been renewed.
	r.renewedAt = time.Now()
	beat := time.NewTicker(r.heartbeat())
	defer beat.Stop()
	lever := time.NewTicker(leverPoll)
	defer lever.Stop()
	clock := time.NewTicker(clockSync)
	defer clock.Stop()
	r.sweep(ctx) // the runs of servers that died while none ran
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-clock.C:
			r.syncClock(ctx)
		case <-beat.C:
			r.renew(ctx)
			r.sweep(ctx)
			r.planes.takeOver(ctx)
		case <-lever.C:
			if _, err := r.runs.SyncLever(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("replica: follow the safety lever", "err", err)
			}
		}
	}
}

// clockSync is how often a replica measures again how far the database's
// clock is from its own.
const clockSync = time.Minute

// syncClock makes the store's clock follow the database's, so that every
// replica's leases are dated on one clock.
func (r *replica) syncClock(ctx context.Context) {
	offset, err := r.db.SyncClock(ctx)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.log.Error("replica: read the database's clock", "err", err)
		}
	case offset > time.Second || offset < -time.Second:
		r.log.Warn("replica: this machine's clock is off the database's; leases follow the database's", "offset", offset.Round(time.Millisecond))
	}
}

// renew extends the leases of this server's runs, and stops the runs the
// store no longer holds for it.
func (r *replica) renew(ctx context.Context) {
	at := time.Now() // this process's clock, as KeepLeased's
	renewed, err := r.db.RenewLeases(ctx, r.db.Clock().Add(r.ttl))
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		r.log.Error("replica: renew leases", "replica", r.id, "err", err)
		// Cut off from the database, this replica stops its runs and
		// its environments' data planes before their leases can expire,
		// when the others may mark them interrupted and take them over:
		// a run never injects faults that no one can see or halt.
		if !r.renewedAt.IsZero() && at.Sub(r.renewedAt) >= r.ttl-2*r.heartbeat() {
			for _, id := range r.runs.KeepLeased(at, nil, "this server lost the database and could not renew its lease on the run: "+err.Error(), runstatus.Error) {
				r.log.Warn("run stopped: its lease could not be renewed", "run", id, "replica", r.id)
			}
			r.planes.dropAll()
		}
		return
	}
	r.renewedAt = at
	r.planes.renewed(renewed.Environments)
	for _, id := range r.runs.KeepLeased(at, renewed.Runs, "stopped: this server's lease on the run expired and another server marked it interrupted", "") {
		r.log.Warn("run stopped: its lease was lost", "run", id, "replica", r.id)
	}
}

// sweep marks interrupted the runs and game days whose leases expired.
func (r *replica) sweep(ctx context.Context) {
	expired, err := r.db.InterruptExpired(ctx, r.db.Clock(), r.runs.Active)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("replica: interrupt runs with expired leases", "err", err)
		}
		return
	}
	for id, owner := range expired.Runs {
		r.log.Warn("run of a replica that stopped renewing its lease marked interrupted", "run", id, "owner", owner, "replica", r.id)
	}
	if len(expired.GameDayRuns) > 0 {
		r.log.Warn("game days of a replica that stopped renewing its lease marked interrupted", "count", len(expired.GameDayRuns), "replica", r.id)
		r.gameDays.NotifyInterrupted(ctx, expired.GameDayRuns)
	}
}

// Notification channels of servers that share a database.
const (
	// progressChannel carries the progress snapshots of runs (JSON of
	// report.Progress), so a client of any server can follow any run.
	progressChannel = "faultline_run_progress"
	// gameDayProgressChannel carries the step events of game-day runs
	// (JSON of gameDayEvent), so a client of any server can follow any
	// game day.
	gameDayProgressChannel = "faultline_gameday_progress"
	// gameDayStopChannel asks the server that runs a game-day run to
	// stop it (JSON of stopRequest, RunID naming the game-day run).
	gameDayStopChannel = "faultline_gameday_stop"
	// environmentsChannel tells that an environment changed (its ID), so
	// the replica that serves it applies the change.
	environmentsChannel = "faultline_environments"
	// stopChannel asks the server that runs a run to stop it (JSON of
	// stopRequest).
	stopChannel = "faultline_run_stop"
	// schedulesChannel tells that an experiment or a game day changed, so
	// every server's scheduler reads the schedules again.
	schedulesChannel = "faultline_schedules"
)

// relayBuffer bounds the snapshots waiting to be sent; more are dropped,
// as a slow subscriber misses snapshots.
const relayBuffer = 256

// bus carries notifications between servers that share a database, over
// PostgreSQL's LISTEN/NOTIFY.
type bus struct {
	db  *store.DB
	log *slog.Logger
	out chan notification
	// progress and schedules receive what other servers (and this one)
	// sent; set them before run.
	progress func(report.Progress)
	stop     func(runID int64, reason string) bool
	// stopGameDay halts a game-day run that runs here.
	stopGameDay func(runID int64, reason string) bool
	// gameDayEvent receives a step event of a game-day run (nil: it ended).
	gameDayEvent func(runID int64, event []byte)
	schedules    func()
	// environment learns that environment id changed.
	environment func(id int64)
}

// gameDayEvent is a step event of a game-day run; Event is null once the
// run has ended.
type gameDayEvent struct {
	RunID int64           `json:"runId"`
	Event json.RawMessage `json:"event"`
}

// stopRequest asks for a run to be stopped.
type stopRequest struct {
	RunID  int64  `json:"runId"`
	Reason string `json:"reason"`
}

type notification struct{ channel, payload string }

func newBus(db *store.DB, log *slog.Logger) *bus {
	return &bus{db: db, log: log, out: make(chan notification, relayBuffer)}
}

// relay sends a run's progress snapshot to every server; it never blocks.
// A snapshot too long for a notification goes without its status codes.
func (b *bus) relay(p report.Progress) {
	body, err := json.Marshal(p)
	if err == nil && len(body) > store.MaxNotifyPayload {
		p.Codes = nil
		body, err = json.Marshal(p)
	}
	if err != nil || len(body) > store.MaxNotifyPayload {
		return
	}
	b.send(notification{progressChannel, string(body)})
}

// relayGameDay sends a step event of game-day run id (nil: it ended) to
// every server; it never blocks. An event too long for a notification is
// dropped, as a slow subscriber misses one: the report so far is in the
// store.
func (b *bus) relayGameDay(id int64, event []byte) {
	body, err := json.Marshal(gameDayEvent{RunID: id, Event: event})
	if err != nil || len(body) > store.MaxNotifyPayload {
		return
	}
	b.send(notification{gameDayProgressChannel, string(body)})
}

// stopRun asks every server to stop run id: the one that runs it does.
func (b *bus) stopRun(id int64, reason string) { b.sendStop(stopChannel, id, reason) }

// stopGameDayRun asks every server to stop game-day run id.
func (b *bus) stopGameDayRun(id int64, reason string) { b.sendStop(gameDayStopChannel, id, reason) }

func (b *bus) sendStop(channel string, id int64, reason string) {
	body, err := json.Marshal(stopRequest{RunID: id, Reason: reason})
	if err != nil || len(body) > store.MaxNotifyPayload {
		body, _ = json.Marshal(stopRequest{RunID: id, Reason: "stopped by request"})
	}
	b.send(notification{channel, string(body)})
}

// environmentChanged tells every server that environment id changed.
func (b *bus) environmentChanged(id int64) {
	b.send(notification{environmentsChannel, strconv.FormatInt(id, 10)})
}

// schedulesChanged tells every server to read the schedules again.
func (b *bus) schedulesChanged() { b.send(notification{schedulesChannel, ""}) }

func (b *bus) send(n notification) {
	select {
	case b.out <- n:
	default:
		b.log.Warn("replica: notification dropped: too many waiting", "channel", n.channel)
	}
}

// run sends and receives notifications until ctx ends; a lost listening
// connection is opened again after a pause, and every new one counts as
// a change of the schedules (some may have been missed).
func (b *bus) run(ctx context.Context) error {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-b.out:
				if err := b.db.Notify(ctx, n.channel, n.payload); err != nil && ctx.Err() == nil {
					b.log.Error("replica: notify", "channel", n.channel, "err", err)
				}
			}
		}
	}()
	for {
		err := b.db.Listen(ctx, []string{progressChannel, stopChannel, gameDayProgressChannel, gameDayStopChannel, schedulesChannel, environmentsChannel}, b.schedules, b.deliver)
		if ctx.Err() != nil {
			return nil
		}
		b.log.Error("replica: listen for other servers' notifications", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (b *bus) deliver(channel, payload string) {
	switch channel {
	case progressChannel:
		var p report.Progress
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			b.log.Error("replica: a progress notification that does not parse", "err", err)
			return
		}
		b.progress(p)
	case gameDayProgressChannel:
		var ev gameDayEvent
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			b.log.Error("replica: a game-day notification that does not parse", "err", err)
			return
		}
		if string(ev.Event) == "null" {
			ev.Event = nil
		}
		b.gameDayEvent(ev.RunID, ev.Event)
	case stopChannel, gameDayStopChannel:
		var r stopRequest
		if err := json.Unmarshal([]byte(payload), &r); err != nil {
			b.log.Error("replica: a stop notification that does not parse", "err", err)
			return
		}
		if channel == gameDayStopChannel {
			if b.stopGameDay(r.RunID, r.Reason) {
				b.log.Info("game day stopped at another server's request", "gamedayRun", r.RunID, "reason", r.Reason)
			}
		} else if b.stop(r.RunID, r.Reason) {
			b.log.Info("run stopped at another server's request", "run", r.RunID, "reason", r.Reason)
		}
	case schedulesChannel:
		b.schedules()
	case environmentsChannel:
		if id, err := strconv.ParseInt(payload, 10, 64); err == nil {
			b.environment(id)
		}
	}
}
