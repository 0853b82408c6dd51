-- Permanent delivery failures (bounces) per subscriber: how many in a row,
-- and when the last one was. A delivery that succeeds after the last
-- bounce starts the count anew; reaching the configured limit ends the
-- subscription.
ALTER TABLE subscribers ADD COLUMN bounces INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscribers ADD COLUMN last_bounce_at TIMESTAMP;
