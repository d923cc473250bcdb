package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Environment is a stored environment: its source document (the
// Environment and its baseline resources), kept verbatim, versioned as
// experiments are.
type Environment = Document

// EnvironmentVersion is one immutable version of an environment's
// document; OwnerID is the environment's ID.
type EnvironmentVersion = DocumentVersion

// CreateEnvironment stores e as a new environment at version 1. It sets
// e.ID, e.Version and the timestamps. A name in use gives ErrConflict.
func (db *DB) CreateEnvironment(ctx context.Context, e *Environment) error {
	return environmentTables.create(ctx, db, e)
}

// UpdateEnvironment makes e's document the next version of environment
// e.ID and sets e.Version and the timestamps. An unknown ID gives
// ErrNotFound; a name another environment uses gives ErrConflict. An
// environment that is renamed keeps its runs under its old name.
func (db *DB) UpdateEnvironment(ctx context.Context, e *Environment) error {
	return environmentTables.update(ctx, db, e)
}

// GetEnvironment returns the environment with the given ID, or ErrNotFound.
func (db *DB) GetEnvironment(ctx context.Context, id int64) (*Environment, error) {
	return environmentTables.get(ctx, db, "id", id)
}

// GetEnvironmentByName returns the environment with the given name, or
// ErrNotFound.
func (db *DB) GetEnvironmentByName(ctx context.Context, name string) (*Environment, error) {
	return environmentTables.get(ctx, db, "name", name)
}

// GetEnvironmentVersion returns one version of an environment's document,
// or ErrNotFound.
func (db *DB) GetEnvironmentVersion(ctx context.Context, id int64, version int) (*EnvironmentVersion, error) {
	return environmentTables.version(ctx, db, id, version)
}

// ListEnvironments returns one page of environments in ID order (oldest
// first), with their current source, and their number in all.
func (db *DB) ListEnvironments(ctx context.Context, p Page) ([]Environment, int64, error) {
	return environmentTables.list(ctx, db, p)
}

// DeleteEnvironment deletes an environment and its versions; its runs
// keep its name. An unknown ID gives ErrNotFound; an environment with a
// queued or running run gives ErrConflict.
func (db *DB) DeleteEnvironment(ctx context.Context, id int64) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
		var name string
		if err := tx.Table(environmentTables.table).Select("name").Where("id = ?", id).Take(&name).Error; err != nil {
			return err
		}
		var active int64
		err := tx.Model(&runRow{}).Where("environment = ? AND status IN ?", name, activeStatuses).Count(&active).Error
		if err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("%d run(s) queued or running on it: %w", active, ErrConflict)
		}
		return deleteByID(tx.Table(environmentTables.table), &documentRow{}, id)
	})
	return translate(fmt.Sprintf("delete environment %d", id), err)
}
