DELETE FROM subscriber_tokens WHERE purpose = 'export';
DROP TRIGGER subscriber_tokens_on_erase;
DROP TRIGGER subscriber_tokens_on_leave;
CREATE TABLE subscriber_tokens_old (
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
INSERT INTO subscriber_tokens_old SELECT * FROM subscriber_tokens;
DROP TABLE subscriber_tokens;
ALTER TABLE subscriber_tokens_old RENAME TO subscriber_tokens;
CREATE INDEX subscriber_tokens_subscriber ON subscriber_tokens (subscriber_id, purpose);
CREATE UNIQUE INDEX subscriber_tokens_one_manage ON subscriber_tokens (subscriber_id)
    WHERE purpose = 'manage';
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
