-- Messages to one resident that are not announcements: replies to their
-- commands, the automatic first answer to a report, staff replies. Sent by
-- the engine's reply loop of the channel, ahead of broadcasts and inside the
-- channel's shared rate limit. Text (and, for someone who is no subscriber,
-- the address) is encrypted, and both are cleared once the message went out
-- or failed for good: the outbox keeps no personal data longer than needed.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    channel TEXT NOT NULL,
    subscriber_id BIGINT REFERENCES subscribers (id),
    address_ciphertext BLOB,
    text_ciphertext BLOB,
    locale TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    wait_settled BOOLEAN NOT NULL,
    erase_after BOOLEAN NOT NULL,
    provider_message_id TEXT,
    error TEXT,
    source TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
-- What the reply loops claim: due messages per channel, oldest first.
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at, id) WHERE state = 'queued';
-- One reply per inbound message: processing a message again (after a crash
-- between its effect and being marked done) queues nothing twice.
CREATE UNIQUE INDEX outbox_source ON outbox (channel, source) WHERE source IS NOT NULL;
-- Erasure finds a subscriber's messages.
CREATE INDEX outbox_subscriber ON outbox (subscriber_id);
