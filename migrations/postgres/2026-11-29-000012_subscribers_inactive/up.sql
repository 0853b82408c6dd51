-- The engine asks, right before each batch's sends, which of its recipients
-- left since the claim (Stop is final). Only those rows are in this index, so
-- the question costs a lookup over the few who left, not over the batch.
CREATE INDEX subscribers_inactive ON subscribers (id) WHERE status <> 'active';
