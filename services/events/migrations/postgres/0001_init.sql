-- Events schema, version 1 (PostgreSQL dialect; the SQLite one is
-- ../0001_init.sql and must stay equivalent). Text columns use the "C"
-- collation (as {{resource_columns}}'s do) so that ordering, and so keyset
-- pages, match SQLite byte for byte. See ../0001_init.sql for what the columns hold.
CREATE TABLE events (
  {{resource_columns}},
  kind BIGINT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT NOT NULL,
  organizer TEXT COLLATE "C" NOT NULL, parent_event TEXT COLLATE "C" NOT NULL,
  state TEXT COLLATE "C" NOT NULL, participant TEXT COLLATE "C" NOT NULL,
  document TEXT COLLATE "C" NOT NULL, title TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_by_start ON events (start_time, name);
CREATE INDEX events_by_update ON events (update_time, name);

CREATE TABLE event_changes (
  seq BIGINT PRIMARY KEY, kind BIGINT NOT NULL, name TEXT COLLATE "C" NOT NULL,
  data BYTEA NOT NULL, commit_time BIGINT NOT NULL
);
CREATE INDEX event_changes_by_time ON event_changes (commit_time);
