package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Document formats of an experiment's source.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Experiment is a stored experiment: its source document, kept verbatim, and
// the fields the store indexes. Every create or update makes a new immutable
// version ([ExperimentVersion]); Version is the current one.
type Experiment struct {
	// ID is assigned by CreateExperiment.
	ID int64
	// Name is unique among experiments and never empty.
	Name string
	// Description is free text; "" when the document has none.
	Description string
	// Version is the current version: 1 after CreateExperiment, one more
	// after each UpdateExperiment. Callers never set it.
	Version int
	// Source is the experiment document exactly as it was submitted, byte
	// for byte, comments and whitespace included.
	Source string
	// Format is the syntax of Source: FormatYAML or FormatJSON.
	Format string
	// CreatedAt is when the experiment was created; UpdatedAt when its
	// current version was written. Both are set by the store, in UTC.
	CreatedAt, UpdatedAt time.Time
}

// ExperimentVersion is one immutable version of an experiment's document, as
// a run that names the version can find it again.
type ExperimentVersion struct {
	// ExperimentID and Version identify the version.
	ExperimentID int64
	Version      int
	// Source is the document of that version, verbatim; Format its syntax.
	Source, Format string
	// CreatedAt is when the version was written (UTC).
	CreatedAt time.Time
}

// experimentRow is a row of table experiments.
type experimentRow struct {
	ID          int64 `gorm:"primaryKey"`
	Name        string
	Description string
	Version     int
	Source      string
	Format      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (experimentRow) TableName() string { return "experiments" }

func (r *experimentRow) experiment() Experiment {
	return Experiment{
		ID: r.ID, Name: r.Name, Description: r.Description, Version: r.Version,
		Source: r.Source, Format: r.Format,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// versionRow is a row of table experiment_versions.
type versionRow struct {
	ExperimentID int64 `gorm:"primaryKey;autoIncrement:false"`
	Version      int   `gorm:"primaryKey;autoIncrement:false"`
	Source       string
	Format       string
	CreatedAt    time.Time
}

func (versionRow) TableName() string { return "experiment_versions" }

func validateExperiment(e *Experiment) error {
	return validateDocument("experiment", e.Name, e.Format)
}

// CreateExperiment stores e as a new experiment at version 1, with its first
// version row, in one transaction. It sets e.ID, e.Version and the
// timestamps. A name already in use gives ErrConflict.
func (db *DB) CreateExperiment(ctx context.Context, e *Experiment) error {
	op := fmt.Sprintf("create experiment %q", e.Name)
	if err := validateExperiment(e); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	row := experimentRow{
		Name: e.Name, Description: e.Description, Version: 1,
		Source: e.Source, Format: e.Format, CreatedAt: now, UpdatedAt: now,
	}
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return tx.Create(&versionRow{
			ExperimentID: row.ID, Version: row.Version,
			Source: row.Source, Format: row.Format, CreatedAt: now,
		}).Error
	})
	if err != nil {
		return translate(op, err)
	}
	e.ID, e.Version, e.CreatedAt, e.UpdatedAt = row.ID, row.Version, now, now
	return nil
}

// UpdateExperiment replaces the name, description, source and format of the
// experiment e.ID and makes them its next version, in one transaction: it
// sets e.Version to the previous version + 1, appends the version row, and
// sets e.CreatedAt and e.UpdatedAt. An unknown ID gives ErrNotFound; a name
// used by another experiment gives ErrConflict.
func (db *DB) UpdateExperiment(ctx context.Context, e *Experiment) error {
	op := fmt.Sprintf("update experiment %d", e.ID)
	if err := validateExperiment(e); err != nil {
		return translate(op, err)
	}
	now := db.clock()
	var cur experimentRow
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Select("id", "version", "created_at").Take(&cur, "id = ?", e.ID).Error; err != nil {
			return err
		}
		next := cur.Version + 1
		err := tx.Model(&experimentRow{}).Where("id = ?", e.ID).Updates(map[string]any{
			"name": e.Name, "description": e.Description, "version": next,
			"source": e.Source, "format": e.Format, "updated_at": now,
		}).Error
		if err != nil {
			return err
		}
		cur.Version = next
		return tx.Create(&versionRow{
			ExperimentID: e.ID, Version: next, Source: e.Source, Format: e.Format, CreatedAt: now,
		}).Error
	})
	if err != nil {
		return translate(op, err)
	}
	e.Version, e.CreatedAt, e.UpdatedAt = cur.Version, cur.CreatedAt.UTC(), now
	return nil
}

// GetExperiment returns the experiment with the given ID, or ErrNotFound.
func (db *DB) GetExperiment(ctx context.Context, id int64) (*Experiment, error) {
	var row experimentRow
	if err := db.gdb.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(fmt.Sprintf("get experiment %d", id), err)
	}
	e := row.experiment()
	return &e, nil
}

// GetExperimentByName returns the experiment with the given name, or
// ErrNotFound.
func (db *DB) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	var row experimentRow
	if err := db.gdb.WithContext(ctx).Take(&row, "name = ?", name).Error; err != nil {
		return nil, translate(fmt.Sprintf("get experiment %q", name), err)
	}
	e := row.experiment()
	return &e, nil
}

// GetExperimentVersion returns one version of an experiment's document, or
// ErrNotFound. Versions outlive updates but not the experiment's deletion.
func (db *DB) GetExperimentVersion(ctx context.Context, id int64, version int) (*ExperimentVersion, error) {
	var row versionRow
	err := db.gdb.WithContext(ctx).Take(&row, "experiment_id = ? AND version = ?", id, version).Error
	if err != nil {
		return nil, translate(fmt.Sprintf("get experiment %d version %d", id, version), err)
	}
	return &ExperimentVersion{
		ExperimentID: row.ExperimentID, Version: row.Version,
		Source: row.Source, Format: row.Format, CreatedAt: row.CreatedAt.UTC(),
	}, nil
}

// ListExperiments returns one page of experiments in ID order (oldest
// first), with their current source, and the number of experiments in all.
func (db *DB) ListExperiments(ctx context.Context, p Page) ([]Experiment, int64, error) {
	from := func(tx *gorm.DB) *gorm.DB { return tx.Model(&experimentRow{}) }
	rows, total, err := readPage[experimentRow](ctx, db, p, from, "id", nil)
	if err != nil {
		return nil, 0, translate("list experiments", err)
	}
	return convert(rows, (*experimentRow).experiment), total, nil
}

// DeleteExperiment deletes an experiment and all its versions. Its runs are
// kept, with ExperimentID cleared. An unknown ID gives ErrNotFound; an
// experiment with a queued or running run gives ErrConflict.
func (db *DB) DeleteExperiment(ctx context.Context, id int64) error {
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var active int64
		err := tx.Model(&runRow{}).
			Where("experiment_id = ? AND status IN ?", id, activeStatuses).
			Count(&active).Error
		if err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("%d run(s) queued or running: %w", active, ErrConflict)
		}
		return deleteByID(tx, &experimentRow{}, id)
	})
	return translate(fmt.Sprintf("delete experiment %d", id), err)
}
