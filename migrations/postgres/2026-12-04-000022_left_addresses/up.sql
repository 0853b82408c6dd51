-- The engine's maintenance looks for residents who left and whose address
-- is still stored every few seconds (storage/retention.rs): only those are
-- in this index, so the look costs nothing however many subscribers there
-- are.
CREATE INDEX subscribers_left_with_address ON subscribers (ended_at)
    WHERE status = 'unsubscribed' AND address_ciphertext IS NOT NULL;
CREATE INDEX conversations_subscriber ON conversations (subscriber_id);
