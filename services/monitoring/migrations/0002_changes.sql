-- Monitoring schema, version 2 (SQLite; the PostgreSQL dialect is
-- postgres/0002_changes.sql): monitoring_changes, the change log of the
-- WatchMonitoring stream (services/common/store/change_feed.h). One row per
-- committed create, update or delete of any resource of the service, `seq`
-- dense and in commit order, `name` the resource's name, `data` the
-- serialized resource after the change. Changes made before this version
-- are not logged: a stream starts after.
CREATE TABLE monitoring_changes (
  seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL,
  data BLOB NOT NULL, commit_time INTEGER NOT NULL
);
-- Pruning deletes by age.
CREATE INDEX monitoring_changes_by_time ON monitoring_changes (commit_time);
