-- Initial schema: experiments with immutable versions, runs with their status history.
--
-- Like every migration, written once for SQLite and PostgreSQL: the
-- dialect tokens in double braces are explained in migrations.go. The store
-- writes every time in UTC, at the precision the database keeps
-- (nanoseconds in SQLite, microseconds in PostgreSQL). Reports are JSON,
-- kept verbatim.

-- +goose Up
CREATE TABLE experiments (
    id          {{serial}},
    name        TEXT          NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT          NOT NULL DEFAULT '',
    version     INTEGER       NOT NULL CHECK (version >= 1),
    source      TEXT          NOT NULL,
    format      TEXT          NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at  {{timestamp}} NOT NULL,
    updated_at  {{timestamp}} NOT NULL
);

-- One immutable row per version of an experiment, the document kept verbatim.
CREATE TABLE experiment_versions (
    experiment_id {{bigint}}    NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    version       INTEGER       NOT NULL CHECK (version >= 1),
    source        TEXT          NOT NULL,
    format        TEXT          NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at    {{timestamp}} NOT NULL,
    PRIMARY KEY (experiment_id, version)
);

-- A run names the experiment and version it ran, so its history survives the
-- experiment's deletion (experiment_id becomes NULL).
CREATE TABLE runs (
    id                 {{serial}},
    experiment_id      {{bigint}}    NULL REFERENCES experiments (id) ON DELETE SET NULL,
    experiment_name    TEXT          NOT NULL,
    experiment_version INTEGER       NOT NULL,
    status             TEXT          NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'interrupted', 'error')),
    reason             TEXT          NOT NULL DEFAULT '',
    verdict            TEXT          NOT NULL DEFAULT '',
    seed               {{bigint}}    NOT NULL,
    created_at         {{timestamp}} NOT NULL,
    started_at         {{timestamp}} NULL,
    ended_at           {{timestamp}} NULL,
    report             {{json}}      NULL {{sqlite: CHECK (report IS NULL OR json_valid(report))}}
);

CREATE INDEX runs_experiment_id_id ON runs (experiment_id, id);
CREATE INDEX runs_status ON runs (status);

-- Every status change of a run, in order (id only grows: SQLite's rowid,
-- PostgreSQL's identity).
CREATE TABLE run_transitions (
    id     {{rowid}},
    run_id {{bigint}}    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    status TEXT          NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'interrupted', 'error')),
    reason TEXT          NOT NULL DEFAULT '',
    at     {{timestamp}} NOT NULL
);

CREATE INDEX run_transitions_run_id_id ON run_transitions (run_id, id);

-- +goose Down
DROP TABLE run_transitions;
DROP TABLE runs;
DROP TABLE experiment_versions;
DROP TABLE experiments;
