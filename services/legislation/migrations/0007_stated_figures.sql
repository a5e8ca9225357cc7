-- Legislation schema, version 7 (SQLite; the PostgreSQL dialect is
-- postgres/0007_stated_figures.sql and must stay equivalent): stated_figures,
-- aggregates as a source states them (`statedFigures/{stated_figure}`), with
-- the columns ListStatedFigures filters and orders on. `subject`, `topics`
-- and `source` are lists stored as "\nt1\nt2\n"; `start_date` and
-- `end_date` are YYYYMMDD (0 and 99991231 for bounds not stated).
CREATE TABLE stated_figures (
  {{resource_columns}},
  subject TEXT NOT NULL, kind INTEGER NOT NULL, topics TEXT NOT NULL,
  value INTEGER NOT NULL, qualifier INTEGER NOT NULL,
  start_date INTEGER NOT NULL, end_date INTEGER NOT NULL, source TEXT NOT NULL
);
CREATE INDEX stated_figures_update_time ON stated_figures (update_time, name);
