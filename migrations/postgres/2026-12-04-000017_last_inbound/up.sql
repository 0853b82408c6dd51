-- When the resident last wrote to Herold on their channel: WhatsApp allows
-- free text only within 24 hours of it (the customer-service window) and a
-- template otherwise. Updated by the inbound processor; NULL: never.
ALTER TABLE subscribers ADD COLUMN last_inbound_at TIMESTAMP;
-- Statuses of replies (sent from the outbox) are recognised as known, so
-- only receipts for messages not recorded yet are waited for.
CREATE INDEX outbox_provider_message_id ON outbox (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
