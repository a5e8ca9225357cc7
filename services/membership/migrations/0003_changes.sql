-- membership_changes: the change log of WatchMembership (services/common/
-- store/change_feed.h): one row per committed create, update, delete or seed
-- insert of any membership record, seq dense and in commit order. Records
-- written before this migration have no row: a stream starts from now.
CREATE TABLE membership_changes (
  seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL,
  data BLOB NOT NULL, commit_time INTEGER NOT NULL
);
CREATE INDEX membership_changes_by_time ON membership_changes (commit_time);
