-- Who sent an inbound event, as the same keyed hash subscribers are found by
-- (subscribers.address_hmac), never in clear: the processor takes a
-- resident's events strictly in the order they arrived (a later one waits
-- while an earlier one is leased or waiting for a retry), and erasing a
-- resident deletes their stored events. NULL for receipts.
ALTER TABLE inbound_events ADD COLUMN sender BYTEA;
CREATE INDEX inbound_events_sender ON inbound_events (channel, sender, id) WHERE state = 'pending';
