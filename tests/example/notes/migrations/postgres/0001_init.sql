-- Notes, version 1 (PostgreSQL; ../0001_init.sql is the SQLite twin).
CREATE TABLE notes (
  {{resource_columns}},
  title TEXT COLLATE "C" NOT NULL, tags TEXT COLLATE "C" NOT NULL
);
