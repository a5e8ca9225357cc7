-- Monitoring schema, version 1. Every table has the standard resource
-- columns (see services/common/resource_store.h) plus the columns that List
-- filters and orders on. Dates are YYYYMMDD integers: a start date holds its
-- earliest possible day (0 when unknown), an end date its latest possible day
-- (99991231 when unknown or open). Text-list columns (observer, title,
-- contingent_state, participating_state, obligation) hold "\nA\nB\n".
-- `missions.year` is the year a mission counts under in SummarizeMissions
-- (0 when unknown).

CREATE TABLE missions (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  state TEXT NOT NULL,
  region_code TEXT NOT NULL,
  election_kind INTEGER NOT NULL,
  year INTEGER NOT NULL,
  start_date INTEGER NOT NULL,
  end_date INTEGER NOT NULL,
  observer TEXT NOT NULL
);
CREATE INDEX missions_state ON missions (state, name);
CREATE INDEX missions_year ON missions (year, name);
CREATE INDEX missions_year_desc ON missions (year DESC, name);
-- SummarizeMissions from the indexes alone: every mission in group order,
-- or one state's.
CREATE INDEX missions_summary ON missions (year, state, region_code, delete_time);
CREATE INDEX missions_state_summary ON missions (state, year, region_code, delete_time);

CREATE TABLE operations (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  state TEXT NOT NULL,
  status INTEGER NOT NULL,
  contingent_state TEXT NOT NULL,
  title TEXT NOT NULL,
  start_date INTEGER NOT NULL,
  end_date INTEGER NOT NULL
);
CREATE INDEX operations_state ON operations (state, name);

CREATE TABLE regional_operations (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  title TEXT NOT NULL,
  coordinating_body TEXT NOT NULL,
  participating_state TEXT NOT NULL
);

CREATE TABLE compliance_records (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  state TEXT NOT NULL,
  obligation TEXT NOT NULL,
  timeliness INTEGER NOT NULL,
  completeness INTEGER NOT NULL,
  assessed_by TEXT NOT NULL,
  start_date INTEGER NOT NULL,
  end_date INTEGER NOT NULL
);
CREATE INDEX compliance_records_state ON compliance_records (state, name);

CREATE TABLE field_visits (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  kind INTEGER NOT NULL,
  state TEXT NOT NULL,
  title TEXT NOT NULL,
  start_date INTEGER NOT NULL,
  end_date INTEGER NOT NULL
);

CREATE INDEX missions_update_time ON missions (update_time, name);
CREATE INDEX operations_update_time ON operations (update_time, name);
CREATE INDEX regional_operations_update_time ON regional_operations (update_time, name);
CREATE INDEX compliance_records_update_time ON compliance_records (update_time, name);
CREATE INDEX field_visits_update_time ON field_visits (update_time, name);
