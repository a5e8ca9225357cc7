-- Monitoring schema, version 2 (PostgreSQL dialect; see ../0002_changes.sql
-- for what the table holds): monitoring_changes, the change log of the
-- WatchMonitoring stream.
CREATE TABLE monitoring_changes (
  seq BIGINT PRIMARY KEY, kind BIGINT NOT NULL, name TEXT COLLATE "C" NOT NULL,
  data BYTEA NOT NULL, commit_time BIGINT NOT NULL
);
CREATE INDEX monitoring_changes_by_time ON monitoring_changes (commit_time);
