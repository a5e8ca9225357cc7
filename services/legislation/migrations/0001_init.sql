-- Legislation schema, version 1 (SQLite; the PostgreSQL dialect is
-- postgres/0001_init.sql and must stay equivalent). Every resource table has
-- the standard resource columns ({{resource_columns}}, which the store expands:
-- see Migration in services/common/store/sql.h) plus the columns that List
-- filters and orders on. Dates are YYYYMMDD integers. Lists of texts (titles,
-- topics, parties) are stored as "\nt1\nt2\n".

-- Documents. `id` is the stable rowid the full-text index refers to (an
-- INTEGER PRIMARY KEY survives VACUUM; an implicit rowid may not), so
-- `name` is unique rather than the key.
-- title, summary_text and body_text hold every language's text of the
-- field, and feed the index through the triggers below.
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  {{resource_columns name_unique}},
  kind INTEGER NOT NULL, stage INTEGER NOT NULL, topics TEXT NOT NULL,
  commission TEXT NOT NULL, adopt_date INTEGER, revision_id TEXT NOT NULL,
  title TEXT NOT NULL, summary_text TEXT NOT NULL, body_text TEXT NOT NULL
);
CREATE INDEX documents_update_time ON documents (update_time, name);
CREATE INDEX documents_kind ON documents (kind, name);
CREATE INDEX documents_stage ON documents (stage, name);
CREATE INDEX documents_commission ON documents (commission, name);
CREATE INDEX documents_adopt_date ON documents (adopt_date);

-- Full-text index over titles, summaries and texts of live documents: an
-- external-content FTS5 table (the text lives once, in `documents`), kept by
-- the triggers below; a soft delete takes the document out of the index, so
-- searches need not consult `documents` to skip deleted ones. unicode61
-- folds case in every script (Cyrillic included) and, with
-- remove_diacritics 2, accents.
CREATE VIRTUAL TABLE documents_fts USING fts5(
  title, summary_text, body_text,
  content='documents', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2');

CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents
WHEN new.delete_time IS NULL BEGIN
  INSERT INTO documents_fts(rowid, title, summary_text, body_text)
  VALUES (new.id, new.title, new.summary_text, new.body_text);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents
WHEN old.delete_time IS NULL BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, summary_text,
                            body_text)
  VALUES ('delete', old.id, old.title, old.summary_text, old.body_text);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents
WHEN old.title IS NOT new.title OR old.summary_text IS NOT new.summary_text
     OR old.body_text IS NOT new.body_text
     OR (old.delete_time IS NULL) != (new.delete_time IS NULL) BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, summary_text,
                            body_text)
  SELECT 'delete', old.id, old.title, old.summary_text, old.body_text
  WHERE old.delete_time IS NULL;
  INSERT INTO documents_fts(rowid, title, summary_text, body_text)
  SELECT new.id, new.title, new.summary_text, new.body_text
  WHERE new.delete_time IS NULL;
END;

-- Revisions: a snapshot of the document (its serialized message) each time
-- its revision_id changes, written by triggers in the same transaction as
-- the change. Never updated or deleted.
CREATE TABLE document_revisions (
  document TEXT NOT NULL, revision_id TEXT NOT NULL, data BLOB NOT NULL,
  create_time INTEGER NOT NULL,
  PRIMARY KEY (document, revision_id)
);
CREATE TRIGGER document_revisions_insert AFTER INSERT ON documents BEGIN
  INSERT OR IGNORE INTO document_revisions(document, revision_id, data,
                                           create_time)
  VALUES (new.name, new.revision_id, new.data, new.update_time);
END;
CREATE TRIGGER document_revisions_update AFTER UPDATE ON documents
WHEN old.revision_id IS NOT new.revision_id BEGIN
  INSERT OR IGNORE INTO document_revisions(document, revision_id, data,
                                           create_time)
  VALUES (new.name, new.revision_id, new.data, new.update_time);
END;

CREATE TABLE topics (
  {{resource_columns}},
  display_name TEXT NOT NULL
);
CREATE INDEX topics_update_time ON topics (update_time, name);

CREATE TABLE action_plans (
  {{resource_columns}},
  title TEXT NOT NULL, start_date INTEGER NOT NULL, end_date INTEGER NOT NULL
);
CREATE INDEX action_plans_update_time ON action_plans (update_time, name);

CREATE TABLE action_plan_items (
  {{resource_columns}},
  status INTEGER NOT NULL, document TEXT NOT NULL, commission TEXT NOT NULL,
  kind INTEGER NOT NULL, details_known INTEGER NOT NULL
);
CREATE INDEX action_plan_items_parent ON action_plan_items (parent, name);
CREATE INDEX action_plan_items_document ON action_plan_items (document);
CREATE INDEX action_plan_items_update_time
  ON action_plan_items (update_time, name);

CREATE TABLE treaties (
  {{resource_columns}},
  title TEXT NOT NULL, signing_date INTEGER NOT NULL, parties TEXT NOT NULL
);
CREATE INDEX treaties_update_time ON treaties (update_time, name);

CREATE TABLE ratifications (
  {{resource_columns}},
  state TEXT NOT NULL, status INTEGER NOT NULL, status_date INTEGER NOT NULL,
  parliament TEXT NOT NULL
);
CREATE INDEX ratifications_parent ON ratifications (parent, name);
CREATE INDEX ratifications_state ON ratifications (state, name);
CREATE INDEX ratifications_update_time ON ratifications (update_time, name);

CREATE TABLE implementations (
  {{resource_columns}},
  document TEXT NOT NULL, state TEXT NOT NULL, level INTEGER NOT NULL
);
CREATE INDEX implementations_document ON implementations (document, name);
CREATE INDEX implementations_state ON implementations (state, name);
CREATE INDEX implementations_update_time
  ON implementations (update_time, name);
