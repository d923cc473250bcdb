-- Game days stored on the server, their runs and fires, and the webhook
-- deliveries of their ends; step runs point at the game-day run they
-- belong to.

-- +goose Up
-- A game-day document, kept verbatim; it names experiments by their
-- stored name.
CREATE TABLE gamedays (
    id          {{serial}},
    name        TEXT          NOT NULL UNIQUE,
    description TEXT          NOT NULL DEFAULT '',
    version     INTEGER       NOT NULL,
    source      TEXT          NOT NULL,
    format      TEXT          NOT NULL CHECK (format IN ('yaml', 'json')),
    created_at  {{timestamp}} NOT NULL,
    updated_at  {{timestamp}} NOT NULL
);

-- One run of a game day: the document as it ran, how it was started, its
-- status and its report (the step reports and the summary verdict).
CREATE TABLE gameday_runs (
    id              {{serial}},
    gameday_id      {{bigint}}    NULL REFERENCES gamedays (id) ON DELETE SET NULL,
    gameday_name    TEXT          NOT NULL,
    gameday_version INTEGER       NOT NULL,
    source          TEXT          NOT NULL,
    trigger         TEXT          NOT NULL CHECK (trigger IN ('api', 'schedule')),
    status          TEXT          NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'stopped', 'interrupted', 'error')),
    reason          TEXT          NOT NULL DEFAULT '',
    verdict         TEXT          NOT NULL DEFAULT '',
    created_at      {{timestamp}} NOT NULL,
    ended_at        {{timestamp}} NULL,
    report          {{json}}      NULL {{sqlite: CHECK (report IS NULL OR json_valid(report))}}
);

CREATE INDEX gameday_runs_gameday_id_id ON gameday_runs (gameday_id, id);
CREATE INDEX gameday_runs_status ON gameday_runs (status);

-- One row per scheduled time of a game day's schedule, as schedule_fires
-- is for experiments.
CREATE TABLE gameday_fires (
    id             {{rowid}},
    gameday_id     {{bigint}}    NOT NULL REFERENCES gamedays (id) ON DELETE CASCADE,
    scheduled_for  {{timestamp}} NOT NULL,
    fired_at       {{timestamp}} NOT NULL,
    outcome        TEXT          NOT NULL CHECK (outcome IN ('ran', 'skipped', 'refused', 'error')),
    reason         TEXT          NOT NULL DEFAULT '',
    gameday_run_id {{bigint}}    NULL REFERENCES gameday_runs (id) ON DELETE SET NULL,
    UNIQUE (gameday_id, scheduled_for)
);

-- Every webhook delivery of a game-day run's end.
CREATE TABLE webhook_deliveries (
    id             {{rowid}},
    gameday_run_id {{bigint}}    NOT NULL REFERENCES gameday_runs (id) ON DELETE CASCADE,
    event          TEXT          NOT NULL,
    url            TEXT          NOT NULL,
    status_code    INTEGER       NOT NULL DEFAULT 0,
    attempts       INTEGER       NOT NULL,
    error          TEXT          NOT NULL DEFAULT '',
    delivered_at   {{timestamp}} NOT NULL
);

-- A run started by a game-day step names the game-day run and the step.
ALTER TABLE runs ADD COLUMN gameday_run_id {{bigint}} NULL REFERENCES gameday_runs (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN gameday_step TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_gameday_run_id ON runs (gameday_run_id);

-- +goose Down
DROP INDEX runs_gameday_run_id;
ALTER TABLE runs DROP COLUMN gameday_step;
ALTER TABLE runs DROP COLUMN gameday_run_id;
DROP TABLE webhook_deliveries;
DROP TABLE gameday_fires;
DROP TABLE gameday_runs;
DROP TABLE gamedays;
