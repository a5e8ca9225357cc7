-- Nothing to do on PostgreSQL: search_tsv (0001_init.sql) already indexes
-- every text under the 'russian' configuration (Snowball's stems) and the
-- 'simple' one. The SQLite twin gives documents_fts stems of its own.
SELECT 1;
