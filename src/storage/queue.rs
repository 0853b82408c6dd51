//! The delivery queue: broadcasts, batched fan-out, leased claims and
//! batched completion.
//!
//! Hot paths work on batches: one statement claims a batch, one transaction
//! records its outcomes. Claims take a lease; a worker that dies leaves
//! `sending` rows whose lease expires and [`Database::reclaim_expired`] puts
//! back, so at most one in-flight batch is sent twice. On PostgreSQL, claims
//! use `FOR UPDATE SKIP LOCKED`, so several worker processes share one queue
//! without serving a recipient twice.

use chrono::{DateTime, Utc};
use diesel::{
    dsl::{exists, not},
    prelude::*,
    sql_types::{BigInt, Integer, Nullable, Text, Timestamp},
};
use herold_channel_api::ChannelKind;
use std::collections::HashMap;

use super::{
    error::OrNotFound,
    schema::{announcements, broadcasts, channel_limits, deliveries, subscribers, subscriptions},
    time, with_conn, with_write_tx, Database, Pool, StorageError,
};
use crate::domain::{Broadcast, BroadcastState, DeliveryState, Id, SubscriberStatus};

#[derive(Queryable, Selectable)]
#[diesel(table_name = broadcasts)]
struct BroadcastRow {
    id: i64,
    announcement_id: i64,
    category_id: i64,
    channel: String,
    priority: i32,
    state: String,
    not_before: chrono::NaiveDateTime,
    fanout_cursor: i64,
    fanout_done: bool,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<BroadcastRow> for Broadcast {
    type Error = StorageError;
    fn try_from(r: BroadcastRow) -> Result<Self, StorageError> {
        Ok(Broadcast {
            id: r.id,
            announcement_id: r.announcement_id,
            category_id: r.category_id,
            channel: parse_channel(&r.channel)?,
            priority: r.priority,
            state: BroadcastState::parse(&r.state)?,
            not_before: time::from_db(r.not_before),
            fanout_cursor: r.fanout_cursor,
            fanout_done: r.fanout_done,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        })
    }
}

fn parse_channel(s: &str) -> Result<ChannelKind, StorageError> {
    s.parse()
        .map_err(|e: herold_channel_api::UnknownChannel| StorageError::Refused(e.to_string()))
}

/// A delivery a worker has claimed and must now send.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub announcement_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub subscriber_id: Option<i64>,
    /// Attempts including this one.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub priority: i32,
}

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
    /// The recipient no longer exists or blocked us: the delivery fails and
    /// the subscriber is unsubscribed with a withdrawal in the consent ledger.
    RecipientGone { error: String },
    /// Not sent because the subscriber left in the meantime.
    Skipped,
}

/// What fan-out did in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutStep {
    pub broadcast_id: Id,
    pub materialised: usize,
    pub done: bool,
}

/// Tokens granted by the shared rate limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant {
    pub granted: u32,
    /// The channel is paused until then (429 or held).
    pub paused_until: Option<DateTime<Utc>>,
}

/// Staff control over broadcasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

/// (broadcast, delivery state, count) as grouped in SQL.
type StateCount = (Option<i64>, String, i64);

/// Delivery counts of one broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastCounts {
    pub broadcast: Broadcast,
    pub counts: HashMap<DeliveryState, i64>,
}

const CLAIM_SQLITE: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = ?, lease_until = ?, \
     attempts = attempts + 1, updated_at = ? \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       JOIN subscribers s ON s.id = d.subscriber_id \
       WHERE d.channel = ? AND d.state = 'queued' AND d.next_attempt_at <= ? \
         AND b.state = 'active' AND s.status = 'active' \
       ORDER BY d.priority DESC, d.id LIMIT ?) \
     RETURNING id, announcement_id, subscriber_id, attempts, priority";

const CLAIM_PG: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       JOIN subscribers s ON s.id = d.subscriber_id \
       WHERE d.channel = $4 AND d.state = 'queued' AND d.next_attempt_at <= $3 \
         AND b.state = 'active' AND s.status = 'active' \
       ORDER BY d.priority DESC, d.id LIMIT $5 \
       FOR UPDATE OF d SKIP LOCKED) \
     RETURNING id, announcement_id, subscriber_id, attempts, priority";

/// The body of one fan-out step on an already chosen broadcast; a macro so
/// it compiles for both connection types (see `with_conn!`).
macro_rules! fanout_body {
    ($c:expr, $b:expr, $batch:expr, $now:expr) => {{
        let b: BroadcastRow = $b;
        let ids: Vec<i64> = subscribers::table
            .inner_join(subscriptions::table)
            .filter(subscriptions::category_id.eq(b.category_id))
            .filter(subscribers::channel.eq(&b.channel))
            .filter(subscribers::status.eq(SubscriberStatus::Active.as_str()))
            .filter(subscribers::id.gt(b.fanout_cursor))
            .order(subscribers::id.asc())
            .limit($batch)
            .select(subscribers::id)
            .load($c)?;
        for chunk in ids.chunks(500) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|sid| {
                    (
                        deliveries::announcement_id.eq(b.announcement_id),
                        deliveries::channel.eq(&b.channel),
                        deliveries::subscriber_id.eq(Some(*sid)),
                        deliveries::state.eq(DeliveryState::Queued.as_str()),
                        deliveries::attempts.eq(0),
                        deliveries::created_at.eq($now),
                        deliveries::updated_at.eq($now),
                        deliveries::broadcast_id.eq(Some(b.id)),
                        deliveries::priority.eq(b.priority),
                        deliveries::next_attempt_at.eq($now),
                    )
                })
                .collect();
            diesel::insert_into(deliveries::table)
                .values(&rows)
                .execute($c)?;
        }
        let done = (ids.len() as i64) < $batch;
        let cursor = ids.last().copied().unwrap_or(b.fanout_cursor);
        diesel::update(broadcasts::table.find(b.id))
            .set((
                broadcasts::fanout_cursor.eq(cursor),
                broadcasts::fanout_done.eq(done),
                broadcasts::updated_at.eq($now),
            ))
            .execute($c)?;
        Ok::<_, StorageError>(Some(FanoutStep {
            broadcast_id: b.id,
            materialised: ids.len(),
            done,
        }))
    }};
}

impl Database {
    /// Materialises the next batch of deliveries of the most urgent due
    /// broadcast, advancing its cursor in the same transaction (so the
    /// cursor never passes a subscriber without a delivery row).
    pub fn fanout_step(
        &self,
        batch: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<FanoutStep>, StorageError> {
        let now = time::to_db(now);
        macro_rules! pick {
            () => {
                broadcasts::table
                    .filter(broadcasts::state.eq(BroadcastState::Active.as_str()))
                    .filter(broadcasts::fanout_done.eq(false))
                    .filter(broadcasts::not_before.le(now))
                    .order((broadcasts::priority.desc(), broadcasts::id.asc()))
                    .select(BroadcastRow::as_select())
            };
        }
        match self.pool() {
            Pool::Sqlite(p) => {
                p.get()?
                    .immediate_transaction(|c| match pick!().first(c).optional()? {
                        None => Ok(None),
                        Some(b) => fanout_body!(c, b, batch, now),
                    })
            }
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(
                    |c| match pick!().for_update().skip_locked().first(c).optional()? {
                        None => Ok(None),
                        Some(b) => fanout_body!(c, b, batch, now),
                    },
                )
            }
        }
    }

    /// Claims up to `limit` due deliveries of `channel` for `owner`, most
    /// urgent first, under a lease until `lease_until`.
    pub fn claim_deliveries(
        &self,
        channel: ChannelKind,
        owner: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, StorageError> {
        let (now, lease) = (time::to_db(now), time::to_db(lease_until));
        Ok(match self.pool() {
            Pool::Sqlite(p) => p.get()?.immediate_transaction(|c| {
                diesel::sql_query(CLAIM_SQLITE)
                    .bind::<Text, _>(owner)
                    .bind::<Timestamp, _>(lease)
                    .bind::<Timestamp, _>(now)
                    .bind::<Text, _>(channel.as_str())
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(limit)
                    .load(c)
            })?,
            Pool::Postgres(p) => diesel::sql_query(CLAIM_PG)
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(channel.as_str())
                .bind::<BigInt, _>(limit)
                .load(&mut *p.get()?)?,
        })
    }

    /// Puts deliveries whose lease expired (their worker died) back in the
    /// queue. Returns how many.
    pub fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let now = time::to_db(now);
        Ok(with_conn!(self, |c| diesel::update(
            deliveries::table
                .filter(deliveries::state.eq(DeliveryState::Sending.as_str()))
                .filter(deliveries::lease_until.lt(now))
        )
        .set((
            deliveries::state.eq(DeliveryState::Queued.as_str()),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
            deliveries::updated_at.eq(now),
        ))
        .execute(c)?))
    }

    /// Records the outcomes of a claimed batch in one transaction. Only rows
    /// still `sending` change, so a late report cannot undo a later state.
    /// Returns the subscribers whose address is gone, to be unsubscribed.
    pub fn finish_deliveries(
        &self,
        outcomes: &[(Id, Outcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Id>, StorageError> {
        let now = time::to_db(now);
        let sending = DeliveryState::Sending.as_str();
        macro_rules! body {
            ($c:expr) => {{
                let mut gone = Vec::new();
                let sent_ids: Vec<i64> = outcomes
                    .iter()
                    .filter_map(|(id, o)| {
                        matches!(
                            o,
                            Outcome::Sent {
                                provider_message_id: None
                            }
                        )
                        .then_some(*id)
                    })
                    .collect();
                for chunk in sent_ids.chunks(500) {
                    diesel::update(
                        deliveries::table
                            .filter(deliveries::id.eq_any(chunk))
                            .filter(deliveries::state.eq(sending)),
                    )
                    .set((
                        deliveries::state.eq(DeliveryState::Sent.as_str()),
                        deliveries::lease_owner.eq(None::<String>),
                        deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                        deliveries::updated_at.eq(now),
                    ))
                    .execute($c)?;
                }
                for (id, outcome) in outcomes {
                    let target = deliveries::table
                        .find(*id)
                        .filter(deliveries::state.eq(sending));
                    match outcome {
                        Outcome::Sent {
                            provider_message_id: None,
                        } => {}
                        Outcome::Sent {
                            provider_message_id: Some(pid),
                        } => {
                            diesel::update(target)
                                .set((
                                    deliveries::state.eq(DeliveryState::Sent.as_str()),
                                    deliveries::provider_message_id.eq(Some(pid)),
                                    deliveries::lease_owner.eq(None::<String>),
                                    deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                                    deliveries::updated_at.eq(now),
                                ))
                                .execute($c)?;
                        }
                        Outcome::Retry { at, error, counts } => {
                            diesel::update(target)
                                .set((
                                    deliveries::state.eq(DeliveryState::Queued.as_str()),
                                    deliveries::next_attempt_at.eq(time::to_db(*at)),
                                    deliveries::last_error.eq(Some(error)),
                                    deliveries::attempts
                                        .eq(deliveries::attempts - i32::from(!*counts)),
                                    deliveries::lease_owner.eq(None::<String>),
                                    deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                                    deliveries::updated_at.eq(now),
                                ))
                                .execute($c)?;
                        }
                        Outcome::Failed { error } | Outcome::RecipientGone { error } => {
                            let changed = diesel::update(target)
                                .set((
                                    deliveries::state.eq(DeliveryState::Failed.as_str()),
                                    deliveries::last_error.eq(Some(error)),
                                    deliveries::lease_owner.eq(None::<String>),
                                    deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                                    deliveries::updated_at.eq(now),
                                ))
                                .returning(deliveries::subscriber_id)
                                .get_results::<Option<i64>>($c)?;
                            if matches!(outcome, Outcome::RecipientGone { .. }) {
                                gone.extend(changed.into_iter().flatten());
                            }
                        }
                        Outcome::Skipped => {
                            diesel::update(target)
                                .set((
                                    deliveries::state.eq(DeliveryState::Skipped.as_str()),
                                    deliveries::lease_owner.eq(None::<String>),
                                    deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                                    deliveries::updated_at.eq(now),
                                ))
                                .execute($c)?;
                        }
                    }
                }
                Ok::<_, StorageError>(gone)
            }};
        }
        match self.pool() {
            Pool::Sqlite(p) => p.get()?.immediate_transaction(|c| body!(c)),
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(|c| body!(c))
            }
        }
    }

    /// Marks broadcasts done whose fan-out is complete and whose deliveries
    /// all left the queue. Returns how many.
    pub fn complete_broadcasts(&self, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let now = time::to_db(now);
        Ok(with_conn!(self, |c| diesel::update(
            broadcasts::table
                .filter(broadcasts::state.eq(BroadcastState::Active.as_str()))
                .filter(broadcasts::fanout_done.eq(true))
                .filter(not(exists(
                    deliveries::table
                        .filter(deliveries::broadcast_id.eq(broadcasts::id.nullable()))
                        .filter(deliveries::state.eq_any([
                            DeliveryState::Queued.as_str(),
                            DeliveryState::Sending.as_str()
                        ]))
                )))
        )
        .set((
            broadcasts::state.eq(BroadcastState::Done.as_str()),
            broadcasts::updated_at.eq(now)
        ))
        .execute(c)?))
    }

    /// Pauses, resumes or cancels the broadcasts of an announcement (one
    /// channel or all). Cancelling skips every queued delivery. Returns the
    /// number of broadcasts changed.
    pub fn control_broadcasts(
        &self,
        announcement_id: Id,
        channel: Option<ChannelKind>,
        action: Control,
    ) -> Result<usize, StorageError> {
        let now = time::to_db(time::now());
        let (from, to): (&[BroadcastState], BroadcastState) = match action {
            Control::Pause => (&[BroadcastState::Active], BroadcastState::Paused),
            Control::Resume => (&[BroadcastState::Paused], BroadcastState::Active),
            Control::Cancel => (
                &[BroadcastState::Active, BroadcastState::Paused],
                BroadcastState::Cancelled,
            ),
        };
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let channel = channel.map(|c| c.as_str());
        with_write_tx!(self, |c| {
            let exists: i64 = announcements::table
                .filter(announcements::id.eq(announcement_id))
                .count()
                .get_result(c)?;
            if exists == 0 {
                return Err(StorageError::NotFound {
                    what: format!("announcement {announcement_id}"),
                });
            }
            let mut q = broadcasts::table
                .filter(broadcasts::announcement_id.eq(announcement_id))
                .filter(broadcasts::state.eq_any(&from))
                .select(broadcasts::id)
                .into_boxed();
            if let Some(ch) = channel {
                q = q.filter(broadcasts::channel.eq(ch));
            }
            let ids: Vec<i64> = q.load(c)?;
            diesel::update(broadcasts::table.filter(broadcasts::id.eq_any(&ids)))
                .set((
                    broadcasts::state.eq(to.as_str()),
                    broadcasts::updated_at.eq(now),
                ))
                .execute(c)?;
            if action == Control::Cancel {
                diesel::update(
                    deliveries::table
                        .filter(
                            deliveries::broadcast_id
                                .eq_any(ids.iter().map(|i| Some(*i)).collect::<Vec<_>>()),
                        )
                        .filter(deliveries::state.eq(DeliveryState::Queued.as_str())),
                )
                .set((
                    deliveries::state.eq(DeliveryState::Skipped.as_str()),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            }
            Ok(ids.len())
        })
    }

    /// The broadcasts of an announcement with delivery counts by state.
    pub fn broadcast_counts(
        &self,
        announcement_id: Id,
    ) -> Result<Vec<BroadcastCounts>, StorageError> {
        let (rows, counts): (Vec<BroadcastRow>, Vec<StateCount>) = with_conn!(self, |c| {
            let rows = broadcasts::table
                .filter(broadcasts::announcement_id.eq(announcement_id))
                .order(broadcasts::channel.asc())
                .select(BroadcastRow::as_select())
                .load(c)?;
            let counts = deliveries::table
                .filter(deliveries::announcement_id.eq(announcement_id))
                .group_by((deliveries::broadcast_id, deliveries::state))
                .select((
                    deliveries::broadcast_id,
                    deliveries::state,
                    diesel::dsl::count_star(),
                ))
                .load(c)?;
            (rows, counts)
        });
        rows.into_iter()
            .map(|r| {
                let id = r.id;
                let mut map = HashMap::new();
                for (_, state, n) in counts.iter().filter(|(b, _, _)| *b == Some(id)) {
                    map.insert(DeliveryState::parse(state)?, *n);
                }
                Ok(BroadcastCounts {
                    broadcast: r.try_into()?,
                    counts: map,
                })
            })
            .collect()
    }

    /// Decrypted addresses of the given subscribers (erased ones are absent).
    pub fn subscriber_addresses(&self, ids: &[Id]) -> Result<HashMap<Id, String>, StorageError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<(i64, Option<Vec<u8>>)> = with_conn!(self, |c| subscribers::table
                .filter(subscribers::id.eq_any(chunk))
                .select((subscribers::id, subscribers::address_ciphertext))
                .load(c)?);
            for (id, ct) in rows {
                if let Some(ct) = ct {
                    let plain = self.keyring().decrypt(&ct)?;
                    let addr = String::from_utf8(plain)
                        .map_err(|_| StorageError::Crypto(crate::crypto::CryptoError::Decrypt))?;
                    out.insert(id, addr);
                }
            }
        }
        Ok(out)
    }

    /// Takes up to `want` send tokens from the channel's bucket, shared by
    /// every worker on this database (`rate` per second, at most `burst`).
    pub fn take_tokens(
        &self,
        channel: ChannelKind,
        want: u32,
        rate: f64,
        burst: u32,
        now: DateTime<Utc>,
    ) -> Result<Grant, StorageError> {
        let ch = channel.as_str();
        let now_db = time::to_db(now);
        macro_rules! body {
            ($c:expr, $row:expr) => {{
                let row: Option<(f64, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> = $row;
                let (tokens, refilled, paused) = match row {
                    Some(r) => r,
                    None => {
                        diesel::insert_into(channel_limits::table)
                            .values((
                                channel_limits::channel.eq(ch),
                                channel_limits::tokens.eq(f64::from(burst)),
                                channel_limits::refilled_at.eq(now_db),
                            ))
                            .execute($c)?;
                        (f64::from(burst), now_db, None)
                    }
                };
                if let Some(until) = paused.filter(|u| *u > now_db) {
                    return Ok(Grant {
                        granted: 0,
                        paused_until: Some(time::from_db(until)),
                    });
                }
                let elapsed =
                    (now_db - refilled).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                let available = (tokens + elapsed * rate).min(f64::from(burst));
                let granted = (available.floor().max(0.0) as u32).min(want);
                diesel::update(channel_limits::table.find(ch))
                    .set((
                        channel_limits::tokens.eq(available - f64::from(granted)),
                        channel_limits::refilled_at.eq(now_db),
                    ))
                    .execute($c)?;
                Ok::<_, StorageError>(Grant {
                    granted,
                    paused_until: None,
                })
            }};
        }
        let select = channel_limits::table.find(ch).select((
            channel_limits::tokens,
            channel_limits::refilled_at,
            channel_limits::paused_until,
        ));
        match self.pool() {
            Pool::Sqlite(p) => p
                .get()?
                .immediate_transaction(|c| body!(c, select.first(c).optional()?)),
            Pool::Postgres(p) => (&mut *p.get()? as &mut diesel::PgConnection).transaction(|c| {
                // Serialise concurrent first inserts, then lock the row.
                diesel::insert_into(channel_limits::table)
                    .values((
                        channel_limits::channel.eq(ch),
                        channel_limits::tokens.eq(f64::from(burst)),
                        channel_limits::refilled_at.eq(now_db),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c)?;
                body!(c, select.for_update().first(c).optional()?)
            }),
        }
    }

    /// Pauses a channel for every worker until `until` (after a 429), or
    /// holds it until resumed (`until` far ahead, with a reason).
    pub fn pause_channel(
        &self,
        channel: ChannelKind,
        until: DateTime<Utc>,
        held_reason: Option<&str>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(time::now());
        let ch = channel.as_str();
        with_conn!(self, |c| {
            diesel::insert_into(channel_limits::table)
                .values((
                    channel_limits::channel.eq(ch),
                    channel_limits::tokens.eq(0.0),
                    channel_limits::refilled_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c)?;
            diesel::update(channel_limits::table.find(ch))
                .set((
                    channel_limits::paused_until.eq(Some(time::to_db(until))),
                    channel_limits::held_reason.eq(held_reason),
                ))
                .execute(c)?;
        });
        Ok(())
    }

    /// Lifts a channel pause or hold.
    pub fn resume_channel(&self, channel: ChannelKind) -> Result<bool, StorageError> {
        let n = with_conn!(self, |c| diesel::update(
            channel_limits::table.find(channel.as_str())
        )
        .set((
            channel_limits::paused_until.eq(None::<chrono::NaiveDateTime>),
            channel_limits::held_reason.eq(None::<String>),
        ))
        .execute(c)?);
        Ok(n > 0)
    }

    /// Why a channel is held, if it is.
    pub fn channel_hold(&self, channel: ChannelKind) -> Result<Option<String>, StorageError> {
        let r: Option<Option<String>> = with_conn!(self, |c| channel_limits::table
            .find(channel.as_str())
            .select(channel_limits::held_reason)
            .first(c)
            .optional()?);
        Ok(r.flatten())
    }

    /// One broadcast.
    pub fn get_broadcast(&self, id: Id) -> Result<Broadcast, StorageError> {
        let row: Option<BroadcastRow> = with_conn!(self, |c| broadcasts::table
            .find(id)
            .select(BroadcastRow::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("broadcast {id}"))?.try_into()
    }
}
