//! Bounces: permanent delivery failures counted per subscriber, so that an
//! address that keeps refusing mail stops being sent to.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    error::OrNotFound,
    schema::{deliveries, subscribers},
    time, with_write_tx, Database, StorageError,
};
use crate::domain::{DeliveryState, Id};

/// States that show a delivery reached the recipient's provider.
const REACHED: [DeliveryState; 3] = [
    DeliveryState::Sent,
    DeliveryState::Delivered,
    DeliveryState::Read,
];

impl Database {
    /// Counts a permanent failure of a delivery to `subscriber_id` at `now`
    /// and returns how many happened in a row: a delivery that reached the
    /// subscriber after the previous bounce starts the count anew. Runs only
    /// when a send failed permanently, so the hot path stays untouched.
    pub fn record_bounce(
        &self,
        subscriber_id: Id,
        now: DateTime<Utc>,
    ) -> Result<u32, StorageError> {
        let now = time::to_db(now);
        let reached: Vec<&str> = REACHED.iter().map(|s| s.as_str()).collect();
        let count: i32 = with_write_tx!(self, |c| {
            let (bounces, last): (i32, Option<chrono::NaiveDateTime>) = subscribers::table
                .find(subscriber_id)
                .select((subscribers::bounces, subscribers::last_bounce_at))
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {subscriber_id}"))?;
            let reached_since = match last {
                None => true,
                Some(last) => diesel::select(diesel::dsl::exists(
                    deliveries::table
                        .filter(deliveries::subscriber_id.eq(subscriber_id))
                        .filter(deliveries::state.eq_any(&reached))
                        .filter(deliveries::updated_at.gt(last)),
                ))
                .get_result(c)?,
            };
            let count = if reached_since {
                1
            } else {
                bounces.saturating_add(1)
            };
            diesel::update(subscribers::table.find(subscriber_id))
                .set((
                    subscribers::bounces.eq(count),
                    subscribers::last_bounce_at.eq(Some(now)),
                ))
                .execute(c)?;
            Ok::<_, StorageError>(count)
        })?;
        Ok(u32::try_from(count).unwrap_or(0))
    }

    /// Permanent failures in a row of `subscriber_id` (0 after a success
    /// or a new confirmation), and when the last one happened.
    pub fn bounces_of(
        &self,
        subscriber_id: Id,
    ) -> Result<(u32, Option<DateTime<Utc>>), StorageError> {
        let (n, last): (i32, Option<chrono::NaiveDateTime>) =
            super::with_conn!(self, |c| subscribers::table
                .find(subscriber_id)
                .select((subscribers::bounces, subscribers::last_bounce_at))
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {subscriber_id}")))?;
        Ok((u32::try_from(n).unwrap_or(0), time::from_db_opt(last)))
    }
}
