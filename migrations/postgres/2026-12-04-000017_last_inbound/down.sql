ALTER TABLE subscribers DROP COLUMN last_inbound_at;
