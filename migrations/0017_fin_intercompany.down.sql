-- 0017 fin: revert.
DROP TABLE fin.intercompany_entries;
DROP FUNCTION fin.intercompany_entries_insert();
