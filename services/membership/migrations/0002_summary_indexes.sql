-- SummarizeState finds a state's persons and parliaments (and through them
-- its delegations and posts) by their `state` column.
CREATE INDEX persons_state ON persons (state, name);
CREATE INDEX parliaments_state ON parliaments (state, name);
