-- Notes, version 1: the standard resource columns, then the columns List
-- filters and orders on (title; tags as "\ntag1\ntag2\n").
CREATE TABLE notes (
  {{resource_columns}},
  title TEXT NOT NULL, tags TEXT NOT NULL
);
