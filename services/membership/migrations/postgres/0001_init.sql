-- Membership schema, version 1 (PostgreSQL dialect; the SQLite one is
-- ../0001_init.sql and must stay equivalent). Text columns use the "C"
-- collation (as {{resource_columns}}'s do) so that ordering, and so keyset
-- pages, match SQLite byte for byte. Every table has the standard resource
-- columns ({{resource_columns}}, which the store expands: see Migration in
-- services/common/store/sql.h) plus the columns that List filters and orders
-- on. Dates are YYYYMMDD integers: a start date holds its earliest possible day
-- (0 when unknown), an end date its latest possible day (99991231 while
-- open-ended), so "as of" tests need no NULL handling.

CREATE TABLE states (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, region_code TEXT COLLATE "C" NOT NULL
);

CREATE TABLE parliaments (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL
);

CREATE TABLE delegations (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, assembly TEXT COLLATE "C" NOT NULL
);
CREATE INDEX delegations_parent ON delegations (parent, name);

CREATE TABLE persons (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL
);

CREATE TABLE roles (
  {{resource_columns}},
  person TEXT COLLATE "C" NOT NULL, organization TEXT COLLATE "C" NOT NULL, chamber_id TEXT COLLATE "C" NOT NULL,
  role_type BIGINT NOT NULL, start_date BIGINT NOT NULL,
  end_date BIGINT NOT NULL
);
CREATE INDEX roles_person ON roles (person, name);
CREATE INDEX roles_organization ON roles (organization, name);
CREATE INDEX roles_period ON roles (start_date, end_date);

CREATE TABLE bodies (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, kind BIGINT NOT NULL, parent_body TEXT COLLATE "C" NOT NULL
);

CREATE TABLE partners (
  {{resource_columns}},
  display_name TEXT COLLATE "C" NOT NULL, kind BIGINT NOT NULL,
  organization_type BIGINT NOT NULL, region_code TEXT COLLATE "C" NOT NULL
);

CREATE INDEX states_update_time ON states (update_time, name);
CREATE INDEX parliaments_update_time ON parliaments (update_time, name);
CREATE INDEX delegations_update_time ON delegations (update_time, name);
CREATE INDEX persons_update_time ON persons (update_time, name);
CREATE INDEX roles_update_time ON roles (update_time, name);
CREATE INDEX bodies_update_time ON bodies (update_time, name);
CREATE INDEX partners_update_time ON partners (update_time, name);
