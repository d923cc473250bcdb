-- Leases of runs and game-day runs: the server that executes one (owner,
-- a random identity per process) renews lease_until while it runs, so
-- that with several servers on one database a survivor can tell a run
-- whose server died (lease_until passed) from one still running
-- elsewhere. Rows from before this migration have no owner and no lease.

-- +goose Up
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_until {{timestamp}} NULL;
ALTER TABLE gameday_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE gameday_runs ADD COLUMN lease_until {{timestamp}} NULL;
CREATE INDEX runs_owner ON runs (owner, status);
CREATE INDEX gameday_runs_owner ON gameday_runs (owner, status);

-- +goose Down
DROP INDEX gameday_runs_owner;
DROP INDEX runs_owner;
ALTER TABLE gameday_runs DROP COLUMN lease_until;
ALTER TABLE gameday_runs DROP COLUMN owner;
ALTER TABLE runs DROP COLUMN lease_until;
ALTER TABLE runs DROP COLUMN owner;
