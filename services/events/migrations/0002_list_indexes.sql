-- Events schema, version 2: an index in the order of ListEvents' default
-- order (start_time desc, then name), so that newest-first pages with a time
-- filter read a page's worth of rows instead of sorting every match. (The
-- version 1 index, ascending on both, cannot serve mixed directions.)
CREATE INDEX events_by_start_desc ON events (start_time DESC, name ASC);
