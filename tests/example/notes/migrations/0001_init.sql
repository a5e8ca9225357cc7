-- Notes, version 1: the standard resource columns, then the columns List
-- filters and orders on (title; tags as "\ntag1\ntag2\n").
CREATE TABLE notes (
  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT NULL,
  etag TEXT NOT NULL, revision INTEGER NOT NULL,
  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
  delete_time INTEGER,
  title TEXT NOT NULL, tags TEXT NOT NULL
);
