-- Where polling of a channel's provider stands (Telegram's getUpdates
-- offset; an opaque cursor for others), and which process polls it. Only
-- the lease holder polls: a provider such as Telegram answers a second
-- poller with 409. The cursor is written in the same transaction as the
-- events it confirms (inbound_events), so a crash loses and repeats nothing.
CREATE TABLE inbound_cursors (
    channel TEXT PRIMARY KEY NOT NULL,
    cursor TEXT,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
