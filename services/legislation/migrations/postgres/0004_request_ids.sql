-- Legislation schema, version 4 (PostgreSQL dialect; see ../0004_request_ids.sql
-- for what the table holds): request_ids, the request IDs of creates.
CREATE TABLE request_ids (
  request_id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL,
  request_digest TEXT NOT NULL, create_time BIGINT NOT NULL
);
