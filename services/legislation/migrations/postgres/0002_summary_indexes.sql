-- SummarizeLegislation counts adopted live documents per year and kind: an
-- index holding those columns answers it without reading the documents'
-- stored bytes (SQLite otherwise reads every row, blob and all).
CREATE INDEX documents_adoptions ON documents (delete_time, adopt_date, stage, kind);
