package store

import (
	"slices"
	"strconv"
	"testing"
)

func TestAuditLogIsNewestFirstAndKeepsTheNewest(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openTestDB(t, dsn)
		ctx := t.Context()
		for i, actor := range []string{"alice", "bob", "carol", "dave"} {
			e := &AuditEntry{Actor: actor, Role: "admin", Method: "POST", Route: "/api/v1/experiments", Path: "/api/v1/experiments",
				Object: "experiments/" + strconv.Itoa(i+1), Remote: "127.0.0.1:5000", Status: 201}
			if err := db.RecordAudit(ctx, e, 3); err != nil {
				t.Fatal(err)
			}
			if e.ID == 0 || e.At.IsZero() {
				t.Errorf("recorded entry = %+v, want its ID and time set", e)
			}
		}
		got, total, err := db.ListAudit(ctx, Page{})
		if err != nil {
			t.Fatal(err)
		}
		// keep 3: alice's entry, the oldest, is gone.
		if total != 3 || len(got) != 3 {
			t.Fatalf("total %d, %d entries; want 3", total, len(got))
		}
		for i, want := range []string{"dave", "carol", "bob"} {
			if got[i].Actor != want {
				t.Errorf("entry %d by %q, want %q (newest first)", i, got[i].Actor, want)
			}
		}
		if e := got[0]; e.Object != "experiments/4" || e.Status != 201 || e.Remote != "127.0.0.1:5000" || e.Role != "admin" {
			t.Errorf("newest entry = %+v", e)
		}
		wantErr(t, "an entry without an actor", db.RecordAudit(ctx, &AuditEntry{Method: "POST"}, 0), ErrInvalid)

		// IDs with a gap among the newest (here carol's entry, deleted; a
		// PostgreSQL sequence leaves gaps of its own): keep still counts
		// entries, not IDs.
		if err := db.gdb.WithContext(ctx).Exec("DELETE FROM audit_log WHERE actor = ?", "carol").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.RecordAudit(ctx, &AuditEntry{Actor: "erin", Method: "POST", Status: 201}, 3); err != nil {
			t.Fatal(err)
		}
		got, _, err = db.ListAudit(ctx, Page{})
		var actors []string
		for _, e := range got {
			actors = append(actors, e.Actor)
		}
		if want := []string{"erin", "dave", "bob"}; err != nil || !slices.Equal(actors, want) {
			t.Errorf("after a gap, keep 3: %v, %v; want %v", actors, err, want)
		}
	})
}
