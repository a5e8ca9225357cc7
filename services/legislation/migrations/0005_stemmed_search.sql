-- Word forms in document search: documents_fts is made again with the
-- cstopa_stem tokenizer (services/common/store/fts5_tokenizer.h, registered
-- on every connection of the SQLite store), which indexes each word under
-- its case-folded form and its Snowball stem (Russian or English), so that
-- "терроризма" finds "терроризму" as PostgreSQL's 'russian' configuration
-- does. unicode61's remove_diacritics has no counterpart: the keys keep
-- accents, and Russian ё is the stemmer's business.
DROP TRIGGER documents_fts_insert;
DROP TRIGGER documents_fts_delete;
DROP TRIGGER documents_fts_update;
DROP TABLE documents_fts;

CREATE VIRTUAL TABLE documents_fts USING fts5(
  title, summary_text, body_text,
  content='documents', content_rowid='id',
  tokenize='cstopa_stem');

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

-- Only live documents, as the triggers keep it: 'rebuild' would index every
-- row of `documents`, soft-deleted ones included, so the live ones are
-- inserted instead (the table is new and empty).
INSERT INTO documents_fts(rowid, title, summary_text, body_text)
SELECT id, title, summary_text, body_text FROM documents
WHERE delete_time IS NULL;
