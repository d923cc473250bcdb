package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxNotifyPayload is the longest payload Notify sends: PostgreSQL refuses
// NOTIFY payloads of 8000 bytes or more.
const MaxNotifyPayload = 7999

// ErrNoNotify reports that the database carries no notifications: SQLite,
// whose single server has no one to tell.
var ErrNoNotify = errors.New("store: notifications need PostgreSQL")

// Notify sends payload on channel to every server listening on the
// database (Listen), itself included, once the statement commits: at
// once, since it runs outside any transaction. A payload longer than
// MaxNotifyPayload gives ErrInvalid; SQLite gives ErrNoNotify.
func (db *DB) Notify(ctx context.Context, channel, payload string) error {
	op := "notify " + channel
	switch {
	case !db.Postgres():
		return translate(op, ErrNoNotify)
	case len(payload) > MaxNotifyPayload:
		return translate(op, fmt.Errorf("payload of %d bytes, at most %d: %w", len(payload), MaxNotifyPayload, ErrInvalid))
	}
	return translate(op, db.gdb.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", channel, payload).Error)
}

// Listen receives the notifications sent on channels (Notify, from any
// server on the database) and hands each to deliver, in order, on Listen's
// goroutine, until ctx ends (it then returns nil) or the connection fails
// (it returns why). It holds a connection of its own, outside the pool;
// ready, when not nil, is called once it listens. Notifications sent while
// no connection listens are lost: a caller that reconnects should treat a
// new ready as "anything may have changed". SQLite gives ErrNoNotify.
func (db *DB) Listen(ctx context.Context, channels []string, ready func(), deliver func(channel, payload string)) error {
	if db.listenConfig == nil {
		return translate("listen", ErrNoNotify)
	}
	conn, err := pgx.ConnectConfig(ctx, db.listenConfig)
	if err != nil {
		return listenError(ctx, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return listenError(ctx, err)
		}
	}
	if ready != nil {
		ready()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return listenError(ctx, err)
		}
		deliver(n.Channel, n.Payload)
	}
}

// listenError is nil once ctx has ended, the failure otherwise.
func listenError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return translate("listen", err)
}
