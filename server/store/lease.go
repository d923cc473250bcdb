package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/faultline/faultline/server/runstatus"
)

// SetReplica makes the runs and game-day runs that db creates from now on
// owned by replica, each with a lease that lasts ttl from its creation
// (0: no lease, only the owner). Call it before any other method: it is
// not safe to call concurrently with them.
//
// Several servers on one PostgreSQL database tell their runs apart by
// these leases: the owner renews them (RenewLeases) while it runs them,
// and any server ends the runs whose lease expired (InterruptExpired), as
// those of a server that died.
func (db *DB) SetReplica(replica string, ttl time.Duration) {
	db.replica, db.leaseTTL = replica, ttl
}

// Replica returns the replica identity SetReplica set.
func (db *DB) Replica() string { return db.replica }

// Postgres reports whether db is a PostgreSQL database, which several
// servers may share; a SQLite file has one server (Lock).
func (db *DB) Postgres() bool { return db.backend.name == "postgres" }

// newLease returns the owner and the lease end of a run created now.
func (db *DB) newLease() (string, *time.Time) {
	if db.leaseTTL <= 0 {
		return db.replica, nil
	}
	until := db.clock().Add(db.leaseTTL)
	return db.replica, &until
}

// Renewed are the active runs and game-day runs whose leases RenewLeases
// extended.
type Renewed struct {
	Runs, GameDayRuns []int64
	// Environments are the environments whose data planes the replica
	// still holds (ClaimEnvironment).
	Environments []int64
}

// RenewLeases extends to until the lease of every queued or running run
// and every running game-day run owned by db's replica, and returns which
// it extended: an active run of the replica missing from them was ended
// by another server (its lease had expired) or has just ended.
func (db *DB) RenewLeases(ctx context.Context, until time.Time) (Renewed, error) {
	var out Renewed
	until = db.stored(until)
	gdb := db.gdb.WithContext(ctx)
	err := gdb.Raw(`UPDATE runs SET lease_until = ? WHERE owner = ? AND status IN ? RETURNING id`,
		until, db.replica, activeStatuses).Scan(&out.Runs).Error
	if err == nil {
		err = gdb.Raw(`UPDATE gameday_runs SET lease_until = ? WHERE owner = ? AND status = ? RETURNING id`,
			until, db.replica, runstatus.Running).Scan(&out.GameDayRuns).Error
	}
	if err == nil {
		// An environment's lease that expired may have gone to another
		// replica already: only unexpired ones are renewed.
		err = gdb.Raw(`UPDATE environment_leases SET lease_until = ? WHERE owner = ? AND lease_until >= ? RETURNING environment_id`,
			until, db.replica, db.clock()).Scan(&out.Environments).Error
	}
	if err != nil {
		return Renewed{}, translate("renew leases of replica "+db.replica, err)
	}
	return out, nil
}

// ClaimEnvironment leases environment id's data plane to db's replica
// until until, unless another replica holds an unexpired lease on it, and
// returns the holder afterwards: db's replica when the claim succeeded.
// An unknown environment gives ErrNotFound.
func (db *DB) ClaimEnvironment(ctx context.Context, id int64, until time.Time) (holder string, err error) {
	op := fmt.Sprintf("claim environment %d", id)
	if db.replica == "" {
		return "", translate(op, fmt.Errorf("no replica identity (SetReplica): %w", ErrInvalid))
	}
	err = db.write(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO environment_leases (environment_id, owner, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (environment_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
			WHERE environment_leases.owner = excluded.owner OR environment_leases.lease_until < ?`,
			id, db.replica, db.stored(until), db.clock()).Error
		if err != nil {
			return err
		}
		return tx.Raw("SELECT owner FROM environment_leases WHERE environment_id = ?", id).Row().Scan(&holder)
	})
	return holder, translate(op, err)
}

// EnvironmentHolder returns the replica whose lease on environment id's
// data plane has not expired; ok is false when none holds one.
func (db *DB) EnvironmentHolder(ctx context.Context, id int64) (holder string, ok bool, err error) {
	var owners []string
	err = db.gdb.WithContext(ctx).Raw("SELECT owner FROM environment_leases WHERE environment_id = ? AND lease_until >= ?", id, db.clock()).
		Scan(&owners).Error
	if err != nil || len(owners) == 0 {
		return "", false, translate(fmt.Sprintf("holder of environment %d", id), err)
	}
	return owners[0], true, nil
}

// ReleaseEnvironments gives up db's replica's leases on environments, so
// that other replicas take them over at once rather than after the TTL.
func (db *DB) ReleaseEnvironments(ctx context.Context) error {
	err := db.gdb.WithContext(ctx).Exec("DELETE FROM environment_leases WHERE owner = ?", db.replica).Error
	return translate("release the environments of replica "+db.replica, err)
}

// Expired is what InterruptExpired ended.
type Expired struct {
	// Runs are the runs it moved to runstatus.Interrupted, by ID, with their
	// owners.
	Runs map[int64]string
	// GameDayRuns are the game-day runs it moved to runstatus.Interrupted.
	GameDayRuns []int64
}

// InterruptExpired moves every queued or running run, and every running
// game-day run, whose lease ended before at (zero means now) to
// runstatus.Interrupted, with a reason that names the replica that owned it,
// and records the runs' transitions; rows without a lease (created before
// leases, or by a server without them) count as expired. A lease renewed
// meanwhile keeps its run: each row is checked again as it is moved.
//
// busy, when set, names the runs this process still handles (a run it
// stopped itself, cut off from the database, whose end it is recording
// now that the database is back): those are left to it.
func (db *DB) InterruptExpired(ctx context.Context, at time.Time, busy func(runID int64) bool) (Expired, error) {
	at = db.utc(at)
	out := Expired{Runs: map[int64]string{}}
	expired := func(q *gorm.DB) *gorm.DB { return q.Where("lease_until IS NULL OR lease_until < ?", at) }
	err := db.write(ctx, func(tx *gorm.DB) error {
		var runs []runRow
		if err := expired(tx.Select("id, owner, lease_until").Where("status IN ?", activeStatuses)).Order("id").Find(&runs).Error; err != nil {
			return err
		}
		for _, r := range runs {
			if busy != nil && busy(r.ID) {
				continue
			}
			reason := leaseReason("run", r.Owner, r.LeaseUntil)
			res := expired(tx.Model(&runRow{}).Where("id = ? AND status IN ?", r.ID, activeStatuses)).
				Updates(map[string]any{"status": runstatus.Interrupted, "reason": reason, "ended_at": at})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				continue
			}
			if err := tx.Create(&transitionRow{RunID: r.ID, Status: runstatus.Interrupted, Reason: reason, At: at}).Error; err != nil {
				return err
			}
			out.Runs[r.ID] = r.Owner
		}
		var gdrs []gameDayRunRow
		if err := expired(tx.Select("id, owner, lease_until").Where("status = ?", runstatus.Running)).Order("id").Find(&gdrs).Error; err != nil {
			return err
		}
		for _, r := range gdrs {
			res := expired(tx.Model(&gameDayRunRow{}).Where("id = ? AND status = ?", r.ID, runstatus.Running)).
				Updates(map[string]any{"status": runstatus.Interrupted, "reason": leaseReason("game day", r.Owner, r.LeaseUntil), "ended_at": at})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected > 0 {
				out.GameDayRuns = append(out.GameDayRuns, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return Expired{}, translate("interrupt runs with expired leases", err)
	}
	return out, nil
}

// leaseReason is the reason of a run (or game day: what) whose lease
// expired.
func leaseReason(what, owner string, until *time.Time) string {
	switch {
	case owner == "":
		return fmt.Sprintf("no server holds a lease on the %s: the server that ran it stopped before leases were kept", what)
	case until == nil:
		return fmt.Sprintf("replica %s ran the %s without a lease and no longer runs it", owner, what)
	}
	return fmt.Sprintf("replica %s stopped renewing its lease on the %s (it expired at %s): the replica died or lost the database",
		owner, what, until.UTC().Format(time.RFC3339Nano))
}
