-- Legislation schema, version 1 (PostgreSQL dialect; the SQLite one is
-- ../0001_init.sql and must stay equivalent). Text columns use the "C"
-- collation (as {{resource_columns}}'s do) so that ordering, and so keyset
-- pages, match SQLite byte for byte. Every resource table has the standard
-- resource columns ({{resource_columns}}, which the store expands: see
-- Migration in services/common/store/sql.h) plus the columns that List filters
-- and orders on. Dates are YYYYMMDD integers. Lists of texts (titles, topics,
-- parties) are stored as "\nt1\nt2\n".

-- Documents. search_tsv is the full-text index: every field's text under
-- the 'russian' configuration (which stems Russian words with the Russian
-- Snowball stemmer and ASCII words with the English one, so it serves both
-- languages) and the 'simple' one (so any word, stop words included, also
-- matches itself), weighted A for titles, B for summaries, C for texts; a
-- GIN index serves the @@ searches. Texts are lower-cased with the ICU root
-- collation first: the text-search parser folds case by the database's
-- LC_CTYPE, which under the C locale folds only ASCII (so "Закон" would not
-- match "закон").
CREATE TABLE documents (
  {{resource_columns}},
  kind BIGINT NOT NULL, stage BIGINT NOT NULL, topics TEXT COLLATE "C" NOT NULL,
  commission TEXT COLLATE "C" NOT NULL, adopt_date BIGINT, revision_id TEXT COLLATE "C" NOT NULL,
  title TEXT COLLATE "C" NOT NULL, summary_text TEXT COLLATE "C" NOT NULL, body_text TEXT COLLATE "C" NOT NULL,
  search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('russian'::regconfig, lower(title COLLATE "und-x-icu")), 'A') ||
    setweight(to_tsvector('simple'::regconfig, lower(title COLLATE "und-x-icu")), 'A') ||
    setweight(to_tsvector('russian'::regconfig, lower(summary_text COLLATE "und-x-icu")), 'B') ||
    setweight(to_tsvector('simple'::regconfig, lower(summary_text COLLATE "und-x-icu")), 'B') ||
    setweight(to_tsvector('russian'::regconfig, lower(body_text COLLATE "und-x-icu")), 'C') ||
    setweight(to_tsvector('simple'::regconfig, lower(body_text COLLATE "und-x-icu")), 'C')) STORED
);
CREATE INDEX documents_update_time ON documents (update_time, name);
CREATE INDEX documents_kind ON documents (kind, name);
CREATE INDEX documents_stage ON documents (stage, name);
CREATE INDEX documents_commission ON documents (commission, name);
CREATE INDEX documents_adopt_date ON documents (adopt_date);
CREATE INDEX documents_search ON documents USING GIN (search_tsv);

-- Revisions: a snapshot of the document (its serialized message) each time
-- its revision_id changes, written by a trigger in the same transaction as
-- the change. Never updated or deleted.
CREATE TABLE document_revisions (
  document TEXT COLLATE "C" NOT NULL, revision_id TEXT COLLATE "C" NOT NULL,
  data BYTEA NOT NULL, create_time BIGINT NOT NULL,
  PRIMARY KEY (document, revision_id)
);
CREATE FUNCTION document_revisions_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR OLD.revision_id IS DISTINCT FROM NEW.revision_id THEN
    INSERT INTO document_revisions(document, revision_id, data, create_time)
    VALUES (NEW.name, NEW.revision_id, NEW.data, NEW.update_time)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER document_revisions_record AFTER INSERT OR UPDATE ON documents
FOR EACH ROW EXECUTE FUNCTION document_revisions_record();

CREATE TABLE topics (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL
);
CREATE INDEX topics_update_time ON topics (update_time, name);

CREATE TABLE action_plans (
  {{resource_columns}},
  title TEXT COLLATE "C" NOT NULL, start_date BIGINT NOT NULL, end_date BIGINT NOT NULL
);
CREATE INDEX action_plans_update_time ON action_plans (update_time, name);

CREATE TABLE action_plan_items (
  {{resource_columns}},
  status BIGINT NOT NULL, document TEXT COLLATE "C" NOT NULL, commission TEXT COLLATE "C" NOT NULL,
  kind BIGINT NOT NULL, details_known BIGINT NOT NULL
);
CREATE INDEX action_plan_items_parent ON action_plan_items (parent, name);
CREATE INDEX action_plan_items_document ON action_plan_items (document);
CREATE INDEX action_plan_items_update_time
  ON action_plan_items (update_time, name);

CREATE TABLE treaties (
  {{resource_columns}},
  title TEXT COLLATE "C" NOT NULL, signing_date BIGINT NOT NULL, parties TEXT COLLATE "C" NOT NULL
);
CREATE INDEX treaties_update_time ON treaties (update_time, name);

CREATE TABLE ratifications (
  {{resource_columns}},
  state TEXT COLLATE "C" NOT NULL, status BIGINT NOT NULL, status_date BIGINT NOT NULL,
  parliament TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ratifications_parent ON ratifications (parent, name);
CREATE INDEX ratifications_state ON ratifications (state, name);
CREATE INDEX ratifications_update_time ON ratifications (update_time, name);

CREATE TABLE implementations (
  {{resource_columns}},
  document TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL, level BIGINT NOT NULL
);
CREATE INDEX implementations_document ON implementations (document, name);
CREATE INDEX implementations_state ON implementations (state, name);
CREATE INDEX implementations_update_time
  ON implementations (update_time, name);
