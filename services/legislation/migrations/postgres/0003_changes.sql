-- Legislation schema, version 3 (PostgreSQL dialect; see ../0003_changes.sql
-- for what the table holds): legislation_changes, the change log of the
-- WatchLegislation stream.
CREATE TABLE legislation_changes (
  seq BIGINT PRIMARY KEY, kind BIGINT NOT NULL, name TEXT COLLATE "C" NOT NULL,
  data BYTEA NOT NULL, commit_time BIGINT NOT NULL
);
CREATE INDEX legislation_changes_by_time ON legislation_changes (commit_time);
