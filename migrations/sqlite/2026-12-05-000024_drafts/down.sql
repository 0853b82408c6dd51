DROP TABLE drafts;
ALTER TABLE categories DROP COLUMN requires_approval;
