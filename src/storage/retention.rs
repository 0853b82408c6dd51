//! Deleting personal data whose retention period is over. Each function
//! takes the cut-off (`before`): what is older goes. Large deletions run in
//! batches of [`BATCH`] rows, each its own transaction, so neither backend
//! holds a long write lock while broadcasts run.

use chrono::{DateTime, Utc};
use diesel::{
    dsl::{exists, not},
    prelude::*,
};

use super::{
    schema::{
        audit_events, conversations, deliveries, inbound_events, meta, outbox, subscriber_tokens,
        subscribers,
    },
    time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::{ConversationStatus, DeliveryState, ErasureRecord, SubscriberStatus};

/// Rows deleted per transaction.
const BATCH: i64 = 2_000;

/// Runs `batch` (one transaction deleting at most [`BATCH`] rows) until
/// it deletes fewer; returns the total.
fn in_batches(
    mut batch: impl FnMut() -> Result<usize, StorageError>,
) -> Result<usize, StorageError> {
    let mut total = 0;
    loop {
        let n = batch()?;
        total += n;
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Delivery states that no longer change.
const FINAL_DELIVERY: [DeliveryState; 5] = [
    DeliveryState::Sent,
    DeliveryState::Delivered,
    DeliveryState::Read,
    DeliveryState::Failed,
    DeliveryState::Skipped,
];

/// Detaches the consent events of the subscribers `$ids` from them: the
/// subscriber reference and the evidence go, the pseudonym too unless
/// `$record` is [`ErasureRecord::Pseudonymous`] — the one update the
/// ledger's triggers allow. A macro for the same reason as `with_conn!`.
macro_rules! anonymise_ledger {
    ($c:expr, $ids:expr, $record:expr) => {{
        use $crate::storage::schema::consent_events as ce;
        let ids: &[i64] = $ids;
        let rows = ce::table.filter(ce::subscriber_id.eq_any(ids));
        match $record {
            $crate::domain::ErasureRecord::Anonymous => diesel::update(rows)
                .set((
                    ce::subscriber_id.eq(None::<i64>),
                    ce::pseudonym.eq(None::<String>),
                    ce::evidence.eq(None::<String>),
                ))
                .execute($c)?,
            $crate::domain::ErasureRecord::Pseudonymous => diesel::update(rows)
                .set((
                    ce::subscriber_id.eq(None::<i64>),
                    ce::evidence.eq(None::<String>),
                ))
                .execute($c)?,
        }
    }};
}
pub(super) use anonymise_ledger;

impl Database {
    /// A daily job's turn, kept under `key` in `meta` as an RFC 3339 time:
    /// when it is due at `now`, moves it to `next` and returns true — with
    /// a compare-and-set, so of several processes only one gets the turn.
    /// Unscheduled, it is scheduled for `next` (false).
    pub fn claim_schedule(
        &self,
        key: &str,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let next = next.to_rfc3339();
        // Asked every few seconds by every process: reads, and writes only
        // when something is to be done (a compare-and-set needs no lock).
        with_conn!(self, |c| {
            let stored: Option<String> = meta::table
                .filter(meta::key.eq(key))
                .select(meta::value)
                .first(c)
                .optional()?;
            let Some(stored) = stored else {
                diesel::insert_into(meta::table)
                    .values((meta::key.eq(key), meta::value.eq(&next)))
                    .on_conflict_do_nothing()
                    .execute(c)?;
                return Ok(false);
            };
            let due = DateTime::parse_from_rfc3339(&stored).map_or(true, |t| t <= now);
            if !due {
                return Ok(false);
            }
            let claimed = diesel::update(
                meta::table
                    .filter(meta::key.eq(key))
                    .filter(meta::value.eq(&stored)),
            )
            .set(meta::value.eq(&next))
            .execute(c)?;
            Ok(claimed == 1)
        })
    }

    /// Deletes the address (not its keyed hash, which suppression needs) of
    /// residents who left before `before`, once nothing is waiting to be
    /// sent to them, no report of theirs is open and no confirmation link
    /// of a new sign-up is valid at `now`. Returns how many.
    pub fn forget_left_addresses(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StorageError> {
        let (before, now) = (time::to_db(before), time::to_db(now));
        // The residents whose address may go; a macro so the same query
        // runs on either connection type.
        macro_rules! due {
            ($c:expr) => {
                subscribers::table
                    .filter(subscribers::status.eq(SubscriberStatus::Unsubscribed.as_str()))
                    .filter(subscribers::address_ciphertext.is_not_null())
                    .filter(subscribers::ended_at.lt(before))
                    .filter(not(exists(
                        outbox::table
                            .filter(outbox::subscriber_id.eq(subscribers::id.nullable()))
                            .filter(outbox::state.eq_any(["queued", "sending"])),
                    )))
                    .filter(not(exists(
                        conversations::table
                            .filter(conversations::subscriber_id.eq(subscribers::id.nullable()))
                            .filter(conversations::status.ne(ConversationStatus::Closed.as_str())),
                    )))
                    .filter(not(exists(
                        subscriber_tokens::table
                            .filter(subscriber_tokens::subscriber_id.eq(subscribers::id))
                            .filter(subscriber_tokens::purpose.eq("confirm"))
                            .filter(subscriber_tokens::used_at.is_null())
                            .filter(subscriber_tokens::expires_at.gt(now)),
                    )))
                    .select(subscribers::id)
                    .limit(BATCH)
                    .load::<i64>($c)?
            };
        }
        // Run every few seconds by the engine: a read first, a write
        // transaction only when an address is due (checked again inside).
        let any = with_conn!(self, |c| !due!(c).is_empty());
        if !any {
            return Ok(0);
        }
        with_write_tx!(self, |c| {
            let ids = due!(c);
            if ids.is_empty() {
                return Ok(0);
            }
            Ok(
                diesel::update(subscribers::table.filter(subscribers::id.eq_any(&ids)))
                    .set(subscribers::address_ciphertext.eq(None::<Vec<u8>>))
                    .execute(c)?,
            )
        })
    }

    /// Deletes e-mail sign-ups never confirmed whose last confirmation link
    /// expired before `before`: the subscriber, their topics and links go;
    /// their consent events are kept in the form `record` says (the ledger
    /// is append-only apart from this anonymisation). Returns how many.
    pub fn delete_unconfirmed(
        &self,
        before: DateTime<Utc>,
        record: ErasureRecord,
    ) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        in_batches(|| {
            with_write_tx!(self, |c| {
                let ids: Vec<i64> = subscribers::table
                    .filter(subscribers::status.eq(SubscriberStatus::Pending.as_str()))
                    .filter(subscribers::created_at.lt(before))
                    .filter(not(exists(
                        subscriber_tokens::table
                            .filter(subscriber_tokens::subscriber_id.eq(subscribers::id))
                            .filter(subscriber_tokens::purpose.eq("confirm"))
                            .filter(
                                subscriber_tokens::expires_at
                                    .is_null()
                                    .or(subscriber_tokens::expires_at.ge(before)),
                            ),
                    )))
                    .select(subscribers::id)
                    .limit(BATCH)
                    .load(c)?;
                if ids.is_empty() {
                    return Ok(0);
                }
                anonymise_ledger!(c, &ids, record);
                diesel::delete(outbox::table.filter(outbox::subscriber_id.eq_any(&ids)))
                    .execute(c)?;
                diesel::update(deliveries::table.filter(deliveries::subscriber_id.eq_any(&ids)))
                    .set((
                        deliveries::subscriber_id.eq(None::<i64>),
                        deliveries::provider_message_id.eq(None::<String>),
                        deliveries::last_error.eq(None::<String>),
                    ))
                    .execute(c)?;
                // Topics and links go with them (ON DELETE CASCADE).
                Ok(
                    diesel::delete(subscribers::table.filter(subscribers::id.eq_any(&ids)))
                        .execute(c)?,
                )
            })
        })
    }

    /// Deletes delivery records that reached a final state before `before`,
    /// and finished outbox rows (already without address and text).
    pub fn delete_old_deliveries(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        let states: Vec<&str> = FINAL_DELIVERY.iter().map(|s| s.as_str()).collect();
        let total = in_batches(|| {
            with_write_tx!(self, |c| {
                let ids: Vec<i64> = deliveries::table
                    .filter(deliveries::state.eq_any(&states))
                    .filter(deliveries::updated_at.lt(before))
                    .select(deliveries::id)
                    .limit(BATCH)
                    .load(c)?;
                Ok(
                    diesel::delete(deliveries::table.filter(deliveries::id.eq_any(&ids)))
                        .execute(c)?,
                )
            })
        })?;
        with_write_tx!(self, |c| {
            diesel::delete(
                outbox::table
                    .filter(outbox::state.eq_any(["sent", "failed"]))
                    .filter(outbox::finished_at.lt(before)),
            )
            .execute(c)?;
            Ok(())
        })?;
        Ok(total)
    }

    /// Deletes inbound events processed (or given up) before `before`.
    pub fn delete_old_inbound(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        in_batches(|| {
            with_write_tx!(self, |c| {
                let ids: Vec<i64> = inbound_events::table
                    .filter(inbound_events::state.eq_any(["done", "failed"]))
                    .filter(inbound_events::received_at.lt(before))
                    .select(inbound_events::id)
                    .limit(BATCH)
                    .load(c)?;
                Ok(
                    diesel::delete(inbound_events::table.filter(inbound_events::id.eq_any(&ids)))
                        .execute(c)?,
                )
            })
        })
    }

    /// Deletes audit log entries made before `before`.
    pub fn delete_old_audit(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        in_batches(|| {
            with_write_tx!(self, |c| {
                let ids: Vec<i64> = audit_events::table
                    .filter(audit_events::occurred_at.lt(before))
                    .select(audit_events::id)
                    .limit(BATCH)
                    .load(c)?;
                Ok(
                    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&ids)))
                        .execute(c)?,
                )
            })
        })
    }
}
