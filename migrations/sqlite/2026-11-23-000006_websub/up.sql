-- WebSub (SQLite): Herold is the hub of its own feeds. A subscription is a
-- verified (topic, callback) pair with a lease; its secret is encrypted like
-- subscriber addresses. content_mark is the state of the topic the
-- subscriber last heard about: when the feed's announcements change, the
-- mark changes and one distribution is queued.
CREATE TABLE websub_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    topic TEXT NOT NULL,
    callback TEXT NOT NULL,
    secret_ciphertext BLOB,
    content_mark TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (topic, callback)
);
CREATE INDEX websub_subscriptions_expires ON websub_subscriptions (expires_at);

-- Pending content distributions: at most one per subscription (only the
-- latest content matters; the feed is rendered when it is sent). A change
-- while one is pending bumps its generation, so a send that started before
-- the change is followed by another.
CREATE TABLE websub_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscription_id BIGINT NOT NULL UNIQUE REFERENCES websub_subscriptions (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX websub_deliveries_due ON websub_deliveries (next_attempt_at);
