//! What makes a Stop final: the engine skips recipients who left since
//! their batch was claimed, and a Stop is confirmed only once nothing sent
//! to that resident is still in flight.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashSet;

use crate::{
    domain::{DeliveryState, Id, SubscriberStatus},
    storage::{
        schema::{broadcasts, deliveries, fanout_leases, subscribers},
        time, with_conn, Database, StorageError,
    },
};

/// Subscribers checked per statement.
const CHUNK: usize = 1000;

impl Database {
    /// The subscribers among `ids` who are no longer active (unsubscribed,
    /// erased): the engine asks right before a batch's sends start, so a
    /// Stop committed after the claim still keeps the message back. One
    /// primary-key lookup per 1,000 ids.
    pub fn inactive_among(&self, ids: &[Id]) -> Result<HashSet<Id>, StorageError> {
        let mut out = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let rows: Vec<i64> = with_conn!(self, |c| subscribers::table
                .filter(subscribers::id.eq_any(chunk))
                .filter(subscribers::status.ne(SubscriberStatus::Active.as_str()))
                .select(subscribers::id)
                .load(c)?);
            out.extend(rows);
        }
        Ok(out)
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
