//! Inbound events (webhooks, polling): stored encrypted as they arrive, once
//! per provider id, then claimed under a lease by the inbound processor and
//! finished. A claimed row stays `pending` with `lease_until` in the future;
//! when its processor dies the lease expires and another one takes it.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Binary, Integer, Text, Timestamp},
};
use herold_channel_api::{ChannelKind, InboundEvent};

use super::{schema::inbound_events as ie, time, with_conn, with_write_tx, Database, StorageError};
use crate::domain::Id;

/// What storing one request's events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredInbound {
    /// Events stored for processing.
    pub new: usize,
    /// Events already stored before (same channel and dedupe key): ignored.
    pub duplicates: usize,
}

/// A claimed event, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedInbound {
    pub id: Id,
    pub channel: ChannelKind,
    /// Attempts including this one.
    pub attempts: i32,
    pub event: InboundEvent,
}

/// How processing a claimed event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundFinish<'a> {
    /// Processed; `outcome` says what it did (log-safe).
    Done { outcome: &'a str },
    /// Failed for now: claimable again from `at`.
    Retry { error: &'a str, at: DateTime<Utc> },
    /// Failed for good (attempts used up, or it can never succeed).
    Failed { error: &'a str },
}

/// An event's processing state, without its payload (for operators and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundState {
    pub id: Id,
    pub channel: String,
    pub dedupe_key: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub outcome: Option<String>,
    pub error: Option<String>,
}

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Binary)]
    payload: Vec<u8>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

// The queue's partial index needs the state spelt as a literal.
const CLAIM_SQLITE: &str = "UPDATE inbound_events SET lease_owner = ?, lease_until = ?, \
     attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM inbound_events \
       WHERE state = 'pending' AND (lease_until IS NULL OR lease_until <= ?) \
       ORDER BY id LIMIT ?) \
     RETURNING id, channel, payload, attempts";

const CLAIM_PG: &str = "UPDATE inbound_events SET lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM inbound_events \
       WHERE state = 'pending' AND (lease_until IS NULL OR lease_until <= $3) \
       ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, channel, payload, attempts";

/// Inserts encrypted events (`(dedupe key, payload)`) as pending, skipping
/// those the channel already has; a macro so the body compiles for both
/// connection types inside one transaction.
macro_rules! insert_events {
    ($c:expr, $channel:expr, $rows:expr, $now:expr) => {{
        let mut out = StoredInbound::default();
        for (key, payload) in $rows {
            let n = diesel::insert_into(ie::table)
                .values((
                    ie::channel.eq($channel.as_str()),
                    ie::dedupe_key.eq(key),
                    ie::payload.eq(payload),
                    ie::received_at.eq($now),
                    ie::state.eq("pending"),
                    ie::attempts.eq(0),
                ))
                .on_conflict((ie::channel, ie::dedupe_key))
                .do_nothing()
                .execute($c)?;
            if n == 0 {
                out.duplicates += 1;
            } else {
                out.new += 1;
            }
        }
        Ok::<StoredInbound, StorageError>(out)
    }};
}

impl Database {
    /// Stores the events of one request in one transaction, each encrypted,
    /// skipping those already stored for `channel` under the same
    /// [`InboundEvent::dedupe_key`]. Once this returns, nothing is lost.
    pub fn store_inbound(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
        now: DateTime<Utc>,
    ) -> Result<StoredInbound, StorageError> {
        let now = time::to_db(now);
        let rows = self.encrypt_events(events)?;
        with_write_tx!(self, |c| insert_events!(c, channel, &rows, now))
    }

    /// Stores polled events like [`Database::store_inbound`] and, in the
    /// same transaction, the channel's polling cursor after them — only
    /// while `owner` holds the cursor's lease (see
    /// [`Database::take_cursor_lease`]). `cursor` `None` keeps the stored
    /// one. `None` when the lease went to another process: nothing was
    /// stored, and that process polls the same events again.
    pub fn store_polled(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
        owner: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredInbound>, StorageError> {
        use super::schema::inbound_cursors as ic;
        let now = time::to_db(now);
        let rows = self.encrypt_events(events)?;
        with_write_tx!(self, |c| {
            let mine = ic::table
                .find(channel.as_str())
                .filter(ic::lease_owner.eq(owner));
            let held = match cursor {
                Some(cur) => diesel::update(mine)
                    .set((ic::cursor.eq(cur), ic::updated_at.eq(now)))
                    .execute(c)?,
                None => diesel::update(mine)
                    .set(ic::updated_at.eq(now))
                    .execute(c)?,
            };
            if held == 0 {
                return Ok(None);
            }
            insert_events!(c, channel, &rows, now).map(Some)
        })
    }

    /// Each event's dedupe key and encrypted JSON.
    fn encrypt_events(
        &self,
        events: &[InboundEvent],
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        events
            .iter()
            .map(|e| {
                let json = serde_json::to_vec(e)
                    .map_err(|e| StorageError::Refused(format!("inbound event: {e}")))?;
                Ok((e.dedupe_key(), self.keyring().encrypt(&json)))
            })
            .collect()
    }

    /// Claims up to `limit` pending events, oldest first, for `owner` until
    /// `lease_until`: those never claimed, due for a retry, or whose lease
    /// expired. Rows whose payload cannot be read are marked failed in the
    /// same transaction instead of blocking the queue.
    pub fn claim_inbound(
        &self,
        owner: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedInbound>, StorageError> {
        let (lease, now) = (time::to_db(lease_until), time::to_db(now));
        let mut claimed: Vec<ClaimedInbound> = with_write_tx!(self, |c| {
            let sql = match self.backend() {
                "postgres" => CLAIM_PG,
                _ => CLAIM_SQLITE,
            };
            let rows: Vec<ClaimRow> = diesel::sql_query(sql)
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(c)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                match self.decode(&row) {
                    Ok(item) => out.push(item),
                    Err(why) => {
                        tracing::warn!(inbound_event = row.id, error = %why, "inbound event unreadable; marked failed");
                        diesel::update(ie::table.find(row.id))
                            .set((
                                ie::state.eq("failed"),
                                ie::lease_owner.eq(None::<String>),
                                ie::lease_until.eq(None::<chrono::NaiveDateTime>),
                                ie::processed_at.eq(now),
                                ie::error.eq(why),
                            ))
                            .execute(c)?;
                    }
                }
            }
            Ok(out)
        })?;
        claimed.sort_by_key(|e| e.id);
        Ok(claimed)
    }

    /// The event of a claimed row, or a log-safe reason why not.
    fn decode(&self, row: &ClaimRow) -> Result<ClaimedInbound, String> {
        let channel = row.channel.parse().map_err(|e| format!("{e}"))?;
        let json = self
            .keyring()
            .decrypt(&row.payload)
            .map_err(|e| e.to_string())?;
        // serde's message may quote the payload: keep only the position.
        let event = serde_json::from_slice(&json).map_err(|e| {
            format!(
                "payload is not an inbound event (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        Ok(ClaimedInbound {
            id: row.id,
            channel,
            attempts: row.attempts,
            event,
        })
    }

    /// Records how processing a claimed event ended and releases its lease.
    pub fn finish_inbound(
        &self,
        id: Id,
        finish: InboundFinish<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(now);
        let none = None::<chrono::NaiveDateTime>;
        with_conn!(self, |c| {
            let row = diesel::update(ie::table.find(id));
            match finish {
                InboundFinish::Done { outcome } => row
                    .set((
                        ie::state.eq("done"),
                        ie::lease_owner.eq(None::<String>),
                        ie::lease_until.eq(none),
                        ie::processed_at.eq(now),
                        ie::outcome.eq(outcome),
                        ie::error.eq(None::<String>),
                    ))
                    .execute(c)?,
                InboundFinish::Retry { error, at } => row
                    .set((
                        ie::state.eq("pending"),
                        ie::lease_owner.eq(None::<String>),
                        ie::lease_until.eq(Some(time::to_db(at))),
                        ie::error.eq(error),
                    ))
                    .execute(c)?,
                InboundFinish::Failed { error } => row
                    .set((
                        ie::state.eq("failed"),
                        ie::lease_owner.eq(None::<String>),
                        ie::lease_until.eq(none),
                        ie::processed_at.eq(now),
                        ie::error.eq(error),
                    ))
                    .execute(c)?,
            };
        });
        Ok(())
    }

    /// Every stored event's state, oldest first (no payloads).
    pub fn inbound_states(&self) -> Result<Vec<InboundState>, StorageError> {
        type Row = (
            i64,
            String,
            String,
            String,
            i32,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = with_conn!(self, |c| ie::table
            .order(ie::id.asc())
            .select((
                ie::id,
                ie::channel,
                ie::dedupe_key,
                ie::state,
                ie::attempts,
                ie::outcome,
                ie::error,
            ))
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(
                |(id, channel, dedupe_key, state, attempts, outcome, error)| InboundState {
                    id,
                    channel,
                    dedupe_key,
                    state,
                    attempts,
                    outcome,
                    error,
                },
            )
            .collect())
    }
}
