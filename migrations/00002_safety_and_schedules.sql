-- The safety lever's history and the fires of experiment schedules.

-- +goose Up
-- Every engage and release of the safety lever, in order; the last row is
-- the current state.
CREATE TABLE lever_events (
    id      {{rowid}},
    engaged {{bool}}      NOT NULL {{sqlite: CHECK (engaged IN (0, 1))}},
    reason  TEXT          NOT NULL DEFAULT '',
    actor   TEXT          NOT NULL DEFAULT '',
    at      {{timestamp}} NOT NULL
);

-- One row per scheduled time of an experiment's schedule: the unique key is
-- what keeps a schedule from firing twice for the same time, across
-- restarts too. The latest scheduled_for is the experiment's last fire.
CREATE TABLE schedule_fires (
    id            {{rowid}},
    experiment_id {{bigint}}    NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    scheduled_for {{timestamp}} NOT NULL,
    fired_at      {{timestamp}} NOT NULL,
    outcome       TEXT          NOT NULL CHECK (outcome IN ('ran', 'skipped', 'refused', 'error')),
    reason        TEXT          NOT NULL DEFAULT '',
    run_id        {{bigint}}    NULL REFERENCES runs (id) ON DELETE SET NULL,
    UNIQUE (experiment_id, scheduled_for)
);

-- +goose Down
DROP TABLE schedule_fires;
DROP TABLE lever_events;
