-- Announcements due on a manual channel (`[[manual]]`: posted by staff by
-- hand, e.g. the WhatsApp Channel): one row per announcement and channel,
-- written when the announcement is published, and when and by whom it was
-- posted once staff confirm it. The parity record reads it.
CREATE TABLE manual_posts (
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    channel TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    posted_at TIMESTAMP,
    posted_by TEXT,
    PRIMARY KEY (announcement_id, channel)
);
CREATE INDEX manual_posts_pending ON manual_posts (channel, announcement_id) WHERE posted_at IS NULL;
