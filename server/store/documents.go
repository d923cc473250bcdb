package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Document is a stored, versioned document (an experiment or an
// environment): its source, kept verbatim, and the fields the store
// indexes. Every create or update makes a new immutable version
// ([DocumentVersion]); Version is the current one.
type Document struct {
	// ID is assigned when the document is created.
	ID int64
	// Name is unique among documents of its kind and never empty.
	Name string
	// Description is free text; "" when the document has none.
	Description string
	// Version is the current version: 1 after the create, one more after
	// each update. Callers never set it.
	Version int
	// Source is the document exactly as it was submitted, byte for byte,
	// comments and whitespace included.
	Source string
	// Format is the syntax of Source: FormatYAML or FormatJSON.
	Format string
	// CreatedAt is when the document was created; UpdatedAt when its
	// current version was written. Both are set by the store, in UTC.
	CreatedAt, UpdatedAt time.Time
}

// DocumentVersion is one immutable version of a document, as a run that
// names the version can find it again.
type DocumentVersion struct {
	// OwnerID and Version identify the version.
	OwnerID int64
	Version int
	// Source is the document of that version, verbatim; Format its syntax.
	Source, Format string
	// CreatedAt is when the version was written (UTC).
	CreatedAt time.Time
}

// versioned names the tables of one kind of versioned document: the
// current rows, their immutable versions, and the versions' column that
// points at the row.
type versioned struct {
	kind     string // "experiment", in messages
	table    string
	versions string
	owner    string
}

var (
	experimentTables  = versioned{kind: "experiment", table: "experiments", versions: "experiment_versions", owner: "experiment_id"}
	environmentTables = versioned{kind: "environment", table: "environments", versions: "environment_versions", owner: "environment_id"}
)

// documentRow is a row of a versioned document's table.
type documentRow struct {
	ID          int64 `gorm:"primaryKey"`
	Name        string
	Description string
	Version     int
	Source      string
	Format      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (r *documentRow) document() Document {
	return Document{
		ID: r.ID, Name: r.Name, Description: r.Description, Version: r.Version,
		Source: r.Source, Format: r.Format,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// documentVersionRow is a row of a versions table, read back.
type documentVersionRow struct {
	OwnerID   int64
	Version   int
	Source    string
	Format    string
	CreatedAt time.Time
}

func (t versioned) addVersion(tx *gorm.DB, id int64, version int, source, format string, at time.Time) error {
	return tx.Table(t.versions).Create(map[string]any{
		t.owner: id, "version": version, "source": source, "format": format, "created_at": at,
	}).Error
}

// create stores d at version 1, with its first version row, in one
// transaction, and sets d.ID, d.Version and the timestamps. A name in use
// gives ErrConflict.
func (t versioned) create(ctx context.Context, db *DB, d *Document) error {
	op := fmt.Sprintf("create %s %q", t.kind, d.Name)
	if err := validateDocument(t.kind, d.Name, d.Format); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	row := documentRow{Name: d.Name, Description: d.Description, Version: 1, Source: d.Source, Format: d.Format, CreatedAt: now, UpdatedAt: now}
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Table(t.table).Create(&row).Error; err != nil {
			return err
		}
		return t.addVersion(tx, row.ID, row.Version, row.Source, row.Format, now)
	})
	if err != nil {
		return translate(op, err)
	}
	d.ID, d.Version, d.CreatedAt, d.UpdatedAt = row.ID, row.Version, now, now
	return nil
}

// update makes d's name, description, source and format the next version
// of document d.ID, in one transaction, and sets d.Version and the
// timestamps. An unknown ID gives ErrNotFound; a name another document of
// the kind uses gives ErrConflict.
func (t versioned) update(ctx context.Context, db *DB, d *Document) error {
	op := fmt.Sprintf("update %s %d", t.kind, d.ID)
	if err := validateDocument(t.kind, d.Name, d.Format); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	var cur documentRow
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Table(t.table).Select("id", "version", "created_at").Take(&cur, "id = ?", d.ID).Error; err != nil {
			return err
		}
		cur.Version++
		err := tx.Table(t.table).Where("id = ?", d.ID).Updates(map[string]any{
			"name": d.Name, "description": d.Description, "version": cur.Version,
			"source": d.Source, "format": d.Format, "updated_at": now,
		}).Error
		if err != nil {
			return err
		}
		return t.addVersion(tx, d.ID, cur.Version, d.Source, d.Format, now)
	})
	if err != nil {
		return translate(op, err)
	}
	d.Version, d.CreatedAt, d.UpdatedAt = cur.Version, cur.CreatedAt.UTC(), now
	return nil
}

// get returns the document whose column equals value, or ErrNotFound.
func (t versioned) get(ctx context.Context, db *DB, column string, value any) (*Document, error) {
	var row documentRow
	if err := db.gdb.WithContext(ctx).Table(t.table).Take(&row, column+" = ?", value).Error; err != nil {
		return nil, translate(fmt.Sprintf("get %s %v", t.kind, value), err)
	}
	d := row.document()
	return &d, nil
}

// version returns one version of document id, or ErrNotFound.
func (t versioned) version(ctx context.Context, db *DB, id int64, version int) (*DocumentVersion, error) {
	var row documentVersionRow
	err := db.gdb.WithContext(ctx).Table(t.versions).
		Select(t.owner+" AS owner_id", "version", "source", "format", "created_at").
		Take(&row, t.owner+" = ? AND version = ?", id, version).Error
	if err != nil {
		return nil, translate(fmt.Sprintf("get %s %d version %d", t.kind, id, version), err)
	}
	return &DocumentVersion{OwnerID: row.OwnerID, Version: row.Version, Source: row.Source, Format: row.Format, CreatedAt: row.CreatedAt.UTC()}, nil
}

// list returns one page of the documents in ID order and their number.
func (t versioned) list(ctx context.Context, db *DB, p Page) ([]Document, int64, error) {
	from := func(tx *gorm.DB) *gorm.DB { return tx.Table(t.table) }
	rows, total, err := readPage[documentRow](ctx, db, p, from, "id", nil)
	if err != nil {
		return nil, 0, translate("list "+t.kind+"s", err)
	}
	return convert(rows, (*documentRow).document), total, nil
}
