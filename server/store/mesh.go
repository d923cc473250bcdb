package store

import (
	"context"
	"fmt"
	"time"
)

// Mesh change states: saved (the original is kept; the change may or may
// not have reached the cluster), applied, and the two endings — restored
// (the original is back, or a resource the run created is gone) and
// conflict (someone else changed the resource meanwhile: left as they
// made it).
const (
	MeshSaved    = "saved"
	MeshApplied  = "applied"
	MeshRestored = "restored"
	MeshConflict = "conflict"
)

// MeshChange is one resource a run on a mesh environment changes in a
// cluster, saved before the change is made.
type MeshChange struct {
	ID            int64
	EnvironmentID int64
	RunID         int64
	Namespace     string
	APIVersion    string
	Kind          string
	Name          string
	// Original is the resource as it was (JSON); empty when the run
	// created it.
	Original string
	// AppliedVersion is the resourceVersion the run's change left;
	// RestoredVersion the one putting it back left.
	AppliedVersion  string
	RestoredVersion string
	State           string
	// Detail says why a change ended as it did (a conflict's cause).
	Detail    string
	ExpiresAt time.Time
	CreatedAt time.Time
	EndedAt   *time.Time
}

func (MeshChange) TableName() string { return "mesh_changes" }

// Open reports whether the change may still be in the cluster.
func (c *MeshChange) Open() bool { return c.State == MeshSaved || c.State == MeshApplied }

// SaveMeshChange records a change before it is made, in state saved; it
// sets c.ID and c.CreatedAt.
func (db *DB) SaveMeshChange(ctx context.Context, c *MeshChange) error {
	c.ID, c.State, c.CreatedAt = 0, MeshSaved, db.clock()
	c.ExpiresAt = db.stored(c.ExpiresAt)
	if err := db.gdb.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("store: save mesh change %s %s/%s: %w", c.Kind, c.Namespace, c.Name, err)
	}
	return nil
}

// MarkMeshApplied records the resourceVersion a change left in the cluster.
func (db *DB) MarkMeshApplied(ctx context.Context, id int64, version string) error {
	return db.updateMeshChange(ctx, id, map[string]any{"state": MeshApplied, "applied_version": version})
}

// EndMeshChange records how a change ended: MeshRestored or MeshConflict,
// the resourceVersion the restore left (if any) and why.
func (db *DB) EndMeshChange(ctx context.Context, id int64, state, restoredVersion, detail string) error {
	if state != MeshRestored && state != MeshConflict {
		return fmt.Errorf("%w: mesh change state %q is not an ending", ErrInvalid, state)
	}
	return db.updateMeshChange(ctx, id, map[string]any{"state": state, "restored_version": restoredVersion, "detail": detail, "ended_at": db.clock()})
}

func (db *DB) updateMeshChange(ctx context.Context, id int64, set map[string]any) error {
	res := db.gdb.WithContext(ctx).Model(&MeshChange{}).Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("store: update mesh change %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: mesh change %d", ErrNotFound, id)
	}
	return nil
}

// OpenMeshChanges returns the changes of environment envID that may still
// be in the cluster (saved or applied), oldest first.
func (db *DB) OpenMeshChanges(ctx context.Context, envID int64) ([]MeshChange, error) {
	var out []MeshChange
	err := db.gdb.WithContext(ctx).Where("environment_id = ? AND state IN ?", envID, []string{MeshSaved, MeshApplied}).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: open mesh changes of environment %d: %w", envID, err)
	}
	return out, nil
}

// RunMeshChanges returns every change run runID made, oldest first.
func (db *DB) RunMeshChanges(ctx context.Context, runID int64) ([]MeshChange, error) {
	var out []MeshChange
	if err := db.gdb.WithContext(ctx).Where("run_id = ?", runID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: mesh changes of run %d: %w", runID, err)
	}
	return out, nil
}
