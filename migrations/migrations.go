// Package migrations holds Faultline's versioned SQL schema, embedded in the binary.
//
// Files are in goose format (`-- +goose Up` / `-- +goose Down`) and are named
// NNNNN_description.sql; goose applies them in version order. The package
// only embeds them: server/store applies them at start-up with goose's
// Provider API. A migration that has shipped is never edited; change the
// schema by adding the next numbered file.
//
// There are two sets, one per database the store runs on: the SQLite set
// at the root of the directory and the PostgreSQL set in postgres/. They go
// in step: each SQLite migration has a PostgreSQL twin of the same name that
// makes the same tables, columns, NOT NULL constraints, keys and indexes in
// PostgreSQL's types, so that both databases end at the same goose version
// with the same schema. A schema change adds the next file to both
// (server/store's tests compare the schemas the two sets make, version by
// version).
package migrations

import (
	"embed"
	"io/fs"
)

// FS holds every SQLite migration file at its root (00001_init.sql, …), ready
// to be passed to goose.NewProvider as is.
//
//go:embed *.sql
var FS embed.FS

//go:embed postgres/*.sql
var postgres embed.FS

// Postgres holds every PostgreSQL migration file at its root
// (00001_init.sql, …: the twins of FS's files), ready to be passed to
// goose.NewProvider as is.
var Postgres fs.FS = sub(postgres, "postgres")

// sub returns the subtree of fsys at dir, which must exist.
func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // only for an invalid dir, which the embed above rules out
	}
	return s
}
