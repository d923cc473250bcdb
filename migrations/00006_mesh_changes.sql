-- The resources runs on mesh environments change in a cluster: each saved
-- before it is changed, so any ending (or a restart after a crash) can
-- put it back.

-- +goose Up
CREATE TABLE mesh_changes (
    id               {{serial}},
    environment_id   {{bigint}}    NOT NULL,
    run_id           {{bigint}}    NOT NULL,
    namespace        TEXT          NOT NULL CHECK (namespace <> ''),
    api_version      TEXT          NOT NULL,
    kind             TEXT          NOT NULL,
    name             TEXT          NOT NULL CHECK (name <> ''),
    original         TEXT          NOT NULL DEFAULT '',
    applied_version  TEXT          NOT NULL DEFAULT '',
    restored_version TEXT          NOT NULL DEFAULT '',
    state            TEXT          NOT NULL CHECK (state IN ('saved', 'applied', 'restored', 'conflict')),
    detail           TEXT          NOT NULL DEFAULT '',
    expires_at       {{timestamp}} NOT NULL,
    created_at       {{timestamp}} NOT NULL,
    ended_at         {{timestamp}}
);
CREATE INDEX mesh_changes_open ON mesh_changes (state, environment_id);
CREATE INDEX mesh_changes_run ON mesh_changes (run_id);

-- +goose Down
DROP TABLE mesh_changes;
