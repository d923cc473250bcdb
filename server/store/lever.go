package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// LeverState is the safety lever: while it is engaged no run may start.
type LeverState struct {
	Engaged bool
	// Reason is why it was last engaged or released.
	Reason string
	// By names who moved it, when the caller said ("" otherwise).
	By string
	// Since is when it was last moved; zero when it never was.
	Since time.Time
}

// leverRow is a row of table lever_events.
type leverRow struct {
	ID      int64 `gorm:"primaryKey"`
	Engaged bool
	Reason  string
	Actor   string
	At      time.Time
}

func (leverRow) TableName() string { return "lever_events" }

// RecordLever appends an engage or release of the safety lever; a zero
// s.Since means now. It returns the state as stored.
func (db *DB) RecordLever(ctx context.Context, s LeverState) (LeverState, error) {
	row := leverRow{Engaged: s.Engaged, Reason: s.Reason, Actor: s.By, At: db.utc(s.Since)}
	if err := db.gdb.WithContext(ctx).Create(&row).Error; err != nil {
		return LeverState{}, translate("record lever", err)
	}
	return row.state(), nil
}

// Lever returns the lever's current state: the last recorded event, or a
// released lever when there is none.
func (db *DB) Lever(ctx context.Context) (LeverState, error) {
	var row leverRow
	err := db.gdb.WithContext(ctx).Order("id DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return LeverState{}, nil
	}
	if err != nil {
		return LeverState{}, translate("read lever", err)
	}
	return row.state(), nil
}

func (r *leverRow) state() LeverState {
	return LeverState{Engaged: r.Engaged, Reason: r.Reason, By: r.Actor, Since: r.At.UTC()}
}
