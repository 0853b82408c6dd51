-- Fewer, narrower indexes on deliveries, so each delivery costs few B-tree
-- writes (docs/architecture.md, "Fan-out"). Partial indexes hold only the
-- rows a query looks for: queued work, leased work, open work. A delivery
-- that is sent leaves them; `sent` rows stay only in the primary key, the
-- once-per-broadcast index and the subscriber index.
DROP INDEX deliveries_state;
DROP INDEX deliveries_provider_id;
DROP INDEX deliveries_claim;
DROP INDEX deliveries_subscriber;
-- What workers claim: queued work per channel, most urgent first.
CREATE INDEX deliveries_queued ON deliveries (channel, priority, next_attempt_at, id) WHERE state = 'queued';
-- Leases that may expire (a worker died).
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
-- Whether a broadcast still has open work.
CREATE INDEX deliveries_open ON deliveries (broadcast_id) WHERE state IN ('queued', 'sending');
-- Erasure and Stop find a subscriber's deliveries.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
-- Provider status callbacks find their delivery.
CREATE INDEX deliveries_provider_id ON deliveries (channel, provider_message_id) WHERE provider_message_id IS NOT NULL;
-- Fan-out walks a category's subscribers in id order from the cursor.
CREATE INDEX subscriptions_category ON subscriptions (category_id, subscriber_id);

-- A range of a broadcast's subscribers claimed by one worker: the batch in
-- flight. Its deliveries are written once, with their outcome, when the
-- batch is done (in the transaction that deletes the lease). A lease that
-- expires (its worker died) is turned into queued deliveries, so at most
-- this one batch is sent twice.
CREATE TABLE fanout_leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    broadcast_id BIGINT NOT NULL REFERENCES broadcasts (id),
    after_subscriber BIGINT NOT NULL,
    through_subscriber BIGINT NOT NULL,
    size INTEGER NOT NULL,
    owner TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX fanout_leases_broadcast ON fanout_leases (broadcast_id);
CREATE INDEX fanout_leases_until ON fanout_leases (lease_until);
