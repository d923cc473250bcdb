package migrations

import (
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// checkGooseFiles checks what goose relies on without importing it (this
// package stays stdlib-only): names carry a contiguous version number, and
// each file has an Up section followed by a Down section. Applying them to a
// real database is tested in server/store. It returns the file names.
func checkGooseFiles(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no migrations embedded")
	}
	nameRE := regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)
	for i, name := range names { // fs.Glob returns names sorted
		m := nameRE.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s: name does not match %s", name, nameRE)
			continue
		}
		if got, want := m[1], strconv.Itoa(i+1); strings.TrimLeft(got, "0") != want {
			t.Errorf("%s: version %s, want %s (versions must be contiguous)", name, got, want)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		up, down := strings.Index(src, "\n-- +goose Up\n"), strings.Index(src, "\n-- +goose Down\n")
		if up < 0 || down < 0 || down < up {
			t.Errorf("%s: want a \"-- +goose Up\" line followed by a \"-- +goose Down\" line", name)
		}
	}
	return names
}

func TestFilesAreGooseMigrations(t *testing.T) {
	checkGooseFiles(t, FS)
}

func TestPostgresFilesAreGooseMigrations(t *testing.T) {
	checkGooseFiles(t, Postgres)
}

// TestEverySQLiteMigrationHasAPostgresTwin: the two sets go in step, file
// for file, so that both databases end at the same goose version. That the
// twins make the same schema is tested in server/store.
func TestEverySQLiteMigrationHasAPostgresTwin(t *testing.T) {
	sqlite, _ := fs.Glob(FS, "*.sql")
	postgres, _ := fs.Glob(Postgres, "*.sql")
	if !slices.Equal(sqlite, postgres) {
		t.Errorf("SQLite migrations %v, PostgreSQL migrations %v; want the same names", sqlite, postgres)
	}
}
