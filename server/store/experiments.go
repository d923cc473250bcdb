package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Document formats of a stored document's source.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Experiment is a stored experiment: its source document, kept verbatim,
// and the fields the store indexes. Every create or update makes a new
// immutable version ([ExperimentVersion]); Version is the current one.
type Experiment = Document

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

// CreateExperiment stores e as a new experiment at version 1, with its first
// version row, in one transaction. It sets e.ID, e.Version and the
// timestamps. A name already in use gives ErrConflict.
func (db *DB) CreateExperiment(ctx context.Context, e *Experiment) error {
	return experimentTables.create(ctx, db, e)
}

// UpdateExperiment replaces the name, description, source and format of the
// experiment e.ID and makes them its next version, in one transaction: it
// sets e.Version to the previous version + 1, appends the version row, and
// sets e.CreatedAt and e.UpdatedAt. An unknown ID gives ErrNotFound; a name
// used by another experiment gives ErrConflict.
func (db *DB) UpdateExperiment(ctx context.Context, e *Experiment) error {
	return experimentTables.update(ctx, db, e)
}

// GetExperiment returns the experiment with the given ID, or ErrNotFound.
func (db *DB) GetExperiment(ctx context.Context, id int64) (*Experiment, error) {
	return experimentTables.get(ctx, db, "id", id)
}

// GetExperimentByName returns the experiment with the given name, or
// ErrNotFound.
func (db *DB) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	return experimentTables.get(ctx, db, "name", name)
}

// GetExperimentVersion returns one version of an experiment's document, or
// ErrNotFound. Versions outlive updates but not the experiment's deletion.
func (db *DB) GetExperimentVersion(ctx context.Context, id int64, version int) (*ExperimentVersion, error) {
	v, err := experimentTables.version(ctx, db, id, version)
	if err != nil {
		return nil, err
	}
	return &ExperimentVersion{ExperimentID: v.OwnerID, Version: v.Version, Source: v.Source, Format: v.Format, CreatedAt: v.CreatedAt}, nil
}

// ListExperiments returns one page of experiments in ID order (oldest
// first), with their current source, and the number of experiments in all.
func (db *DB) ListExperiments(ctx context.Context, p Page) ([]Experiment, int64, error) {
	return experimentTables.list(ctx, db, p)
}

// DeleteExperiment deletes an experiment and all its versions. Its runs are
// kept, with ExperimentID cleared. An unknown ID gives ErrNotFound; an
// experiment with a queued or running run gives ErrConflict.
func (db *DB) DeleteExperiment(ctx context.Context, id int64) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
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
		return deleteByID(tx.Table(experimentTables.table), &documentRow{}, id)
	})
	return translate(fmt.Sprintf("delete experiment %d", id), err)
}
