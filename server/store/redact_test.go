package store

import "testing"

func TestRedactedHidesAPassword(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://faultline:s3cret@db:5432/faultline?sslmode=disable": "postgres://faultline:xxxxx@db:5432/faultline?sslmode=disable",
		"postgresql://faultline@db/faultline":                           "postgresql://faultline@db/faultline",
		"faultline.db":                                                  "faultline.db",
	} {
		if got := Redacted(dsn); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", dsn, got, want)
		}
	}
}
