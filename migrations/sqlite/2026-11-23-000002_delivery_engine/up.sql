-- Delivery engine (SQLite). See docs/architecture.md, "Fan-out".
-- One row per announcement x channel: the fan-out cursor. Deliveries are
-- materialised from it in batches by workers.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    category_id BIGINT NOT NULL REFERENCES categories (id),
    channel TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    not_before TIMESTAMP NOT NULL,
    fanout_cursor BIGINT NOT NULL DEFAULT 0,
    fanout_done BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX broadcasts_once ON broadcasts (announcement_id, channel);
CREATE INDEX broadcasts_pending ON broadcasts (state, fanout_done, not_before);

ALTER TABLE deliveries ADD COLUMN broadcast_id BIGINT REFERENCES broadcasts (id);
ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN next_attempt_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until TIMESTAMP;
-- A subscriber gets each broadcast at most once, however often fan-out runs.
CREATE UNIQUE INDEX deliveries_once ON deliveries (broadcast_id, subscriber_id);
CREATE INDEX deliveries_claim ON deliveries (channel, state, priority DESC, id);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, state);

-- Token buckets per channel, shared by every worker using this database,
-- and the channel-wide pause after a 429 or a misconfiguration.
CREATE TABLE channel_limits (
    channel TEXT PRIMARY KEY NOT NULL,
    tokens DOUBLE NOT NULL,
    refilled_at TIMESTAMP NOT NULL,
    paused_until TIMESTAMP,
    held_reason TEXT
);
