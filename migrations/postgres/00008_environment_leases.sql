-- Which server serves each environment's data plane, with several servers
-- on one database: the holder renews lease_until while it serves it, and
-- another server takes the environment over once the lease has expired
-- (PostgreSQL's twin of ../00008_environment_leases.sql).

-- +goose Up
CREATE TABLE environment_leases (
    environment_id bigint      PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    owner          text        NOT NULL CHECK (owner <> ''),
    lease_until    timestamptz NOT NULL
);
CREATE INDEX environment_leases_owner ON environment_leases (owner);

-- +goose Down
DROP TABLE environment_leases;
