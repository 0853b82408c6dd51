-- Tokens in the links mailed to e-mail subscribers (SQLite). Kept
-- column-for-column in step with migrations/postgres.
--
-- purpose 'confirm': double opt-in; expires, single use (used_at).
-- purpose 'manage': one per subscriber, no expiry; the same link goes into
--   every newsletter, so the token is also kept encrypted with the keyring
--   (token_ciphertext); used_at is the last time it was used.
-- token_hash is the keyring's keyed hash of the token: the table alone
-- cannot be used to forge or recognise a link. mailed_at is when a sign-up
-- request last caused a mail with this token (throttling).
CREATE TABLE subscriber_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'manage')),
    token_hash BLOB NOT NULL UNIQUE,
    token_ciphertext BLOB,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    used_at TIMESTAMP,
    mailed_at TIMESTAMP
);
CREATE INDEX subscriber_tokens_subscriber ON subscriber_tokens (subscriber_id, purpose);
CREATE UNIQUE INDEX subscriber_tokens_one_manage ON subscriber_tokens (subscriber_id)
    WHERE purpose = 'manage';

-- Whatever code erases a subscriber, their links stop working; whatever
-- code ends a subscription, outstanding confirmation links die with it.
CREATE TRIGGER subscriber_tokens_on_erase
AFTER UPDATE OF status ON subscribers
WHEN NEW.status = 'erased'
BEGIN
    DELETE FROM subscriber_tokens WHERE subscriber_id = NEW.id;
END;
CREATE TRIGGER subscriber_tokens_on_leave
AFTER UPDATE OF status ON subscribers
WHEN NEW.status = 'unsubscribed'
BEGIN
    DELETE FROM subscriber_tokens WHERE subscriber_id = NEW.id AND purpose = 'confirm';
END;
