//! Recording what happened to a claimed batch, and closing broadcasts
//! whose work is done.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Text, Timestamp},
};
use std::collections::BTreeMap;

use super::{Claim, Claimed};
use crate::{
    domain::{DeliveryState, Id},
    storage::{
        schema::{deliveries, fanout_leases},
        time, Database, Pool, StorageError,
    },
};

/// What happened to one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted it.
    Sent { provider_message_id: Option<String> },
    /// Try again at `at`. `counts` is false when the provider throttled the
    /// channel or the channel is held: such attempts do not use up the cap.
    Retry {
        at: DateTime<Utc>,
        error: String,
        counts: bool,
    },
    /// Gave up on this delivery.
    Failed { error: String },
    /// The provider refused it for good because of the recipient (a
    /// bounce): the delivery fails and the bounce is counted. With
    /// `recipient_gone` the address no longer exists or blocked us.
    Bounced { error: String, recipient_gone: bool },
    /// Not sent because the subscriber left in the meantime.
    Skipped,
}

impl Outcome {
    fn state(&self) -> DeliveryState {
        match self {
            Outcome::Sent { .. } => DeliveryState::Sent,
            Outcome::Retry { .. } => DeliveryState::Queued,
            Outcome::Failed { .. } | Outcome::Bounced { .. } => DeliveryState::Failed,
            Outcome::Skipped => DeliveryState::Skipped,
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Outcome::Retry { error, .. }
            | Outcome::Failed { error }
            | Outcome::Bounced { error, .. } => Some(error),
            Outcome::Sent { .. } | Outcome::Skipped => None,
        }
    }
}

/// One fresh delivery row as a JSON array, for a set-based insert:
/// `[subscriber, state, attempts, provider id, last error, next attempt]`.
fn fresh_row(item: &Claimed, outcome: &Outcome) -> serde_json::Value {
    let (attempts, next) = match outcome {
        Outcome::Retry { at, counts, .. } => (
            i32::from(*counts),
            Some(time::to_db(*at).format(time::SQL_FORMAT).to_string()),
        ),
        _ => (1, None),
    };
    let pid = match outcome {
        Outcome::Sent {
            provider_message_id,
        } => provider_message_id.as_deref(),
        _ => None,
    };
    serde_json::json!([
        item.subscriber_id,
        outcome.state().as_str(),
        attempts,
        pid,
        outcome.error(),
        next
    ])
}

/// Writes a broadcast's fresh deliveries that were sent without a
/// provider message id (the common case): a flat JSON array of subscriber
/// ids, read without per-field extraction.
const SENT_SQLITE: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, created_at, updated_at, broadcast_id, priority, next_attempt_at, sent_at) \
     SELECT b.announcement_id, b.channel, j.value, 'sent', 1, ?1, ?1, b.id, b.priority, ?1, ?1 \
     FROM broadcasts b, json_each(?3) j WHERE b.id = ?2";

const SENT_PG: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, created_at, updated_at, broadcast_id, priority, next_attempt_at, sent_at) \
     SELECT b.announcement_id, b.channel, j.value::bigint, 'sent', 1, $1, $1, b.id, b.priority, $1, $1 \
     FROM broadcasts b, jsonb_array_elements_text(CAST($3 AS jsonb)) AS j(value) WHERE b.id = $2";

/// Writes a broadcast's other fresh deliveries with their outcomes in one
/// statement (the rows are built inside the database from a JSON array,
/// instead of binding a dozen parameters per row).
const FRESH_SQLITE: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, provider_message_id, last_error, created_at, updated_at, broadcast_id, \
     priority, next_attempt_at, sent_at) \
     SELECT b.announcement_id, b.channel, j.value ->> 0, j.value ->> 1, j.value ->> 2, \
       j.value ->> 3, j.value ->> 4, ?1, ?1, b.id, b.priority, COALESCE(j.value ->> 5, ?1), \
       CASE WHEN j.value ->> 1 = 'sent' THEN ?1 END \
     FROM broadcasts b, json_each(?3) j WHERE b.id = ?2";

const FRESH_PG: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, provider_message_id, last_error, created_at, updated_at, broadcast_id, \
     priority, next_attempt_at, sent_at) \
     SELECT b.announcement_id, b.channel, (j.value ->> 0)::bigint, j.value ->> 1, \
       (j.value ->> 2)::integer, j.value ->> 3, j.value ->> 4, $1, $1, b.id, b.priority, \
       COALESCE((j.value ->> 5)::timestamp, $1), CASE WHEN j.value ->> 1 = 'sent' THEN $1 END \
     FROM broadcasts b, jsonb_array_elements(CAST($3 AS jsonb)) AS j(value) WHERE b.id = $2";

/// Records the outcome of a delivery row that existed before the claim
/// (retried or reclaimed work), if it is still `sending`. Evaluates to the
/// bounce, if any.
macro_rules! record_retried {
    ($c:expr, $id:expr, $outcome:expr, $now:expr) => {{
        let target = deliveries::table
            .find($id)
            .filter(deliveries::state.eq(DeliveryState::Sending.as_str()));
        let released = (
            deliveries::lease_owner.eq(None::<String>),
            deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
            deliveries::updated_at.eq($now),
        );
        let mut bounce: Option<Bounce> = None;
        match $outcome {
            Outcome::Sent {
                provider_message_id,
            } => {
                diesel::update(target)
                    .set((
                        deliveries::state.eq(DeliveryState::Sent.as_str()),
                        deliveries::sent_at.eq(Some($now)),
                        deliveries::provider_message_id.eq(provider_message_id),
                        released,
                    ))
                    .execute($c)?;
            }
            Outcome::Retry { at, error, counts } => {
                diesel::update(target)
                    .set((
                        deliveries::state.eq(DeliveryState::Queued.as_str()),
                        deliveries::next_attempt_at.eq(time::to_db(*at)),
                        deliveries::last_error.eq(Some(error)),
                        deliveries::attempts.eq(deliveries::attempts - i32::from(!*counts)),
                        released,
                    ))
                    .execute($c)?;
            }
            Outcome::Failed { error } | Outcome::Bounced { error, .. } => {
                let changed = diesel::update(target)
                    .set((
                        deliveries::state.eq(DeliveryState::Failed.as_str()),
                        deliveries::last_error.eq(Some(error)),
                        released,
                    ))
                    .returning(deliveries::subscriber_id)
                    .get_results::<Option<i64>>($c)?;
                if let Outcome::Bounced {
                    recipient_gone,
                    error,
                } = $outcome
                {
                    bounce = changed
                        .into_iter()
                        .flatten()
                        .next()
                        .map(|subscriber_id| Bounce {
                            subscriber_id,
                            recipient_gone: *recipient_gone,
                            reason: error.clone(),
                        });
                }
            }
            Outcome::Skipped => {
                diesel::update(target)
                    .set((
                        deliveries::state.eq(DeliveryState::Skipped.as_str()),
                        released,
                    ))
                    .execute($c)?;
            }
        }
        bounce
    }};
}

/// A delivery that bounced, to be counted against its subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    pub subscriber_id: Id,
    /// The address no longer exists or blocked us.
    pub recipient_gone: bool,
    /// The provider's answer, log-safe (e.g. "the resident blocked the bot").
    pub reason: String,
}

impl Database {
    /// Records the outcomes of a claimed batch (`outcomes[i]` belongs to
    /// `claim.items[i]`) in one transaction, and releases its fan-out
    /// leases. Fresh recipients get their delivery row now, in its final
    /// state; rows of retried work change only while still `sending`, so a
    /// late report cannot undo a later state. Returns the bounces, to be
    /// counted against their subscribers.
    pub fn finish_deliveries(
        &self,
        claim: &Claim,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Bounce>, StorageError> {
        if outcomes.len() != claim.items.len() {
            return Err(StorageError::Refused(format!(
                "{} outcomes for {} claimed deliveries",
                outcomes.len(),
                claim.items.len()
            )));
        }
        let now = time::to_db(now);
        let mut bounces: Vec<Bounce> = claim
            .items
            .iter()
            .zip(outcomes)
            .filter(|(i, _)| i.delivery_id.is_none())
            .filter_map(|(i, o)| match o {
                Outcome::Bounced {
                    recipient_gone,
                    error,
                } => Some(Bounce {
                    subscriber_id: i.subscriber_id?,
                    recipient_gone: *recipient_gone,
                    reason: error.clone(),
                }),
                _ => None,
            })
            .collect();
        // Fresh work per broadcast, as one JSON array each.
        let mut fresh: BTreeMap<Id, Vec<(&Claimed, &Outcome)>> = BTreeMap::new();
        for (item, outcome) in claim.items.iter().zip(outcomes) {
            if item.delivery_id.is_none() {
                fresh
                    .entry(item.broadcast_id)
                    .or_default()
                    .push((item, outcome));
            }
        }
        let lease_ids: Vec<Id> = claim.fanout_leases.iter().map(|l| l.id).collect();
        macro_rules! body {
            ($c:expr, $sent_sql:expr, $fresh_sql:expr) => {{
                // A lease that is gone expired and was reclaimed: its
                // recipients are queued rows by now, and are updated below.
                let kept: Vec<i64> = diesel::delete(
                    fanout_leases::table.filter(fanout_leases::id.eq_any(&lease_ids)),
                )
                .returning(fanout_leases::id)
                .get_results($c)?;
                for (broadcast, items) in &fresh {
                    let leased = claim
                        .fanout_leases
                        .iter()
                        .any(|l| l.broadcast_id == *broadcast && kept.contains(&l.id));
                    if leased {
                        let (plain, other): (Vec<_>, Vec<_>) = items.iter().partition(|(_, o)| {
                            matches!(
                                o,
                                Outcome::Sent {
                                    provider_message_id: None
                                }
                            )
                        });
                        if !plain.is_empty() {
                            let ids: Vec<Option<Id>> =
                                plain.iter().map(|(i, _)| i.subscriber_id).collect();
                            diesel::sql_query($sent_sql)
                                .bind::<Timestamp, _>(now)
                                .bind::<BigInt, _>(*broadcast)
                                .bind::<Text, _>(
                                    serde_json::to_string(&ids)
                                        .map_err(|e| StorageError::Refused(e.to_string()))?,
                                )
                                .execute($c)?;
                        }
                        if !other.is_empty() {
                            let rows: Vec<serde_json::Value> =
                                other.iter().map(|(i, o)| fresh_row(i, o)).collect();
                            diesel::sql_query($fresh_sql)
                                .bind::<Timestamp, _>(now)
                                .bind::<BigInt, _>(*broadcast)
                                .bind::<Text, _>(serde_json::Value::Array(rows).to_string())
                                .execute($c)?;
                        }
                    } else {
                        for (item, outcome) in items {
                            if let Outcome::Sent {
                                provider_message_id,
                            } = outcome
                            {
                                diesel::update(
                                    deliveries::table
                                        .filter(deliveries::broadcast_id.eq(Some(*broadcast)))
                                        .filter(deliveries::subscriber_id.eq(item.subscriber_id))
                                        .filter(
                                            deliveries::state.eq(DeliveryState::Queued.as_str()),
                                        ),
                                )
                                .set((
                                    deliveries::state.eq(DeliveryState::Sent.as_str()),
                                    deliveries::provider_message_id.eq(provider_message_id),
                                    deliveries::updated_at.eq(now),
                                ))
                                .execute($c)?;
                            }
                        }
                    }
                }
                for (item, outcome) in claim.items.iter().zip(outcomes) {
                    if let Some(id) = item.delivery_id {
                        bounces.extend(record_retried!($c, id, outcome, now));
                    }
                }
                Ok::<_, StorageError>(())
            }};
        }
        match self.pool() {
            Pool::Sqlite(p) => p
                .get()?
                .immediate_transaction(|c| body!(c, SENT_SQLITE, FRESH_SQLITE))?,
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(|c| body!(c, SENT_PG, FRESH_PG))?
            }
        }
        Ok(bounces)
    }

    /// Marks broadcasts done whose fan-out is complete, with no lease out
    /// and no delivery left in the queue. Returns how many.
    pub fn complete_broadcasts(&self, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let now = time::to_db(now);
        Ok(match self.pool() {
            Pool::Sqlite(p) => diesel::sql_query(COMPLETE_SQLITE)
                .bind::<Timestamp, _>(now)
                .execute(&mut *p.get()?)?,
            Pool::Postgres(p) => diesel::sql_query(COMPLETE_PG)
                .bind::<Timestamp, _>(now)
                .execute(&mut *p.get()?)?,
        })
    }
}

const COMPLETE_SQLITE: &str = "UPDATE broadcasts SET state = 'done', updated_at = ?1 \
     WHERE state = 'active' AND fanout_done = TRUE \
     AND NOT EXISTS (SELECT 1 FROM fanout_leases l WHERE l.broadcast_id = broadcasts.id) \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.broadcast_id = broadcasts.id \
      AND d.state IN ('queued', 'sending'))";

const COMPLETE_PG: &str = "UPDATE broadcasts SET state = 'done', updated_at = $1 \
     WHERE state = 'active' AND fanout_done = TRUE \
     AND NOT EXISTS (SELECT 1 FROM fanout_leases l WHERE l.broadcast_id = broadcasts.id) \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.broadcast_id = broadcasts.id \
      AND d.state IN ('queued', 'sending'))";
