-- Events schema, version 2 (PostgreSQL dialect; see ../0002_list_indexes.sql):
-- an index in ListEvents' default order, start_time desc then name.
CREATE INDEX events_by_start_desc ON events (start_time DESC, name ASC);
