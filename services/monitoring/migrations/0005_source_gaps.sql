-- Monitoring schema, version 5 (SQLite; the PostgreSQL dialect is
-- postgres/0005_source_gaps.sql and must stay equivalent): source_gaps, what
-- the sources leave unknown (`sourceGaps/{source_gap}`), with the columns
-- ListSourceGaps filters and orders on. `collection` is the collection ID the
-- gap concerns ("missions"); `subject` and `source` are lists stored as
-- "\nA\nB\n"; `start_date` and `end_date` are YYYYMMDD of the period's
-- earliest and latest day. SummarizeMissions reads the live gaps of
-- "missions" by `collection`.
CREATE TABLE source_gaps (
  {{resource_columns}},
  collection TEXT NOT NULL, subject TEXT NOT NULL,
  start_date INTEGER NOT NULL, end_date INTEGER NOT NULL, source TEXT NOT NULL
);
CREATE INDEX source_gaps_collection ON source_gaps (collection, name);
CREATE INDEX source_gaps_update_time ON source_gaps (update_time, name);
