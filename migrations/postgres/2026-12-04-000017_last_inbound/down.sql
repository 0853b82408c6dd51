DROP INDEX outbox_provider_message_id;
ALTER TABLE subscribers DROP COLUMN last_inbound_at;
