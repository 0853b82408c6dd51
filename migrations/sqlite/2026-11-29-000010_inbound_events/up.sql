-- Inbound events (SQLite): every event a webhook (or a polling loop) receives
-- is stored here before the provider gets its answer, then processed once
-- by the inbound processor. dedupe_key is the provider's id of the event
-- (InboundEvent::dedupe_key), unique per channel, so a report arriving
-- twice is stored once. payload is the event as JSON, encrypted like
-- subscriber addresses. A claimed row stays 'pending' with lease_until in
-- the future; an expired lease makes it claimable again. outcome says what
-- processing did, error why it failed (log-safe text, no personal data).
CREATE TABLE inbound_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    channel TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at TIMESTAMP NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    processed_at TIMESTAMP,
    outcome TEXT,
    error TEXT,
    UNIQUE (channel, dedupe_key)
);
-- The queue: pending rows only, oldest first.
CREATE INDEX inbound_events_pending ON inbound_events (id) WHERE state = 'pending';
