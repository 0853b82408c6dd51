-- Foundation schema (SQLite). Kept column-for-column in step with
-- migrations/postgres; tests/schema_parity.rs checks that.
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE announcements (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    category_id BIGINT NOT NULL REFERENCES categories (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    urgent BOOLEAN NOT NULL DEFAULT 0,
    publish_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP,
    corrects_id BIGINT REFERENCES announcements (id),
    author TEXT NOT NULL
);
CREATE INDEX announcements_publish_at ON announcements (publish_at);
CREATE INDEX announcements_category ON announcements (category_id, publish_at);

-- Published content never changes: corrections are new announcements.
CREATE TRIGGER announcements_immutable
BEFORE UPDATE OF category_id, title, body, urgent, publish_at, created_at, corrects_id, author ON announcements
BEGIN
    SELECT RAISE(ABORT, 'announcement content is immutable; publish a correction instead');
END;
CREATE TRIGGER announcements_no_delete
BEFORE DELETE ON announcements
BEGIN
    SELECT RAISE(ABORT, 'announcements are never deleted; cancel or correct them');
END;

CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    channel TEXT NOT NULL,
    address_ciphertext BLOB,
    address_hmac BLOB,
    pseudonym TEXT UNIQUE,
    locale TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    ended_at TIMESTAMP
);
CREATE UNIQUE INDEX subscribers_lookup ON subscribers (channel, address_hmac);

CREATE TABLE subscriptions (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    category_id BIGINT NOT NULL REFERENCES categories (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subscriber_id, category_id)
);

CREATE TABLE consent_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    pseudonym TEXT,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    categories TEXT NOT NULL,
    wording_version TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    evidence TEXT
);
CREATE INDEX consent_events_subscriber ON consent_events (subscriber_id);
-- The ledger is append-only; the only change allowed is anonymisation.
CREATE TRIGGER consent_events_append_only
BEFORE UPDATE OF channel, kind, categories, wording_version, occurred_at ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consent_events_no_delete
BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    channel TEXT NOT NULL,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    target TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_state ON deliveries (state, channel);
CREATE INDEX deliveries_provider_id ON deliveries (channel, provider_message_id);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    text_ciphertext BLOB,
    media_ref TEXT,
    provider_message_id TEXT,
    staff_user_id BIGINT REFERENCES staff_users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE TRIGGER audit_events_append_only
BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_events_no_delete
BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
