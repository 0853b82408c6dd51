//! The outbox: messages to one resident that are not announcements —
//! replies to their commands, the automatic answer to a report, staff
//! replies. Queued here, claimed by the engine's reply loop of the channel
//! (on any worker process: leases, `SKIP LOCKED` on PostgreSQL), and
//! cleared of their text and address once they went out or failed for good.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use super::{
    schema::{outbox, subscribers},
    sealed, time, with_conn, with_write_tx, Database, Pool, StorageError,
};
use crate::{crypto::Aad, domain::Id};

/// Who a queued message goes to.
#[derive(Clone, PartialEq, Eq)]
pub enum OutboxRecipient {
    /// A subscriber: their stored address is used when it is sent (and an
    /// erased subscriber gets nothing).
    Subscriber(Id),
    /// Someone who is no subscriber (a reply to "Hilfe" or "Löschen" from an
    /// unknown address): the address is stored encrypted with the message.
    Address(String),
    /// A subscriber, with the address they wrote from stored encrypted with
    /// the message: the goodbye to a Stop, which must reach them even once
    /// the stored address of a resident who left is forgotten.
    SubscriberAt(Id, String),
}

impl std::fmt::Debug for OutboxRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subscriber(id) => write!(f, "Subscriber({id})"),
            Self::Address(_) => f.write_str("Address(<redacted>)"),
            Self::SubscriberAt(id, _) => write!(f, "SubscriberAt({id}, <redacted>)"),
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage {
    pub channel: ChannelKind,
    pub to: OutboxRecipient,
    /// Plain text in the resident's language (personal data: stored
    /// encrypted, never in `Debug`).
    pub text: Redacted,
    pub locale: String,
    /// Send only once the subscriber's in-flight deliveries have settled
    /// (the confirmation of Stop or Löschen).
    pub wait_settled: bool,
    /// Erase the subscriber once this message went out (Löschen).
    pub erase_after: bool,
    /// What it answers (`message:{provider id}`): one reply per inbound
    /// message, however often that message is processed.
    pub source: Option<String>,
}

/// Text that `Debug` does not show.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

/// A claimed message, decrypted, ready to send.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: Id,
    pub channel: ChannelKind,
    pub subscriber_id: Option<Id>,
    /// `None` when the subscriber was erased meanwhile: nothing is sent.
    pub address: Option<Redacted>,
    pub text: Redacted,
    pub locale: String,
    /// Attempts before this one.
    pub attempts: u32,
    pub wait_settled: bool,
    pub erase_after: bool,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// The provider accepted it.
    Sent { provider_message_id: Option<String> },
    /// Try again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Given up (log-safe reason).
    Failed { error: String },
}

/// Inserts an outbox row on connection `$c` (inside the caller's
/// transaction): `$m` is a [`NewOutboxMessage`], `$db` the database (its
/// keys seal address and text to the new row). Evaluates to the row's id,
/// `None` when one answering the same source exists.
macro_rules! insert_outbox {
    ($c:expr, $db:expr, $m:expr, $now:expr) => {{
        use $crate::storage::schema::outbox as o;
        let m: &$crate::storage::NewOutboxMessage = $m;
        let (subscriber_id, address) = match &m.to {
            $crate::storage::OutboxRecipient::Subscriber(id) => (Some(*id), None),
            $crate::storage::OutboxRecipient::Address(a) => (None, Some(a)),
            $crate::storage::OutboxRecipient::SubscriberAt(id, a) => (Some(*id), Some(a)),
        };
        let id: Option<i64> = diesel::insert_into(o::table)
            .values((
                o::channel.eq(m.channel.as_str()),
                o::subscriber_id.eq(subscriber_id),
                o::locale.eq(&m.locale),
                o::state.eq("queued"),
                o::attempts.eq(0),
                o::next_attempt_at.eq($now),
                o::wait_settled.eq(m.wait_settled),
                o::erase_after.eq(m.erase_after),
                o::source.eq(&m.source),
                o::created_at.eq($now),
            ))
            .on_conflict_do_nothing()
            .returning(o::id)
            .get_result::<i64>($c)
            .optional()?;
        if let Some(id) = id {
            let address = address
                .map(|a| $db.seal(a.as_bytes(), &$crate::storage::sealed::outbox_address(id)));
            let text = $db.seal(
                m.text.0.as_bytes(),
                &$crate::storage::sealed::outbox_text(id),
            );
            diesel::update(o::table.find(id))
                .set((
                    o::address_ciphertext.eq(address),
                    o::text_ciphertext.eq(Some(text)),
                ))
                .execute($c)?;
        }
        id
    }};
}
pub(super) use insert_outbox;

type ClaimRow = (
    i64,
    String,
    Option<i64>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    String,
    i32,
    bool,
    bool,
);

impl Database {
    /// Queues a message, due at once; `None` if one answering the same
    /// `source` is already queued or sent.
    pub fn enqueue_outbox(
        &self,
        m: &NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<Option<Id>, StorageError> {
        let now = time::to_db(now);
        let id = with_write_tx!(self, |c| Ok(insert_outbox!(c, self, m, now)))?;
        Ok(id)
    }

    /// Claims up to `limit` due messages of `channel` until `lease_until`:
    /// queued ones whose time has come, and ones whose lease expired (their
    /// worker died).
    pub fn claim_outbox(
        &self,
        channel: ChannelKind,
        owner: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StorageError> {
        let (now, until) = (time::to_db(now), time::to_db(lease_until));
        let ch = channel.as_str();
        macro_rules! due {
            () => {
                outbox::table
                    .filter(outbox::channel.eq(ch))
                    .filter(
                        outbox::state
                            .eq("queued")
                            .and(outbox::next_attempt_at.le(now))
                            .or(outbox::state.eq("sending").and(outbox::lease_until.lt(now))),
                    )
                    .order(outbox::id.asc())
                    .limit(limit)
                    .select(outbox::id)
            };
        }
        macro_rules! body {
            ($c:expr, $ids:expr) => {{
                let ids: Vec<i64> = $ids;
                let c = $c;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                    .set((
                        outbox::state.eq("sending"),
                        outbox::lease_owner.eq(owner),
                        outbox::lease_until.eq(until),
                    ))
                    .execute(c)?;
                let rows: Vec<ClaimRow> = outbox::table
                    .left_join(subscribers::table)
                    .filter(outbox::id.eq_any(&ids))
                    .order(outbox::id.asc())
                    .select((
                        outbox::id,
                        outbox::channel,
                        outbox::subscriber_id,
                        outbox::address_ciphertext,
                        subscribers::address_ciphertext.nullable(),
                        outbox::text_ciphertext,
                        outbox::locale,
                        outbox::attempts,
                        outbox::wait_settled,
                        outbox::erase_after,
                    ))
                    .load(c)?;
                Ok::<_, StorageError>(rows)
            }};
        }
        let rows = match self.pool() {
            Pool::Sqlite(p) => p
                .get()?
                .immediate_transaction(|c| body!(c, due!().load(c)?)),
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(|c| body!(c, due!().for_update().skip_locked().load(c)?))
            }
        }?;
        let text = |ct: Option<Vec<u8>>, at: Aad| -> Result<Option<Redacted>, StorageError> {
            ct.map(|ct| {
                let plain = self.open_sealed(&ct, &at)?;
                Ok(Redacted(String::from_utf8_lossy(&plain).into_owned()))
            })
            .transpose()
        };
        rows.into_iter()
            .map(
                |(id, ch, subscriber_id, own, theirs, body, locale, attempts, wait, erase)| {
                    Ok(OutboxItem {
                        id,
                        channel: ch.parse().map_err(|_| {
                            StorageError::Refused(format!("outbox {id}: unknown channel {ch}"))
                        })?,
                        subscriber_id,
                        address: match (own, theirs, subscriber_id) {
                            (Some(own), _, _) => text(Some(own), sealed::outbox_address(id))?,
                            (None, Some(theirs), Some(s)) => {
                                text(Some(theirs), sealed::subscriber_address(s))?
                            }
                            _ => None,
                        },
                        text: text(body, sealed::outbox_text(id))?
                            .unwrap_or(Redacted(String::new())),
                        locale,
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        wait_settled: wait,
                        erase_after: erase,
                    })
                },
            )
            .collect()
    }

    /// Records how a claimed message ended. Sent and failed messages lose
    /// their text and address at once.
    pub fn finish_outbox(
        &self,
        id: Id,
        outcome: &OutboxOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(now);
        let row = outbox::table.filter(outbox::id.eq(id));
        let finished = match outcome {
            OutboxOutcome::Retry { .. } => None,
            OutboxOutcome::Sent {
                provider_message_id,
            } => Some(("sent", provider_message_id.clone(), None)),
            OutboxOutcome::Failed { error } => Some(("failed", None, Some(error.clone()))),
        };
        with_write_tx!(self, |c| {
            match (outcome, finished) {
                (OutboxOutcome::Retry { at, error }, _) => {
                    diesel::update(row)
                        .set((
                            outbox::state.eq("queued"),
                            outbox::attempts.eq(outbox::attempts + 1),
                            outbox::next_attempt_at.eq(time::to_db(*at)),
                            outbox::lease_owner.eq(None::<String>),
                            outbox::lease_until.eq(None::<chrono::NaiveDateTime>),
                            outbox::error.eq(Some(error)),
                        ))
                        .execute(c)?;
                }
                (_, Some((state, provider_id, error))) => {
                    diesel::update(row)
                        .set((
                            outbox::state.eq(state),
                            outbox::attempts.eq(outbox::attempts + 1),
                            outbox::provider_message_id.eq(provider_id),
                            outbox::error.eq(error),
                            outbox::lease_owner.eq(None::<String>),
                            outbox::lease_until.eq(None::<chrono::NaiveDateTime>),
                            outbox::text_ciphertext.eq(None::<Vec<u8>>),
                            outbox::address_ciphertext.eq(None::<Vec<u8>>),
                            outbox::finished_at.eq(Some(now)),
                        ))
                        .execute(c)?;
                }
                (_, None) => {}
            }
            Ok(())
        })
    }

    /// Queued and in-flight outbox messages of `channel` (for tests and
    /// `/metrics`).
    pub fn outbox_pending(&self, channel: ChannelKind) -> Result<i64, StorageError> {
        Ok(with_conn!(self, |c| outbox::table
            .filter(outbox::channel.eq(channel.as_str()))
            .filter(outbox::state.eq_any(["queued", "sending"]))
            .count()
            .get_result::<i64>(c)?))
    }
}

impl Database {
    /// Whether a reply from the outbox was sent as `provider_message_id`
    /// on `channel` (its statuses are then known, not waited for).
    pub fn outbox_sent_as(
        &self,
        channel: ChannelKind,
        provider_message_id: &str,
    ) -> Result<bool, StorageError> {
        let n: i64 = with_conn!(self, |c| outbox::table
            .filter(outbox::channel.eq(channel.as_str()))
            .filter(outbox::provider_message_id.eq(provider_message_id))
            .count()
            .get_result(c)?);
        Ok(n > 0)
    }
}
