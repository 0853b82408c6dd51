//! What makes a Stop final: the engine skips recipients who left since
//! their batch was claimed, and a Stop is confirmed only once nothing sent
//! to that resident is still in flight.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashSet;

use crate::{
    domain::{DeliveryState, Id},
    storage::{
        schema::{broadcasts, deliveries, fanout_leases, subscribers},
        time, with_conn, Database, StorageError,
    },
};

impl Database {
    /// The subscribers among `ids` who are no longer active (unsubscribed,
    /// erased): the engine asks right before a batch's sends start, so a
    /// Stop committed after the claim still keeps the message back. One
    /// range query over the partial index `subscribers_inactive` (only those
    /// who left are in it; the status is a literal so the planner can use
    /// it), however many ids: a batch's recipients are mostly one range of
    /// ids, and an id list of a thousand parameters cost about 1 µs per
    /// delivery (docs/benchmarks.md).
    pub fn inactive_among(&self, ids: &[Id]) -> Result<HashSet<Id>, StorageError> {
        let (Some(lo), Some(hi)) = (ids.iter().min().copied(), ids.iter().max().copied()) else {
            return Ok(HashSet::new());
        };
        let rows: Vec<i64> = with_conn!(self, |c| subscribers::table
            .filter(subscribers::id.between(lo, hi))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "subscribers.status <> 'active'"
            ))
            .select(subscribers::id)
            .load(c)?);
        let wanted: HashSet<Id> = ids.iter().copied().collect();
        Ok(rows.into_iter().filter(|id| wanted.contains(id)).collect())
    }

    /// Whether a delivery to the subscriber may still be in flight at
    /// `now`: a delivery row `sending` under a live lease (retried work), or
    /// a live fan-out lease of a broadcast on the subscriber's channel whose
    /// range covers them (fresh work, whose row is written only when its
    /// batch finishes and deletes the lease). The range test does not look
    /// at categories (a Stop has deleted the subscriptions already), so it
    /// may also wait for a batch that does not include the subscriber.
    /// Expired leases count as abandoned: maintenance reclaims them.
    pub fn delivery_in_flight(
        &self,
        subscriber_id: Id,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let now = time::to_db(now);
        let busy = with_conn!(self, |c| {
            let rows: i64 = deliveries::table
                .filter(deliveries::subscriber_id.eq(subscriber_id))
                .filter(deliveries::state.eq(DeliveryState::Sending.as_str()))
                .filter(deliveries::lease_until.ge(now))
                .count()
                .get_result(c)?;
            if rows > 0 {
                true
            } else {
                let channel: Option<String> = subscribers::table
                    .find(subscriber_id)
                    .select(subscribers::channel)
                    .first(c)
                    .optional()?;
                match channel {
                    None => false,
                    Some(channel) => {
                        let leases: i64 = fanout_leases::table
                            .inner_join(broadcasts::table)
                            .filter(broadcasts::channel.eq(channel))
                            .filter(fanout_leases::after_subscriber.lt(subscriber_id))
                            .filter(fanout_leases::through_subscriber.ge(subscriber_id))
                            .filter(fanout_leases::lease_until.ge(now))
                            .count()
                            .get_result(c)?;
                        leases > 0
                    }
                }
            }
        });
        Ok(busy)
    }
}
