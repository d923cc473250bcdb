-- Environments: long-lived data planes at fixed addresses, stored and
-- versioned as experiments are. A run names the environment it ran on.

-- +goose Up
CREATE TABLE environments (
    id          {{serial}},
    name        TEXT          NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT          NOT NULL DEFAULT '',
    version     INTEGER       NOT NULL CHECK (version >= 1),
    source      TEXT          NOT NULL,
    format      TEXT          NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at  {{timestamp}} NOT NULL,
    updated_at  {{timestamp}} NOT NULL
);

-- One immutable row per version of an environment, the document kept verbatim.
CREATE TABLE environment_versions (
    environment_id {{bigint}}    NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version        INTEGER       NOT NULL CHECK (version >= 1),
    source         TEXT          NOT NULL,
    format         TEXT          NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at     {{timestamp}} NOT NULL,
    PRIMARY KEY (environment_id, version)
);

-- The environment a run ran on, by name ('' for a run with its own data
-- plane), and the environment version it overlaid.
ALTER TABLE runs ADD COLUMN environment TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN environment_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_environment_id ON runs (environment, id);

-- +goose Down
DROP INDEX runs_environment_id;
ALTER TABLE runs DROP COLUMN environment_version;
ALTER TABLE runs DROP COLUMN environment;
DROP TABLE environment_versions;
DROP TABLE environments;
