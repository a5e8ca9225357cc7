-- Membership schema, version 4 (SQLite; the PostgreSQL dialect is
-- postgres/0004_request_ids.sql): request_ids, the request IDs of creates
-- (AIP-155; services/common/resources/resource.h). One row per create that
-- carried a `request_id` and committed: the resource it created and a
-- digest of the request, so that a retry of the same request answers that
-- resource instead of ALREADY_EXISTS. Rows are kept as long as the
-- resource (never pruned).
CREATE TABLE request_ids (
  request_id TEXT PRIMARY KEY, name TEXT NOT NULL,
  request_digest TEXT NOT NULL, create_time INTEGER NOT NULL
);
