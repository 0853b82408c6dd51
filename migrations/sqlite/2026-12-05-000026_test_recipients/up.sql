-- An editor's own subscriptions, for test sends from the composer. A
-- subscription is linked by its pseudonym and confirmed with a code Herold
-- sends to it (so only its owner can link it); only the code's keyed hash
-- is stored.
CREATE TABLE staff_test_recipients (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    staff_user_id BIGINT NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    code_hash BLOB NULL,
    confirmed_at TIMESTAMP NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (staff_user_id, subscriber_id)
);
