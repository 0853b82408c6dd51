//! Claiming work: due queued deliveries (retries, reclaimed leases) and
//! fresh deliveries materialised from broadcast cursors, under a lease.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{BigInt, Integer, Nullable, Text, Timestamp},
};
use herold_channel_api::ChannelKind;

use super::BroadcastRow;
use crate::{
    domain::{BroadcastState, Id, SubscriberStatus},
    storage::{
        schema::{broadcasts, fanout_leases, subscribers, subscriptions},
        time, with_conn, Database, Pool, StorageError,
    },
};

/// One recipient of a claimed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery row, for work that was queued before (a retry or a
    /// reclaimed lease); `None` for fresh work from a broadcast's cursor,
    /// whose row is written with its outcome.
    pub delivery_id: Option<Id>,
    pub broadcast_id: Id,
    pub announcement_id: Id,
    pub subscriber_id: Option<Id>,
    /// Attempts including this one.
    pub attempts: i32,
    pub priority: i32,
    /// The public place of a follow post (then `subscriber_id` is `None`).
    pub target: Option<String>,
}

impl Claimed {
    /// The key providers use to recognise a repeated send: the same for
    /// every attempt of this announcement to this subscriber.
    pub fn idempotency_key(&self) -> String {
        if self.target.is_some() {
            return format!(
                "herold-{}-follow-{}",
                self.broadcast_id,
                self.delivery_id.unwrap_or_default()
            );
        }
        format!(
            "herold-{}-{}",
            self.broadcast_id,
            self.subscriber_id.unwrap_or_default()
        )
    }
}

/// A claimed batch: its recipients, most urgent first, and the fan-out
/// leases that cover its fresh recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claim {
    pub items: Vec<Claimed>,
    /// At most one lease per broadcast.
    pub fanout_leases: Vec<FanoutLease>,
    /// Encrypted addresses read with fresh work, decrypted by
    /// [`Database::claim_addresses`] outside the claim's transaction.
    ciphertexts: Vec<(Id, Option<Vec<u8>>)>,
}

/// A fan-out lease held by a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutLease {
    pub id: Id,
    pub broadcast_id: Id,
}

#[derive(QueryableByName)]
struct QueuedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    broadcast_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    announcement_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    subscriber_id: Option<i64>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Integer)]
    priority: i32,
    #[diesel(sql_type = Nullable<Text>)]
    target: Option<String>,
}

impl From<QueuedRow> for Claimed {
    fn from(r: QueuedRow) -> Self {
        Claimed {
            delivery_id: Some(r.id),
            broadcast_id: r.broadcast_id.unwrap_or_default(),
            announcement_id: r.announcement_id,
            subscriber_id: r.subscriber_id,
            attempts: r.attempts,
            priority: r.priority,
            target: r.target,
        }
    }
}

/// Subscribers whose addresses are loaded per statement.
const ADDRESS_CHUNK: usize = 1000;

const QUEUED_SQLITE: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = ?, lease_until = ?, \
     attempts = attempts + 1, updated_at = ? \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       JOIN subscribers s ON s.id = d.subscriber_id \
       WHERE d.state = 'queued' AND d.channel = ? AND d.priority = ? AND d.next_attempt_at <= ? \
         AND b.state = 'active' AND s.status = 'active' \
       ORDER BY d.next_attempt_at, d.id LIMIT ?) \
     RETURNING id, broadcast_id, announcement_id, subscriber_id, attempts, priority, target";

const QUEUED_PG: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       JOIN subscribers s ON s.id = d.subscriber_id \
       WHERE d.state = 'queued' AND d.channel = $4 AND d.priority = $5 AND d.next_attempt_at <= $6 \
         AND b.state = 'active' AND s.status = 'active' \
       ORDER BY d.next_attempt_at, d.id LIMIT $7 \
       FOR UPDATE OF d SKIP LOCKED) \
     RETURNING id, broadcast_id, announcement_id, subscriber_id, attempts, priority, target";

/// Due follow posts of a channel (paused broadcasts' wait), most urgent
/// first; see migration `000013_follow_posts` for the index.
const FOLLOW_SQLITE: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = ?, lease_until = ?, \
     attempts = attempts + 1, updated_at = ? \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       WHERE d.state = 'queued' AND d.target IS NOT NULL AND d.channel = ? \
         AND d.next_attempt_at <= ? AND b.state = 'active' \
       ORDER BY d.priority DESC, d.next_attempt_at, d.id LIMIT ?) \
     RETURNING id, broadcast_id, announcement_id, subscriber_id, attempts, priority, target";

const FOLLOW_PG: &str =
    "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE id IN (SELECT d.id FROM deliveries d \
       JOIN broadcasts b ON b.id = d.broadcast_id \
       WHERE d.state = 'queued' AND d.target IS NOT NULL AND d.channel = $4 \
         AND d.next_attempt_at <= $5 AND b.state = 'active' \
       ORDER BY d.priority DESC, d.next_attempt_at, d.id LIMIT $6 \
       FOR UPDATE OF d SKIP LOCKED) \
     RETURNING id, broadcast_id, announcement_id, subscriber_id, attempts, priority, target";

/// One claim's parameters, shared by both backends' code.
struct ClaimArgs<'a> {
    channel: &'a str,
    owner: &'a str,
    limit: i64,
    lease: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
}

/// The claim body on an open write transaction; a macro so it compiles for
/// both connection types (see `with_conn!`). `$pending` are the due
/// broadcasts of the channel, most urgent first, already locked on
/// PostgreSQL.
macro_rules! claim_body {
    ($c:expr, $follow_sql:expr, $queued_sql:expr, $top:expr, $pending:expr, $a:expr) => {{
        let a: &ClaimArgs = $a;
        let mut out = Claim::default();
        // Follow posts first: one post reaches everyone who follows the
        // public place, and there are few of them.
        let follow: Vec<QueuedRow> = diesel::sql_query($follow_sql)
            .bind::<Text, _>(a.owner)
            .bind::<Timestamp, _>(a.lease)
            .bind::<Timestamp, _>(a.now)
            .bind::<Text, _>(a.channel)
            .bind::<Timestamp, _>(a.now)
            .bind::<BigInt, _>(a.limit)
            .load($c)?;
        out.items.extend(follow.into_iter().map(Claimed::from));
        // The most urgent due broadcast, locked or not: while another
        // worker materialises it, this one must not fall back to less
        // urgent work (on PostgreSQL the locked row is skipped below).
        let top: Option<i32> = $top;
        let pending: Vec<BroadcastRow> = $pending;
        // Priority levels, highest first: queued work of a level goes
        // before fresh work of the same level, and all of it before any
        // lower level, so urgent work overtakes at the next batch.
        let mut levels: Vec<i32> = pending.iter().map(|b| b.priority).collect();
        levels.extend([
            crate::domain::priority(true),
            crate::domain::priority(false),
        ]);
        levels.sort_unstable_by(|x, y| y.cmp(x));
        levels.dedup();
        levels.retain(|l| top.is_none_or(|t| *l >= t));
        for level in levels {
            let want = a.limit - out.items.len() as i64;
            if want <= 0 {
                break;
            }
            let queued: Vec<QueuedRow> = diesel::sql_query($queued_sql)
                .bind::<Text, _>(a.owner)
                .bind::<Timestamp, _>(a.lease)
                .bind::<Timestamp, _>(a.now)
                .bind::<Text, _>(a.channel)
                .bind::<Integer, _>(level)
                .bind::<Timestamp, _>(a.now)
                .bind::<BigInt, _>(want)
                .load($c)?;
            out.items.extend(queued.into_iter().map(Claimed::from));
            for b in pending.iter().filter(|b| b.priority == level) {
                let want = a.limit - out.items.len() as i64;
                if want <= 0 {
                    break;
                }
                lease_range!($c, b, want, a, out);
            }
        }
        Ok::<_, StorageError>(out)
    }};
}

/// Leases the next `$want` subscribers after the broadcast's cursor to
/// this worker and advances the cursor past them, in the caller's
/// transaction. No delivery row is written yet: the batch's rows are
/// written once, with their outcome, by `finish_deliveries`; until then
/// the lease row stands for them (and is turned into queued deliveries if
/// it expires), so the cursor never passes a subscriber whose delivery is
/// neither confirmed nor durably pending.
macro_rules! lease_range {
    ($c:expr, $b:expr, $want:expr, $a:expr, $out:expr) => {{
        let b: &BroadcastRow = $b;
        let found: Vec<(i64, Option<Vec<u8>>)> = subscriptions::table
            .inner_join(subscribers::table)
            .filter(subscriptions::category_id.eq(b.category_id))
            .filter(subscriptions::subscriber_id.gt(b.fanout_cursor))
            // The same bound on the subscribers' side: PostgreSQL does not
            // carry an inequality across the join, and a merge join then
            // reads every subscriber below the cursor on each claim (a
            // 100,000-subscriber broadcast read 5 million rows).
            .filter(subscribers::id.gt(b.fanout_cursor))
            .filter(subscribers::channel.eq(&b.channel))
            .filter(subscribers::status.eq(SubscriberStatus::Active.as_str()))
            .order(subscriptions::subscriber_id.asc())
            .limit($want)
            .select((
                subscriptions::subscriber_id,
                subscribers::address_ciphertext,
            ))
            .load($c)?;
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        $out.ciphertexts.extend(found);
        let done = (ids.len() as i64) < $want;
        if let Some(&last) = ids.last() {
            let lease: i64 = diesel::insert_into(fanout_leases::table)
                .values((
                    fanout_leases::broadcast_id.eq(b.id),
                    fanout_leases::after_subscriber.eq(b.fanout_cursor),
                    fanout_leases::through_subscriber.eq(last),
                    fanout_leases::size.eq(ids.len() as i32),
                    fanout_leases::owner.eq($a.owner),
                    fanout_leases::lease_until.eq($a.lease),
                    fanout_leases::created_at.eq($a.now),
                ))
                .returning(fanout_leases::id)
                .get_result($c)?;
            $out.fanout_leases.push(FanoutLease {
                id: lease,
                broadcast_id: b.id,
            });
        }
        diesel::update(broadcasts::table.find(b.id))
            .set((
                broadcasts::fanout_cursor.eq(ids.last().copied().unwrap_or(b.fanout_cursor)),
                broadcasts::fanout_done.eq(done),
                broadcasts::updated_at.eq($a.now),
            ))
            .execute($c)?;
        $out.items.extend(ids.into_iter().map(|sid| Claimed {
            delivery_id: None,
            broadcast_id: b.id,
            announcement_id: b.announcement_id,
            subscriber_id: Some(sid),
            attempts: 1,
            priority: b.priority,
            target: None,
        }));
    }};
}

impl Database {
    /// Claims up to `limit` deliveries of `channel` for `owner` under a
    /// lease until `lease_until`: due queued deliveries and fresh ones from
    /// the cursors of due broadcasts, most urgent first. Subscribers who
    /// left and paused or cancelled broadcasts are passed over.
    pub fn claim_deliveries(
        &self,
        channel: ChannelKind,
        owner: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Claim, StorageError> {
        let args = ClaimArgs {
            channel: channel.as_str(),
            owner,
            limit,
            lease: time::to_db(lease_until),
            now: time::to_db(now),
        };
        let now = args.now;
        macro_rules! pending {
            () => {
                broadcasts::table
                    .filter(broadcasts::channel.eq(args.channel))
                    .filter(broadcasts::state.eq(BroadcastState::Active.as_str()))
                    .filter(broadcasts::fanout_done.eq(false))
                    .filter(broadcasts::not_before.le(now))
                    .order((broadcasts::priority.desc(), broadcasts::id.asc()))
                    .select(BroadcastRow::as_select())
            };
        }
        // The most urgent broadcast still fanning out or with batches in
        // flight: less urgent work waits until it is through.
        macro_rules! top {
            () => {
                broadcasts::table
                    .filter(broadcasts::channel.eq(args.channel))
                    .filter(broadcasts::state.eq(BroadcastState::Active.as_str()))
                    .filter(broadcasts::not_before.le(now))
                    .filter(broadcasts::fanout_done.eq(false).or(diesel::dsl::exists(
                        fanout_leases::table.filter(fanout_leases::broadcast_id.eq(broadcasts::id)),
                    )))
                    .select(diesel::dsl::max(broadcasts::priority))
            };
        }
        match self.pool() {
            Pool::Sqlite(p) => p.get()?.immediate_transaction(|c| {
                claim_body!(
                    c,
                    FOLLOW_SQLITE,
                    QUEUED_SQLITE,
                    top!().first(c)?,
                    pending!().load(c)?,
                    &args
                )
            }),
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                // A broadcast another worker is materialising is skipped,
                // not waited for.
                c.transaction(|c| {
                    claim_body!(
                        c,
                        FOLLOW_PG,
                        QUEUED_PG,
                        top!().first(c)?,
                        pending!().for_update().skip_locked().load(c)?,
                        &args
                    )
                })
            }
        }
    }

    /// Puts work whose lease expired (its worker died) back in the queue:
    /// leased delivery rows become queued again, and expired fan-out
    /// leases become queued delivery rows for their subscribers who are
    /// still active. Returns how many deliveries were queued again.
    pub fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let now = time::to_db(now);
        macro_rules! body {
            ($c:expr, $rows_sql:expr, $range_sql:expr, $expired:expr) => {{
                let mut n = diesel::sql_query($rows_sql)
                    .bind::<Timestamp, _>(now)
                    .execute($c)?;
                let expired: Vec<(i64, i64, i64, i64)> = $expired;
                for (lease, broadcast, after, through) in expired {
                    n += diesel::sql_query($range_sql)
                        .bind::<Timestamp, _>(now)
                        .bind::<BigInt, _>(broadcast)
                        .bind::<BigInt, _>(after)
                        .bind::<BigInt, _>(through)
                        .execute($c)?;
                    diesel::delete(fanout_leases::table.find(lease)).execute($c)?;
                }
                Ok::<_, StorageError>(n)
            }};
        }
        macro_rules! expired {
            () => {
                fanout_leases::table
                    .filter(fanout_leases::lease_until.lt(now))
                    .select((
                        fanout_leases::id,
                        fanout_leases::broadcast_id,
                        fanout_leases::after_subscriber,
                        fanout_leases::through_subscriber,
                    ))
            };
        }
        match self.pool() {
            Pool::Sqlite(p) => p.get()?.immediate_transaction(|c| {
                body!(c, RECLAIM_SQLITE, RANGE_SQLITE, expired!().load(c)?)
            }),
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(|c| {
                    body!(
                        c,
                        RECLAIM_PG,
                        RANGE_PG,
                        expired!().for_update().skip_locked().load(c)?
                    )
                })
            }
        }
    }

    /// Decrypted addresses of a claim's recipients (erased ones are
    /// absent): fresh work brought its ciphertexts along, the rest is read.
    pub fn claim_addresses(
        &self,
        claim: &Claim,
    ) -> Result<std::collections::HashMap<Id, String>, StorageError> {
        let missing: Vec<Id> = claim
            .items
            .iter()
            .filter(|i| i.delivery_id.is_some())
            .filter_map(|i| i.subscriber_id)
            .collect();
        let mut out = self.subscriber_addresses(&missing)?;
        out.reserve(claim.ciphertexts.len());
        for (id, ct) in &claim.ciphertexts {
            if let Some(ct) = ct {
                out.insert(*id, self.decrypt_address(*id, ct)?);
            }
        }
        Ok(out)
    }

    fn decrypt_address(&self, subscriber: Id, ct: &[u8]) -> Result<String, StorageError> {
        String::from_utf8(
            self.open_sealed(ct, &crate::storage::sealed::subscriber_address(subscriber))?,
        )
        .map_err(|_| StorageError::Crypto(crate::crypto::CryptoError::Decrypt))
    }

    /// Decrypted addresses of the given subscribers (erased ones are absent).
    pub fn subscriber_addresses(
        &self,
        ids: &[Id],
    ) -> Result<std::collections::HashMap<Id, String>, StorageError> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ADDRESS_CHUNK) {
            let rows: Vec<(i64, Option<Vec<u8>>)> = with_conn!(self, |c| subscribers::table
                .filter(subscribers::id.eq_any(chunk))
                .select((subscribers::id, subscribers::address_ciphertext))
                .load(c)?);
            for (id, ct) in rows {
                if let Some(ct) = ct {
                    out.insert(id, self.decrypt_address(id, &ct)?);
                }
            }
        }
        Ok(out)
    }
}

const RECLAIM_SQLITE: &str =
    "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
     updated_at = ?1 WHERE state = 'sending' AND lease_until < ?1";

const RECLAIM_PG: &str =
    "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
     updated_at = $1 WHERE state = 'sending' AND lease_until < $1";

/// The subscribers of an expired fan-out lease, as queued deliveries
/// (counted as one attempt: the batch may have gone out).
const RANGE_SQLITE: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, created_at, updated_at, broadcast_id, priority, next_attempt_at) \
     SELECT b.announcement_id, b.channel, sub.subscriber_id, 'queued', 1, ?1, ?1, b.id, \
       b.priority, ?1 \
     FROM broadcasts b JOIN subscriptions sub ON sub.category_id = b.category_id \
     JOIN subscribers s ON s.id = sub.subscriber_id \
     WHERE b.id = ?2 AND sub.subscriber_id > ?3 AND sub.subscriber_id <= ?4 \
       AND s.id > ?3 AND s.id <= ?4 AND s.channel = b.channel AND s.status = 'active' \
     ON CONFLICT DO NOTHING";

const RANGE_PG: &str = "INSERT INTO deliveries (announcement_id, channel, subscriber_id, \
     state, attempts, created_at, updated_at, broadcast_id, priority, next_attempt_at) \
     SELECT b.announcement_id, b.channel, sub.subscriber_id, 'queued', 1, $1, $1, b.id, \
       b.priority, $1 \
     FROM broadcasts b JOIN subscriptions sub ON sub.category_id = b.category_id \
     JOIN subscribers s ON s.id = sub.subscriber_id \
     WHERE b.id = $2 AND sub.subscriber_id > $3 AND sub.subscriber_id <= $4 \
       AND s.id > $3 AND s.id <= $4 AND s.channel = b.channel AND s.status = 'active' \
     ON CONFLICT DO NOTHING";
