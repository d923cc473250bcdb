package store

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
)

// schemaOf describes the tables db's migrations made, goose's own table
// left out, one line per table, key and index: each table's columns in
// order with their NOT NULL (a primary key's columns count as NOT NULL, as
// they are in both databases), its primary key, its foreign keys with their
// ON DELETE rule, its unique constraints and indexes by their columns, and
// its other indexes by name and columns.
// Column types are left out: they are each database's own.
func schemaOf(t *testing.T, db *DB) []string {
	t.Helper()
	return describeSchema(t, db, sqliteSchema, postgresSchema)
}

// describeSchema describes db's schema with sqlite or postgres, whichever
// is db's database, and returns the lines sorted.
func describeSchema(t *testing.T, db *DB, sqlite, postgres func(context.Context, *gorm.DB) ([]string, error)) []string {
	t.Helper()
	describe := sqlite
	if db.backend.name == "postgres" {
		describe = postgres
	}
	lines, err := describe(t.Context(), db.gdb)
	if err != nil {
		t.Fatalf("reading the %s schema: %v", db.backend.name, err)
	}
	slices.Sort(lines)
	return lines
}

// strings1 runs a query whose rows are one text column each.
func strings1(ctx context.Context, gdb *gorm.DB, query string, args ...any) ([]string, error) {
	var out []string
	err := gdb.WithContext(ctx).Raw(query, args...).Scan(&out).Error
	return out, err
}

func sqliteSchema(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	tables, err := strings1(ctx, gdb, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('sqlite_sequence', 'goose_db_version')")
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, table := range tables {
		var cols []struct {
			Name    string
			NotNull bool
			PK      int
		}
		err := gdb.WithContext(ctx).Raw(`SELECT name, "notnull" AS not_null, pk FROM pragma_table_info(?) ORDER BY cid`, table).Scan(&cols).Error
		if err != nil {
			return nil, err
		}
		var desc []string
		pk := map[int]string{}
		for _, c := range cols {
			d := c.Name
			if c.NotNull || c.PK > 0 {
				d += " NOT NULL"
			}
			desc = append(desc, d)
			if c.PK > 0 {
				pk[c.PK] = c.Name
			}
		}
		lines = append(lines, table+": "+strings.Join(desc, ", "))
		var pkCols []string
		for i := 1; i <= len(pk); i++ {
			pkCols = append(pkCols, pk[i])
		}
		lines = append(lines, fmt.Sprintf("%s: PRIMARY KEY (%s)", table, strings.Join(pkCols, ", ")))

		var indexes []struct {
			Name   string
			Unique bool
			Origin string
		}
		if err := gdb.WithContext(ctx).Raw(`SELECT name, "unique", origin FROM pragma_index_list(?)`, table).Scan(&indexes).Error; err != nil {
			return nil, err
		}
		var fks []struct {
			ID       int
			Seq      int
			Table    string
			From     string
			To       string
			OnDelete string
		}
		err = gdb.WithContext(ctx).Raw(`SELECT id, seq, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table).Scan(&fks).Error
		if err != nil {
			return nil, err
		}
		for _, fk := range fks {
			if fk.Seq != 0 {
				return nil, fmt.Errorf("%s: a foreign key of several columns", table) // none in this schema
			}
			lines = append(lines, fmt.Sprintf("%s: FOREIGN KEY (%s) REFERENCES %s (%s) ON DELETE %s", table, fk.From, fk.Table, fk.To, fk.OnDelete))
		}

		for _, ix := range indexes {
			if ix.Origin == "pk" {
				continue // the primary key, above
			}
			cols, err := strings1(ctx, gdb, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix.Name)
			if err != nil {
				return nil, err
			}
			lines = append(lines, indexLine(table, ix.Name, ix.Unique, cols))
		}
	}
	return lines, nil
}

func postgresSchema(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	tables, err := strings1(ctx, gdb, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'")
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, table := range tables {
		var cols []struct {
			ColumnName string
			IsNullable string
		}
		err := gdb.WithContext(ctx).Raw(`SELECT column_name, is_nullable FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, table).Scan(&cols).Error
		if err != nil {
			return nil, err
		}
		var desc []string
		for _, c := range cols {
			d := c.ColumnName
			if c.IsNullable == "NO" {
				d += " NOT NULL"
			}
			desc = append(desc, d)
		}
		lines = append(lines, table+": "+strings.Join(desc, ", "))

		var indexes []struct {
			Name    string
			Unique  bool
			Primary bool
			Columns string
		}
		err = gdb.WithContext(ctx).Raw(`SELECT i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
				(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
					JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum) AS columns
			FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
			WHERE r.relname = ? AND r.relnamespace = current_schema()::regnamespace`, table).Scan(&indexes).Error
		if err != nil {
			return nil, err
		}
		fks, err := strings1(ctx, gdb, `SELECT format('%s: FOREIGN KEY (%s) REFERENCES %s (%s) ON DELETE %s', r.relname, a.attname, f.relname, fa.attname,
				CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END)
			FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
				JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
			WHERE c.contype = 'f' AND r.relname = ? AND r.relnamespace = current_schema()::regnamespace AND cardinality(c.conkey) = 1`, table)
		if err != nil {
			return nil, err
		}
		lines = append(lines, fks...)

		for _, ix := range indexes {
			cols := strings.Split(ix.Columns, ",")
			if ix.Primary {
				lines = append(lines, fmt.Sprintf("%s: PRIMARY KEY (%s)", table, strings.Join(cols, ", ")))
				continue
			}
			lines = append(lines, indexLine(table, ix.Name, ix.Unique, cols))
		}
	}
	return lines, nil
}

// indexLine describes an index: a unique one by its columns alone (SQLite
// and PostgreSQL name the indexes of UNIQUE constraints each their own
// way), any other by its name and columns.
func indexLine(table, name string, unique bool, cols []string) string {
	if unique {
		return fmt.Sprintf("%s: UNIQUE (%s)", table, strings.Join(cols, ", "))
	}
	return fmt.Sprintf("%s: INDEX %s (%s)", table, name, strings.Join(cols, ", "))
}

// TestPostgresMigrationsMatchSQLite keeps the two expansions of the
// migrations (see package migrations) in step: after each version, applied
// to a fresh database of each kind, the schemas agree on tables, columns,
// NOT NULL, keys (primary, unique and foreign) and indexes; and both end at
// the same goose version. CHECK constraints are not compared here (SQLite
// keeps them only in the CREATE statement's text):
// TestConstraintsGiveSentinels breaks each on both, and
// TestMigrationsMakeGoldenSchema pins each database's own text of them.
func TestPostgresMigrationsMatchSQLite(t *testing.T) {
	lite, pg := openTestDB(t, sqliteDSN(t)), openTestDB(t, postgresDSN(t))
	ctx := t.Context()
	pl, err := lite.migrator()
	if err != nil {
		t.Fatal(err)
	}
	pp, err := pg.migrator()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(lite.backend.migrations, "*.sql")
	for _, p := range []*goose.Provider{pl, pp} {
		if v, err := p.GetDBVersion(ctx); err != nil || v != int64(len(files)) {
			t.Errorf("goose version after Open: %d, %v; want %d", v, err, len(files))
		}
	}
	compare := func(version int64) {
		t.Helper()
		l, p := schemaOf(t, lite), schemaOf(t, pg)
		for _, line := range l {
			if !slices.Contains(p, line) {
				t.Errorf("version %d: SQLite has %q, PostgreSQL does not", version, line)
			}
		}
		for _, line := range p {
			if !slices.Contains(l, line) {
				t.Errorf("version %d: PostgreSQL has %q, SQLite does not", version, line)
			}
		}
	}
	compare(int64(len(files)))
	if testing.Verbose() || t.Failed() {
		t.Logf("SQLite schema:\n%s", strings.Join(schemaOf(t, lite), "\n"))
		return
	}

	// Version by version, from an empty schema.
	if _, err := pl.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := pp.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= int64(len(files)); v++ {
		if _, err := pl.UpTo(ctx, v); err != nil {
			t.Fatalf("SQLite up to %d: %v", v, err)
		}
		if _, err := pp.UpTo(ctx, v); err != nil {
			t.Fatalf("PostgreSQL up to %d: %v", v, err)
		}
		compare(v)
	}
}

// update rewrites the golden schema files instead of comparing with them.
var update = flag.Bool("update", false, "rewrite migrations/testdata/schema-*.txt from what the migrations make")

// goldenSchema is the file that records, for the backend named name, what
// each migration does to the schema (see TestMigrationsMakeGoldenSchema).
// It lives with the migrations, whose output it describes.
func goldenSchema(name string) string {
	return filepath.Join("..", "..", "migrations", "testdata", "schema-"+name+".txt")
}

// TestMigrationsMakeGoldenSchema pins down, for each database, the exact
// schema every migration makes and every Down takes back: from an empty
// schema it goes up one version at a time to the last, then down one at a
// time to 0, and after each step records the schema objects that appeared
// ("+") and went ("-"). The record must equal the golden file.
//
// Unlike TestPostgresMigrationsMatchSQLite this compares everything each
// database keeps: on SQLite the text of every statement in sqlite_master
// (comments removed, runs of white space made one space), so column types,
// defaults, CHECK constraints and AUTOINCREMENT count; on PostgreSQL every
// relation with its kind, every column with its type, NOT NULL, identity and
// default, every constraint and index as pg_get_constraintdef and
// pg_get_indexdef print them, and every sequence's parameters.
func TestMigrationsMakeGoldenSchema(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := openTestDB(t, b.fresh(t))
			ctx := t.Context()
			p, err := db.migrator()
			if err != nil {
				t.Fatal(err)
			}
			last, err := p.GetDBVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down to 0: %v", err)
			}
			var record strings.Builder
			fmt.Fprintf(&record, "# What each migration does to the %s schema: the objects that appear (+)\n", b.name)
			fmt.Fprintf(&record, "# and go (-) at each step. Written by go test ./server/store -run TestMigrationsMakeGoldenSchema -update.\n")
			before := exactSchemaOf(t, db)
			if len(before) != 0 {
				t.Fatalf("schema after down to 0: %q, want it empty", before)
			}
			step := func(title string) {
				after := exactSchemaOf(t, db)
				fmt.Fprintf(&record, "\n%s\n", title)
				for _, line := range before {
					if !slices.Contains(after, line) {
						fmt.Fprintf(&record, "- %s\n", line)
					}
				}
				for _, line := range after {
					if !slices.Contains(before, line) {
						fmt.Fprintf(&record, "+ %s\n", line)
					}
				}
				before = after
			}
			for v := int64(1); v <= last; v++ {
				if _, err := p.UpTo(ctx, v); err != nil {
					t.Fatalf("up to %d: %v", v, err)
				}
				step(fmt.Sprintf("up to %d", v))
			}
			for v := last - 1; v >= 0; v-- {
				if _, err := p.DownTo(ctx, v); err != nil {
					t.Fatalf("down to %d: %v", v, err)
				}
				step(fmt.Sprintf("down to %d", v))
			}

			golden := goldenSchema(b.name)
			if *update {
				if err := os.WriteFile(golden, []byte(record.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got := record.String(); got != string(want) {
				t.Errorf("the migrations' schema differs from %s (run with -update to accept the change):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only want has ("want") and only got has ("got").
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	for _, line := range w {
		if !slices.Contains(g, line) {
			fmt.Fprintf(&out, "want %s\n", line)
		}
	}
	for _, line := range g {
		if !slices.Contains(w, line) {
			fmt.Fprintf(&out, "got  %s\n", line)
		}
	}
	return out.String()
}

// exactSchemaOf describes every object of db's schema that the migrations
// made, goose's own left out, one sorted line each, in full detail (see
// TestMigrationsMakeGoldenSchema).
func exactSchemaOf(t *testing.T, db *DB) []string {
	t.Helper()
	return describeSchema(t, db, exactSQLiteSchema, exactPostgresSchema)
}

// sqlComment is a "--" comment up to the end of its line. The schema's
// statements have no "--" inside a string literal.
var sqlComment = regexp.MustCompile(`--[^\n]*`)

func exactSQLiteSchema(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	var objects []struct {
		Type, Name, TblName string
		SQL                 sql.NullString
	}
	err := gdb.WithContext(ctx).Raw(`SELECT type, name, tbl_name, sql FROM sqlite_master
		WHERE tbl_name NOT IN ('goose_db_version', 'sqlite_sequence')`).Scan(&objects).Error
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, o := range objects {
		// An index SQLite makes for a UNIQUE or PRIMARY KEY constraint has
		// no statement of its own.
		text := "(automatic)"
		if o.SQL.Valid {
			text = strings.Join(strings.Fields(sqlComment.ReplaceAllString(o.SQL.String, "")), " ")
		}
		lines = append(lines, fmt.Sprintf("%s %s on %s: %s", o.Type, o.Name, o.TblName, text))
	}
	return lines, nil
}

func exactPostgresSchema(ctx context.Context, gdb *gorm.DB) ([]string, error) {
	// Every query lists objects of the current schema, goose's table and
	// what belongs to it (its sequence, its key's index) left out.
	const ours = `n.nspname = current_schema() AND c.relname NOT LIKE 'goose\_db\_version%'`
	queries := []string{
		`SELECT format('relation %s kind %s', c.relname, c.relkind)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + ours,
		`SELECT format('column %s #%s %s %s%s%s%s', c.relname,
				lpad((row_number() OVER (PARTITION BY c.relname ORDER BY a.attnum))::text, 2, '0'), a.attname,
				format_type(a.atttypid, a.atttypmod),
				CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
				CASE a.attidentity WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' ELSE '' END,
				COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND ` + ours,
		`SELECT format('constraint %s %s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
			FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + ours,
		`SELECT format('index %s', pg_get_indexdef(x.indexrelid))
			FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + ours,
		`SELECT format('sequence %s %s start %s increment %s min %s max %s cache %s cycle %s', c.relname,
				format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
			FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + ours,
	}
	var lines []string
	for _, q := range queries {
		l, err := strings1(ctx, gdb, q)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l...)
	}
	return lines, nil
}
