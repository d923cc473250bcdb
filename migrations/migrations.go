// Package migrations holds Faultline's versioned SQL schema, embedded in the binary.
//
// Files are in goose format (`-- +goose Up` / `-- +goose Down`) and are named
// NNNNN_description.sql; goose applies them in version order. The package
// only embeds them: server/store applies them at start-up with goose's
// Provider API. A migration that has shipped is never edited; change the
// schema by adding the next numbered file.
package migrations

import "embed"

// FS holds every migration file at its root (00001_init.sql, …), ready to be
// passed to goose.NewProvider as is.
//
//go:embed *.sql
var FS embed.FS
