-- Monitoring schema, version 1. Every table has the standard resource columns
-- ({{resource_columns}}, which the store expands: see Migration in
-- services/common/store/sql.h) plus the columns that List filters and orders
-- on. Dates are YYYYMMDD integers: a start date holds its earliest possible day
-- (0 when unknown), an end date its latest possible day (99991231 when unknown
-- or open). Text-list columns (observer, title, contingent_state,
-- participating_state, obligation) hold "\nA\nB\n". `missions.year` is the year
-- a mission counts under in SummarizeMissions (0 when unknown).

CREATE TABLE missions (
  {{resource_columns}},
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
  {{resource_columns}},
  state TEXT NOT NULL,
  status INTEGER NOT NULL,
  contingent_state TEXT NOT NULL,
  title TEXT NOT NULL,
  start_date INTEGER NOT NULL,
  end_date INTEGER NOT NULL
);
CREATE INDEX operations_state ON operations (state, name);

CREATE TABLE regional_operations (
  {{resource_columns}},
  title TEXT NOT NULL,
  coordinating_body TEXT NOT NULL,
  participating_state TEXT NOT NULL
);

CREATE TABLE compliance_records (
  {{resource_columns}},
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
  {{resource_columns}},
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
