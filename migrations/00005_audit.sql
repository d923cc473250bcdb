-- The audit log: one row per write to the API (who, what, when, from
-- where, and how it ended). Reads are not recorded.

-- +goose Up
CREATE TABLE audit_log (
    id         {{serial}},
    at         {{timestamp}} NOT NULL,
    actor      TEXT          NOT NULL CHECK (actor <> ''),
    role       TEXT          NOT NULL DEFAULT '',
    method     TEXT          NOT NULL,
    route      TEXT          NOT NULL,
    path       TEXT          NOT NULL,
    object     TEXT          NOT NULL DEFAULT '',
    detail     TEXT          NOT NULL DEFAULT '',
    remote     TEXT          NOT NULL DEFAULT '',
    user_agent TEXT          NOT NULL DEFAULT '',
    status     INTEGER       NOT NULL
);

-- +goose Down
DROP TABLE audit_log;
