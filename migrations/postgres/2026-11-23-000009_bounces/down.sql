ALTER TABLE subscribers DROP COLUMN last_bounce_at, DROP COLUMN bounces;
