package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AuditEntry is one write to the API: who made it, what it was, when,
// from where and how it ended.
type AuditEntry struct {
	// ID is assigned by RecordAudit; a later entry has a larger ID.
	ID int64
	// At is when the request arrived; zero means now.
	At time.Time
	// Actor names who made the request: the token's name, or "anonymous"
	// on a server without tokens. It must not be empty.
	Actor string
	// Role is the actor's role ("viewer", "operator", "admin").
	Role string
	// Method and Route are the request's method and route pattern
	// (/api/v1/experiments/{id}); Path is the path as requested.
	Method, Route, Path string
	// Object names what the write acted on or made ("experiments/7"),
	// when the route names one.
	Object string
	// Detail says more where the route has more to say (the lever's
	// reason); usually empty.
	Detail string
	// Remote is the client's address (host:port) and UserAgent its
	// User-Agent header.
	Remote, UserAgent string
	// Status is the HTTP status of the answer.
	Status int
}

// auditRow is a row of table audit_log.
type auditRow struct {
	ID        int64 `gorm:"primaryKey"`
	At        time.Time
	Actor     string
	Role      string
	Method    string
	Route     string
	Path      string
	Object    string
	Detail    string
	Remote    string
	UserAgent string
	Status    int
}

func (auditRow) TableName() string { return "audit_log" }

// RecordAudit appends e to the audit log and sets e.ID and e.At. keep
// bounds the log: entries older than the newest keep are deleted in the
// same transaction; 0 (or less) keeps all.
func (db *DB) RecordAudit(ctx context.Context, e *AuditEntry, keep int) error {
	const op = "record audit entry"
	if e.Actor == "" {
		return translate(op, fmt.Errorf("empty actor: %w", ErrInvalid))
	}
	row := auditRow{At: db.utc(e.At), Actor: e.Actor, Role: e.Role, Method: e.Method, Route: e.Route, Path: e.Path,
		Object: e.Object, Detail: e.Detail, Remote: e.Remote, UserAgent: e.UserAgent, Status: e.Status}
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		// IDs only grow, so the newest keep entries are those above the
		// ID of the keep+1-th newest. (Not above row.ID-keep: IDs may
		// leave gaps, as a PostgreSQL sequence does after a failed insert.)
		return tx.Exec("DELETE FROM audit_log WHERE id <= (SELECT id FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET ?)", keep).Error
	})
	if err != nil {
		return translate(op, err)
	}
	e.ID, e.At = row.ID, row.At
	return nil
}

// ListAudit returns page p of the audit log, newest first, and how many
// entries it holds in all.
func (db *DB) ListAudit(ctx context.Context, p Page) ([]AuditEntry, int64, error) {
	rows, total, err := readPage[auditRow](ctx, db, p, func(tx *gorm.DB) *gorm.DB { return tx.Model(&auditRow{}) }, "id DESC", nil)
	if err != nil {
		return nil, 0, translate("list audit entries", err)
	}
	return convert(rows, (*auditRow).entry), total, nil
}

func (r *auditRow) entry() AuditEntry {
	return AuditEntry{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Role: r.Role, Method: r.Method, Route: r.Route, Path: r.Path,
		Object: r.Object, Detail: r.Detail, Remote: r.Remote, UserAgent: r.UserAgent, Status: r.Status}
}
