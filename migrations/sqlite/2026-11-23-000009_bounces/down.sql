ALTER TABLE subscribers DROP COLUMN last_bounce_at;
ALTER TABLE subscribers DROP COLUMN bounces;
