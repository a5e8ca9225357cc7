-- Monitoring schema, version 5 (PostgreSQL dialect; see
-- ../0005_source_gaps.sql for what the table holds): source_gaps.
CREATE TABLE source_gaps (
  {{resource_columns}},
  collection TEXT COLLATE "C" NOT NULL, subject TEXT COLLATE "C" NOT NULL,
  start_date BIGINT NOT NULL, end_date BIGINT NOT NULL, source TEXT COLLATE "C" NOT NULL
);
CREATE INDEX source_gaps_collection ON source_gaps (collection, name);
CREATE INDEX source_gaps_update_time ON source_gaps (update_time, name);
