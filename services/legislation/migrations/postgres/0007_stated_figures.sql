-- Legislation schema, version 7 (PostgreSQL dialect; see
-- ../0007_stated_figures.sql for what the table holds): stated_figures.
CREATE TABLE stated_figures (
  {{resource_columns}},
  subject TEXT COLLATE "C" NOT NULL, kind BIGINT NOT NULL, topics TEXT COLLATE "C" NOT NULL,
  value BIGINT NOT NULL, qualifier BIGINT NOT NULL,
  start_date BIGINT NOT NULL, end_date BIGINT NOT NULL, source TEXT COLLATE "C" NOT NULL
);
CREATE INDEX stated_figures_update_time ON stated_figures (update_time, name);
