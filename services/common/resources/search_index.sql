-- Every service applies this one file as its migration NNNN_search.sql (a
-- symbolic link in its migrations/ folder), so the index is the same
-- everywhere and lives beside its code.
-- The service's full-text search (services/common/resources/search_index.h):
-- one entry per live searchable record, written in the record's own write
-- transaction. search_fts indexes title and body with the cstopa_translit
-- tokenizer (services/common/store/fts5_tokenizer.h: stems Russian and
-- English, writes every key in Latin letters so names match across
-- scripts); prefix indexes make type-ahead prefixes cheap. The triggers keep
-- it in step with search_entries (an external-content table).
-- search_state holds the index's version: a service rebuilds the index from
-- its records at start when it differs (or is missing, as right after this
-- migration on a store that already holds records).
CREATE TABLE search_entries (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  resource_type TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  hit_date INTEGER
);
CREATE VIRTUAL TABLE search_fts USING fts5(
  title, body,
  content='search_entries', content_rowid='id',
  tokenize='cstopa_translit', prefix='2 3');
CREATE TRIGGER search_fts_insert AFTER INSERT ON search_entries BEGIN
  INSERT INTO search_fts(rowid, title, body)
  VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER search_fts_delete AFTER DELETE ON search_entries BEGIN
  INSERT INTO search_fts(search_fts, rowid, title, body)
  VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER search_fts_update AFTER UPDATE ON search_entries BEGIN
  INSERT INTO search_fts(search_fts, rowid, title, body)
  VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO search_fts(rowid, title, body)
  VALUES (new.id, new.title, new.body);
END;
CREATE TABLE search_state (version INTEGER NOT NULL);
