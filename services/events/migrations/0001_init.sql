-- Events schema, version 1 (SQLite dialect; the PostgreSQL one is
-- postgres/0001_init.sql and must stay equivalent).
--
-- events: the standard resource columns ({{resource_columns}}, which the
-- store expands: see Migration in services/common/store/sql.h) plus the
-- columns ListEvents filters and orders on. start_time/end_time are
-- the effective bounds in microseconds since the epoch (exact times, or the
-- first/last microsecond of the event's days in its time zone; see
-- events_store.h). The list columns (state, participant, document, title)
-- hold "\n"-joined values (FilterFieldType::kTextList).
--
-- event_changes: the change log of the watch stream (services/common/
-- change_feed.h): one row per committed create, update or delete, seq dense
-- and in commit order.
CREATE TABLE events (
  {{resource_columns}},
  kind INTEGER NOT NULL, start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL, organizer TEXT NOT NULL,
  parent_event TEXT NOT NULL, state TEXT NOT NULL, participant TEXT NOT NULL,
  document TEXT NOT NULL, title TEXT NOT NULL
);
CREATE INDEX events_by_start ON events (start_time, name);
CREATE INDEX events_by_update ON events (update_time, name);

CREATE TABLE event_changes (
  seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL,
  data BLOB NOT NULL, commit_time INTEGER NOT NULL
);
CREATE INDEX event_changes_by_time ON event_changes (commit_time);
