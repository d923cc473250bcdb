-- Which server serves each environment's data plane, with several servers
-- on one database: the holder renews lease_until while it serves it, and
-- another server takes the environment over once the lease has expired.

-- +goose Up
CREATE TABLE environment_leases (
    environment_id {{bigint}}    PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    owner          TEXT          NOT NULL CHECK (owner <> ''),
    lease_until    {{timestamp}} NOT NULL
);
CREATE INDEX environment_leases_owner ON environment_leases (owner);

-- +goose Down
DROP TABLE environment_leases;
