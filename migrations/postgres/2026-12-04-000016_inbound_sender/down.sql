DROP INDEX inbound_events_sender;
ALTER TABLE inbound_events DROP COLUMN sender;
