-- When the provider took the message (the delivery became `sent`): the
-- parity report compares channels by it. Later receipts change updated_at,
-- not this.
ALTER TABLE deliveries ADD COLUMN sent_at TIMESTAMP;
