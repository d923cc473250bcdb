package store

import (
	"context"
	"time"
)

// SyncClock makes the store's clock (Clock, and the times the store
// records when callers give none) follow the database server's clock
// rather than this machine's: several servers on one database then agree
// on time, which their leases need. It measures the difference once per
// call (to within half a round trip) and returns it; call it again now
// and then, as clocks drift. On SQLite, which one process uses, it does
// nothing.
func (db *DB) SyncClock(ctx context.Context) (time.Duration, error) {
	if !db.Postgres() {
		return 0, nil
	}
	var server time.Time
	before := db.now()
	if err := db.gdb.WithContext(ctx).Raw("SELECT clock_timestamp()").Row().Scan(&server); err != nil {
		return 0, translate("read the database's clock", err)
	}
	after := db.now()
	offset := server.Sub(before.Add(after.Sub(before) / 2))
	db.offset.Store(int64(offset))
	return offset, nil
}

// Clock returns the current time as the store keeps it: in UTC, at the
// database's precision, and on the database server's clock once SyncClock
// has measured it.
func (db *DB) Clock() time.Time { return db.clock() }
