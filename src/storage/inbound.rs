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

// The queue's partial indexes need the state spelt as a literal. A
// resident's event waits while an earlier one of theirs is leased by another
// processor or waiting for its retry (`lease_until` ahead), so their
// commands take effect in the order they were sent; an earlier one that is
// due is claimed in the same batch, before it.
const CLAIM_SQLITE: &str = "UPDATE inbound_events SET lease_owner = ?1, lease_until = ?2, \
     attempts = attempts + 1 \
     WHERE id IN (SELECT e.id FROM inbound_events e \
       WHERE e.state = 'pending' AND (e.lease_until IS NULL OR e.lease_until <= ?3) \
         AND NOT EXISTS (SELECT 1 FROM inbound_events p \
           WHERE p.state = 'pending' AND p.channel = e.channel AND p.sender = e.sender \
             AND p.id < e.id AND p.lease_until > ?3) \
       ORDER BY e.id LIMIT ?4) \
     RETURNING id, channel, payload, attempts";

// Claims on PostgreSQL take turns (a transaction-scoped advisory lock, see
// `claim_inbound`), so a processor sees the leases another one just took.
const CLAIM_PG: &str = "UPDATE inbound_events SET lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1 \
     WHERE id IN (SELECT e.id FROM inbound_events e \
       WHERE e.state = 'pending' AND (e.lease_until IS NULL OR e.lease_until <= $3) \
         AND NOT EXISTS (SELECT 1 FROM inbound_events p \
           WHERE p.state = 'pending' AND p.channel = e.channel AND p.sender = e.sender \
             AND p.id < e.id AND p.lease_until > $3) \
       ORDER BY e.id LIMIT $4) \
     RETURNING id, channel, payload, attempts";

/// The advisory lock key that serialises inbound claims on PostgreSQL.
const CLAIM_LOCK: i64 = 0x4845_524f_4c44_0001;

/// One event ready to store: its dedupe key (a keyed hash), its JSON
/// (sealed to its row when stored) and its sender's keyed hash.
type EventRow = (String, zeroize::Zeroizing<Vec<u8>>, Option<Vec<u8>>);

/// Inserts encrypted events as pending, skipping those the channel already
/// has; a macro so the body compiles for both connection types inside one
/// transaction.
macro_rules! insert_events {
    ($c:expr, $db:expr, $channel:expr, $rows:expr, $now:expr) => {{
        let mut out = StoredInbound::default();
        let rows: &[EventRow] = $rows;
        for (key, json, sender) in rows {
            let id: Option<i64> = diesel::insert_into(ie::table)
                .values((
                    ie::channel.eq($channel.as_str()),
                    ie::dedupe_key.eq(key),
                    ie::payload.eq(Vec::<u8>::new()),
                    ie::sender.eq(sender),
                    ie::received_at.eq($now),
                    ie::state.eq("pending"),
                    ie::attempts.eq(0),
                ))
                .on_conflict((ie::channel, ie::dedupe_key))
                .do_nothing()
                .returning(ie::id)
                .get_result($c)
                .optional()?;
            match id {
                None => out.duplicates += 1,
                Some(id) => {
                    let payload = $db.seal(json, &$crate::storage::sealed::inbound_payload(id));
                    diesel::update(ie::table.find(id))
                        .set(ie::payload.eq(payload))
                        .execute($c)?;
                    out.new += 1;
                }
            }
        }
        Ok::<StoredInbound, StorageError>(out)
    }};
}

impl Database {
    /// The stored form of an event's [`InboundEvent::dedupe_key`]: a keyed
    /// hash, because messengers' ids name the chat (Telegram's
    /// `chat:message`, WhatsApp's `wamid.` encodes the number). Services use
    /// it as the event's reference (consent evidence, reply source), so no
    /// provider id is ever stored in clear.
    pub fn inbound_key(&self, channel: ChannelKind, event: &InboundEvent) -> String {
        let mac = self.keyring().lookup_hash(
            "inbound-event",
            &format!("{channel}\0{}", event.dedupe_key()),
        );
        hex::encode(&mac[..16])
    }

    /// Who sent a resident's event, as the keyed hash their subscriber is
    /// found by; `None` for receipts.
    fn inbound_sender(&self, channel: ChannelKind, event: &InboundEvent) -> Option<Vec<u8>> {
        let from = match event {
            InboundEvent::Command { from, .. } | InboundEvent::Message { from, .. } => from,
            InboundEvent::Status { .. } => return None,
        };
        let normalized = crate::domain::normalize_address(channel, from.as_str())
            .unwrap_or_else(|_| from.as_str().to_owned());
        Some(self.keyring().lookup_hash(channel.as_str(), &normalized))
    }

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
        let rows = self.encrypt_events(channel, events)?;
        with_write_tx!(self, |c| insert_events!(c, self, channel, &rows, now))
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
        let rows = self.encrypt_events(channel, events)?;
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
            insert_events!(c, self, channel, &rows, now).map(Some)
        })
    }

    /// Each event's dedupe key, JSON and sender.
    fn encrypt_events(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
    ) -> Result<Vec<EventRow>, StorageError> {
        events
            .iter()
            .map(|e| {
                let json = serde_json::to_vec(e)
                    .map_err(|e| StorageError::Refused(format!("inbound event: {e}")))?;
                Ok((
                    self.inbound_key(channel, e),
                    zeroize::Zeroizing::new(json),
                    self.inbound_sender(channel, e),
                ))
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
                "postgres" => {
                    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                        .bind::<BigInt, _>(CLAIM_LOCK)
                        .execute(c)?;
                    CLAIM_PG
                }
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
            .open_sealed(&row.payload, &super::sealed::inbound_payload(row.id))
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
