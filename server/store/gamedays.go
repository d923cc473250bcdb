package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/faultline/faultline/server/runstatus"
)

// Triggers name what started a game-day run.
const (
	TriggerAPI      = "api"      // a request to the API
	TriggerSchedule = "schedule" // the game day's schedule
)

// GameDay is a stored game-day document, kept verbatim beside the fields the
// store indexes, as a [Document]. Unlike an experiment it keeps no older
// versions: a game-day run keeps the source it ran instead. Version is 1
// after CreateGameDay and one more after each UpdateGameDay.
type GameDay = Document

// GameDayRun is one run of a game day. Its status moves from
// runstatus.Running to one of the terminal statuses (succeeded, failed,
// stopped, interrupted, error) exactly once.
type GameDayRun struct {
	// ID is assigned by CreateGameDayRun.
	ID int64
	// GameDayID is the game day that ran; nil once it has been deleted.
	GameDayID *int64
	// GameDayName, GameDayVersion and Source are what ran, and stay when
	// the game day is deleted or changed.
	GameDayName    string
	GameDayVersion int
	Source         string
	// Trigger is TriggerAPI or TriggerSchedule.
	Trigger string
	// Status is runstatus.Running or a terminal status; Reason explains it.
	Status runstatus.Status
	Reason string
	// Verdict is set when the run ends ("" until then).
	Verdict string
	// CreatedAt is when the run started (UTC); EndedAt when it ended, nil
	// before that.
	CreatedAt time.Time
	EndedAt   *time.Time
	// Report is the game-day report as raw JSON; nil until
	// FinishGameDayRun stores one. ListGameDayRuns leaves it nil.
	Report []byte
}

// WebhookDelivery records one webhook delivery of a game-day run's end.
type WebhookDelivery struct {
	// ID is assigned by RecordWebhookDelivery.
	ID           int64
	GameDayRunID int64
	// Event is the event delivered ("finished", "failed"); URL where to.
	Event, URL string
	// StatusCode is the receiver's last HTTP status (0 when none
	// answered); Attempts how many tries were made.
	StatusCode, Attempts int
	// Error says why the delivery failed; "" when it succeeded.
	Error string
	// DeliveredAt is when the delivery ended (UTC).
	DeliveredAt time.Time
}

// gameDayRow is a row of table gamedays.
type gameDayRow struct {
	ID          int64 `gorm:"primaryKey"`
	Name        string
	Description string
	Version     int
	Source      string
	Format      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (gameDayRow) TableName() string { return "gamedays" }

func (r *gameDayRow) gameDay() GameDay {
	return GameDay{ID: r.ID, Name: r.Name, Description: r.Description, Version: r.Version,
		Source: r.Source, Format: r.Format, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// gameDayRunRow is a row of table gameday_runs.
type gameDayRunRow struct {
	ID             int64  `gorm:"primaryKey"`
	GameDayID      *int64 `gorm:"column:gameday_id"`
	GameDayName    string `gorm:"column:gameday_name"`
	GameDayVersion int    `gorm:"column:gameday_version"`
	Source         string
	Trigger        string
	Status         runstatus.Status
	Reason         string
	Verdict        string
	CreatedAt      time.Time
	EndedAt        *time.Time
	// Report is bound as text, as runRow.Report is.
	Report     *string
	Owner      string
	LeaseUntil *time.Time
}

func (gameDayRunRow) TableName() string { return "gameday_runs" }

func (r *gameDayRunRow) run() GameDayRun {
	out := GameDayRun{ID: r.ID, GameDayID: r.GameDayID, GameDayName: r.GameDayName, GameDayVersion: r.GameDayVersion,
		Source: r.Source, Trigger: r.Trigger, Status: r.Status, Reason: r.Reason, Verdict: r.Verdict,
		CreatedAt: r.CreatedAt.UTC(), EndedAt: utcPtr(r.EndedAt)}
	if r.Report != nil {
		out.Report = []byte(*r.Report)
	}
	return out
}

// webhookRow is a row of table webhook_deliveries.
type webhookRow struct {
	ID           int64 `gorm:"primaryKey"`
	GameDayRunID int64 `gorm:"column:gameday_run_id"`
	Event        string
	URL          string `gorm:"column:url"`
	StatusCode   int
	Attempts     int
	Error        string
	DeliveredAt  time.Time
}

func (webhookRow) TableName() string { return "webhook_deliveries" }

func validateGameDay(g *GameDay) error {
	return validateDocument("game-day", g.Name, g.Format)
}

// CreateGameDay stores g as a new game day at version 1 and sets g.ID,
// g.Version and the timestamps. A name already in use gives ErrConflict.
func (db *DB) CreateGameDay(ctx context.Context, g *GameDay) error {
	op := fmt.Sprintf("create game day %q", g.Name)
	if err := validateGameDay(g); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	row := gameDayRow{Name: g.Name, Description: g.Description, Version: 1, Source: g.Source, Format: g.Format, CreatedAt: now, UpdatedAt: now}
	if err := db.gdb.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(op, err)
	}
	g.ID, g.Version, g.CreatedAt, g.UpdatedAt = row.ID, row.Version, now, now
	return nil
}

// UpdateGameDay replaces the name, description, source and format of the
// game day g.ID as its next version; it sets g.Version and the
// timestamps. An unknown ID gives ErrNotFound; a name used by another game
// day ErrConflict.
func (db *DB) UpdateGameDay(ctx context.Context, g *GameDay) error {
	op := fmt.Sprintf("update game day %d", g.ID)
	if err := validateGameDay(g); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	var cur gameDayRow
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Select("id", "version", "created_at").Take(&cur, "id = ?", g.ID).Error; err != nil {
			return err
		}
		cur.Version++
		return tx.Model(&gameDayRow{}).Where("id = ?", g.ID).Updates(map[string]any{
			"name": g.Name, "description": g.Description, "version": cur.Version,
			"source": g.Source, "format": g.Format, "updated_at": now,
		}).Error
	})
	if err != nil {
		return translate(op, err)
	}
	g.Version, g.CreatedAt, g.UpdatedAt = cur.Version, cur.CreatedAt.UTC(), now
	return nil
}

// GetGameDay returns the game day with the given ID, or ErrNotFound.
func (db *DB) GetGameDay(ctx context.Context, id int64) (*GameDay, error) {
	var row gameDayRow
	if err := db.gdb.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(fmt.Sprintf("get game day %d", id), err)
	}
	g := row.gameDay()
	return &g, nil
}

// ListGameDays returns one page of game days in ID order (oldest first)
// and the number of game days in all.
func (db *DB) ListGameDays(ctx context.Context, p Page) ([]GameDay, int64, error) {
	from := func(tx *gorm.DB) *gorm.DB { return tx.Model(&gameDayRow{}) }
	rows, total, err := readPage[gameDayRow](ctx, db, p, from, "id", nil)
	if err != nil {
		return nil, 0, translate("list game days", err)
	}
	return convert(rows, (*gameDayRow).gameDay), total, nil
}

// DeleteGameDay deletes a game day and its fires. Its runs are kept, with
// GameDayID cleared. An unknown ID gives ErrNotFound; a game day with a
// running run gives ErrConflict (stop it first).
func (db *DB) DeleteGameDay(ctx context.Context, id int64) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
		var active int64
		if err := tx.Model(&gameDayRunRow{}).Where("gameday_id = ? AND status = ?", id, runstatus.Running).Count(&active).Error; err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("a run of the game day is running: %w", ErrConflict)
		}
		return deleteByID(tx, &gameDayRow{}, id)
	})
	return translate(fmt.Sprintf("delete game day %d", id), err)
}

// CreateGameDayRun records a new run of a game day as running and sets
// r.ID, r.Status and r.CreatedAt (now when zero). r.Trigger must be
// TriggerAPI or TriggerSchedule. The run is owned by the DB's replica, with
// a lease from now, as CreateRun's runs are. A non-nil r.GameDayID that names no game
// day gives ErrNotFound.
func (db *DB) CreateGameDayRun(ctx context.Context, r *GameDayRun) error {
	const op = "create game-day run"
	if r.Trigger != TriggerAPI && r.Trigger != TriggerSchedule {
		return translate(op, fmt.Errorf("unknown trigger %q: %w", r.Trigger, ErrInvalid))
	}
	row := gameDayRunRow{GameDayID: r.GameDayID, GameDayName: r.GameDayName, GameDayVersion: r.GameDayVersion,
		Source: r.Source, Trigger: r.Trigger, Status: runstatus.Running, Reason: r.Reason, CreatedAt: db.utc(r.CreatedAt)}
	row.Owner, row.LeaseUntil = db.newLease()
	if err := db.gdb.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(op, err)
	}
	r.ID, r.Status, r.CreatedAt, r.EndedAt, r.Verdict, r.Report = row.ID, row.Status, row.CreatedAt, nil, "", nil
	return nil
}

// SaveGameDayRunReport keeps the report so far (raw JSON) of a running
// game-day run, for other servers on the database to show while it runs;
// FinishGameDayRun replaces it with the final one. A run that is not
// running is left alone; a report that is not JSON gives ErrInvalid.
func (db *DB) SaveGameDayRunReport(ctx context.Context, id int64, report []byte) error {
	op := fmt.Sprintf("save the report so far of game-day run %d", id)
	text, err := reportText(report)
	if err != nil {
		return translate(op, err)
	}
	err = db.gdb.WithContext(ctx).Model(&gameDayRunRow{}).Where("id = ? AND status = ?", id, runstatus.Running).Update("report", text).Error
	return translate(op, err)
}

// FinishGameDayRun moves a running game-day run to a terminal status with
// its verdict, reason and report (raw JSON, nil for none); at is when it
// ended (zero means now). An unknown run gives ErrNotFound, one that has
// already ended ErrConflict, a status that is not terminal or a report
// that is not JSON ErrInvalid.
func (db *DB) FinishGameDayRun(ctx context.Context, id int64, status runstatus.Status, verdict, reason string, report []byte, at time.Time) error {
	op := fmt.Sprintf("finish game-day run %d as %q", id, status)
	if !status.Terminal() {
		return translate(op, fmt.Errorf("not a terminal status: %w", ErrInvalid))
	}
	text, err := reportText(report)
	if err != nil {
		return translate(op, err)
	}
	err = db.write(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&gameDayRunRow{}).Where("id = ? AND status = ?", id, runstatus.Running).Updates(map[string]any{
			"status": status, "verdict": verdict, "reason": reason, "report": text, "ended_at": db.utc(at),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var row gameDayRunRow
			if err := tx.Select("status").Take(&row, "id = ?", id).Error; err != nil {
				return err
			}
			return fmt.Errorf("game-day run is already %s: %w", row.Status, ErrConflict)
		}
		return nil
	})
	return translate(op, err)
}

// GetGameDayRun returns the game-day run with the given ID, report
// included, or ErrNotFound.
func (db *DB) GetGameDayRun(ctx context.Context, id int64) (*GameDayRun, error) {
	var row gameDayRunRow
	if err := db.gdb.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(fmt.Sprintf("get game-day run %d", id), err)
	}
	r := row.run()
	return &r, nil
}

// ListGameDayRuns returns one page of a game day's runs, latest first,
// without their reports, and how many runs it has in all.
func (db *DB) ListGameDayRuns(ctx context.Context, gameDayID int64, p Page) ([]GameDayRun, int64, error) {
	from := func(tx *gorm.DB) *gorm.DB { return tx.Model(&gameDayRunRow{}).Where("gameday_id = ?", gameDayID) }
	rows, total, err := readPage[gameDayRunRow](ctx, db, p, from, "id DESC", omitReport)
	if err != nil {
		return nil, 0, translate(fmt.Sprintf("list runs of game day %d", gameDayID), err)
	}
	return convert(rows, (*gameDayRunRow).run), total, nil
}

// MarkGameDaysInterrupted moves every running game-day run to
// runstatus.Interrupted with the given reason and EndedAt at (zero means now),
// in one transaction, and returns the IDs of the runs it moved. The server
// calls it at start-up: a game day still running then belonged to a
// process that died.
func (db *DB) MarkGameDaysInterrupted(ctx context.Context, reason string, at time.Time) ([]int64, error) {
	at = db.utc(at)
	var ids []int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&gameDayRunRow{}).Where("status = ?", runstatus.Running).Order("id").Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return tx.Model(&gameDayRunRow{}).Where("id IN ?", ids).Updates(map[string]any{
			"status": runstatus.Interrupted, "reason": reason, "ended_at": at,
		}).Error
	})
	if err != nil {
		return nil, translate("mark game-day runs interrupted", err)
	}
	return ids, nil
}

// StartGameDayRun is CreateGameDayRun for a run of a stored game day
// (r.GameDayID set) that must be its only running one, whichever server
// started the other: while one runs it records nothing and returns that
// run's ID with ErrConflict. The check and the insert are one write
// transaction, which write transactions of every server take in turn.
func (db *DB) StartGameDayRun(ctx context.Context, r *GameDayRun) (running int64, err error) {
	const op = "start game-day run"
	if r.GameDayID == nil {
		return 0, translate(op, fmt.Errorf("no game day: %w", ErrInvalid))
	}
	if r.Trigger != TriggerAPI && r.Trigger != TriggerSchedule {
		return 0, translate(op, fmt.Errorf("unknown trigger %q: %w", r.Trigger, ErrInvalid))
	}
	row := gameDayRunRow{GameDayID: r.GameDayID, GameDayName: r.GameDayName, GameDayVersion: r.GameDayVersion,
		Source: r.Source, Trigger: r.Trigger, Status: runstatus.Running, Reason: r.Reason, CreatedAt: db.utc(r.CreatedAt)}
	row.Owner, row.LeaseUntil = db.newLease()
	err = db.write(ctx, func(tx *gorm.DB) error {
		var ids []int64
		if err := tx.Model(&gameDayRunRow{}).Where("gameday_id = ? AND status = ?", *r.GameDayID, runstatus.Running).
			Order("id").Limit(1).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			running = ids[0]
			return fmt.Errorf("game-day run %d is running: %w", running, ErrConflict)
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return running, translate(op, err)
	}
	r.ID, r.Status, r.CreatedAt, r.EndedAt, r.Verdict, r.Report = row.ID, row.Status, row.CreatedAt, nil, "", nil
	return 0, nil
}

// RecordWebhookDelivery stores a delivery of a game-day run's end and sets
// d.ID (and d.DeliveredAt to now when zero). An unknown run gives
// ErrNotFound.
func (db *DB) RecordWebhookDelivery(ctx context.Context, d *WebhookDelivery) error {
	op := fmt.Sprintf("record webhook delivery of game-day run %d", d.GameDayRunID)
	if d.Event == "" || d.URL == "" {
		return translate(op, fmt.Errorf("event and URL are required: %w", ErrInvalid))
	}
	row := webhookRow{GameDayRunID: d.GameDayRunID, Event: d.Event, URL: d.URL, StatusCode: d.StatusCode,
		Attempts: d.Attempts, Error: d.Error, DeliveredAt: db.utc(d.DeliveredAt)}
	if err := db.gdb.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(op, err)
	}
	d.ID, d.DeliveredAt = row.ID, row.DeliveredAt
	return nil
}

// ListWebhookDeliveries returns the deliveries of a game-day run, oldest
// first (none for an unknown run).
func (db *DB) ListWebhookDeliveries(ctx context.Context, gameDayRunID int64) ([]WebhookDelivery, error) {
	var rows []webhookRow
	if err := db.gdb.WithContext(ctx).Where("gameday_run_id = ?", gameDayRunID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(fmt.Sprintf("list webhook deliveries of game-day run %d", gameDayRunID), err)
	}
	out := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = WebhookDelivery{ID: r.ID, GameDayRunID: r.GameDayRunID, Event: r.Event, URL: r.URL, StatusCode: r.StatusCode,
			Attempts: r.Attempts, Error: r.Error, DeliveredAt: r.DeliveredAt.UTC()}
	}
	return out, nil
}
