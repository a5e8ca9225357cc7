-- Notes, version 1 (PostgreSQL; ../0001_init.sql is the SQLite twin).
CREATE TABLE notes (
  name TEXT COLLATE "C" PRIMARY KEY, parent TEXT COLLATE "C" NOT NULL,
  data BYTEA NOT NULL, etag TEXT COLLATE "C" NOT NULL, revision BIGINT NOT NULL,
  create_time BIGINT NOT NULL, update_time BIGINT NOT NULL,
  delete_time BIGINT,
  title TEXT COLLATE "C" NOT NULL, tags TEXT COLLATE "C" NOT NULL
);
