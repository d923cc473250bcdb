package store

import (
	"testing"
	"time"
)

func TestMeshChangesFromSavedToEnded(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		expires := time.Date(2026, 11, 26, 1, 2, 3, 456789123, time.FixedZone("CET", 3600))
		var changes []*MeshChange
		for i, name := range []string{"reviews", "ratings", "details"} {
			c := &MeshChange{EnvironmentID: 1 + int64(i/2), RunID: 7, Namespace: "shop", APIVersion: "networking.istio.io/v1",
				Kind: "VirtualService", Name: name, Original: `{"kind":"VirtualService"}`, ExpiresAt: expires}
			if err := db.SaveMeshChange(ctx, c); err != nil {
				t.Fatalf("SaveMeshChange: %v", err)
			}
			if c.ID == 0 || c.State != MeshSaved || c.CreatedAt.IsZero() || c.ExpiresAt != db.stored(expires) {
				t.Fatalf("saved change: %+v", c)
			}
			changes = append(changes, c)
		}
		if err := db.MarkMeshApplied(ctx, changes[0].ID, "1001"); err != nil {
			t.Fatal(err)
		}
		if err := db.EndMeshChange(ctx, changes[1].ID, MeshConflict, "", "changed by someone else"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "an ending that is not one", db.EndMeshChange(ctx, changes[0].ID, MeshApplied, "", ""), ErrInvalid)
		wantErr(t, "an unknown change", db.MarkMeshApplied(ctx, 999, "1"), ErrNotFound)

		open, err := db.OpenMeshChanges(ctx, 1)
		if err != nil || len(open) != 1 || open[0].ID != changes[0].ID || open[0].State != MeshApplied || open[0].AppliedVersion != "1001" {
			t.Fatalf("open changes of environment 1: %+v, %v; want the applied one", open, err)
		}
		if got, want := open[0], *changes[0]; got.CreatedAt != want.CreatedAt || got.ExpiresAt != want.ExpiresAt || got.EndedAt != nil || got.Original != want.Original {
			t.Errorf("read back %+v, saved %+v", got, want)
		}
		all, err := db.RunMeshChanges(ctx, 7)
		if err != nil || len(all) != 3 {
			t.Fatalf("changes of run 7: %+v, %v", all, err)
		}
		if c := all[1]; c.State != MeshConflict || c.Detail != "changed by someone else" || c.EndedAt == nil || c.EndedAt.Location() != time.UTC || c.Open() {
			t.Errorf("ended change: %+v", c)
		}
	})
}
