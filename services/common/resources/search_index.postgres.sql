-- Every service applies this one file as its migration NNNN_search.sql (a
-- symbolic link in its migrations/ folder), so the index is the same
-- everywhere and lives beside its code.
-- The service's full-text search (services/common/resources/search_index.h):
-- one entry per live searchable record, written in the record's own write
-- transaction. `keys` holds the search keys the service computes
-- (services/common/text/search_text.h: stemmed Russian and English, written
-- in Latin letters so names match across scripts), title weighted A and
-- body B, in the 'simple' configuration, so that this store matches exactly
-- what SQLite's FTS5 tokenizer matches. search_state holds the index's
-- version: a service rebuilds the index from its records at start when it
-- differs (or is missing, as right after this migration).
CREATE TABLE search_entries (
  name TEXT PRIMARY KEY,
  resource_type TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  hit_date BIGINT,
  keys tsvector NOT NULL
);
CREATE INDEX search_entries_keys ON search_entries USING GIN (keys);
CREATE TABLE search_state (version BIGINT NOT NULL);
