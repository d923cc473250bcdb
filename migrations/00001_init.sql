-- Initial schema: experiments with immutable versions, runs with their status history.
--
-- Timestamps are DATETIME columns holding text that the SQLite driver
-- (github.com/glebarez/go-sqlite) writes from a time.Time as
-- "2006-01-02 15:04:05.999999999-07:00". The store always writes UTC, so the
-- text is "…+00:00", keeps nanoseconds and sorts in time order. The declared
-- type DATETIME is what makes the driver parse the text back into a time.Time,
-- which is also why these tables cannot be STRICT.

-- +goose Up
CREATE TABLE experiments (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    name        TEXT     NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT     NOT NULL DEFAULT '',
    version     INTEGER  NOT NULL CHECK (version >= 1),
    source      TEXT     NOT NULL,
    format      TEXT     NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

-- One immutable row per version of an experiment, the document kept verbatim.
CREATE TABLE experiment_versions (
    experiment_id INTEGER  NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    version       INTEGER  NOT NULL CHECK (version >= 1),
    source        TEXT     NOT NULL,
    format        TEXT     NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at    DATETIME NOT NULL,
    PRIMARY KEY (experiment_id, version)
);

-- A run names the experiment and version it ran, so its history survives the
-- experiment's deletion (experiment_id becomes NULL).
CREATE TABLE runs (
    id                 INTEGER  PRIMARY KEY AUTOINCREMENT,
    experiment_id      INTEGER  NULL REFERENCES experiments (id) ON DELETE SET NULL,
    experiment_name    TEXT     NOT NULL,
    experiment_version INTEGER  NOT NULL,
    status             TEXT     NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'interrupted', 'error')),
    reason             TEXT     NOT NULL DEFAULT '',
    verdict            TEXT     NOT NULL DEFAULT '',
    seed               INTEGER  NOT NULL,
    created_at         DATETIME NOT NULL,
    started_at         DATETIME NULL,
    ended_at           DATETIME NULL,
    report             TEXT     NULL CHECK (report IS NULL OR json_valid(report))
);

CREATE INDEX runs_experiment_id_id ON runs (experiment_id, id);
CREATE INDEX runs_status ON runs (status);

-- Every status change of a run, in order (id is the rowid, so it only grows).
CREATE TABLE run_transitions (
    id     INTEGER  PRIMARY KEY,
    run_id INTEGER  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    status TEXT     NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'interrupted', 'error')),
    reason TEXT     NOT NULL DEFAULT '',
    at     DATETIME NOT NULL
);

CREATE INDEX run_transitions_run_id_id ON run_transitions (run_id, id);

-- +goose Down
DROP TABLE run_transitions;
DROP TABLE runs;
DROP TABLE experiment_versions;
DROP TABLE experiments;
