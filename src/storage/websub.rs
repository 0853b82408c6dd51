//! WebSub subscriptions (Herold is the hub of its own feeds) and the queue of
//! pending content distributions: at most one per subscription, since only a
//! topic's latest content matters and it is rendered when it is sent.
//! Secrets are stored encrypted, like subscriber addresses.

use chrono::{DateTime, Utc};
use diesel::{
    dsl::{count_star, max},
    prelude::*,
};
use zeroize::Zeroizing;

use super::{
    schema::{announcements, categories, websub_deliveries as wd, websub_subscriptions as ws},
    time, with_conn, with_write_tx, Database, Pool, StorageError,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = ws)]
struct Row {
    id: i64,
    topic: String,
    callback: String,
    secret_ciphertext: Option<Vec<u8>>,
    content_mark: String,
    expires_at: chrono::NaiveDateTime,
    failures: i32,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl From<Row> for WebsubSubscription {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            topic: r.topic,
            callback: r.callback,
            has_secret: r.secret_ciphertext.is_some(),
            content_mark: r.content_mark,
            expires_at: time::from_db(r.expires_at),
            failures: r.failures,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        }
    }
}

/// A verified WebSub subscription. The secret stays in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct WebsubSubscription {
    pub id: i64,
    /// The feed URL subscribed to.
    pub topic: String,
    /// Where distributions are POSTed.
    pub callback: String,
    /// Whether distributions are signed.
    pub has_secret: bool,
    /// The topic's state the subscriber last heard about.
    pub content_mark: String,
    /// End of the lease (exclusive).
    pub expires_at: DateTime<Utc>,
    /// Failed distribution attempts since the last success.
    pub failures: i32,
    pub created_at: DateTime<Utc>,
    /// Last subscribe or renewal.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebsubSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebsubSubscription")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .field("callback", &"<redacted>")
            .field("has_secret", &self.has_secret)
            .field("expires_at", &self.expires_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// A subscription to create, or to renew if (topic, callback) exists.
pub struct NewWebsubSubscription<'a> {
    pub topic: &'a str,
    pub callback: &'a str,
    /// `hub.secret`; encrypted before storage. A renewal replaces it.
    pub secret: Option<&'a [u8]>,
    pub expires_at: DateTime<Utc>,
    /// The topic's current state; kept on renewal, so a change not yet
    /// distributed is not forgotten.
    pub content_mark: &'a str,
}

/// What change detection needs of an active subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsubMark {
    pub subscription_id: i64,
    pub topic: String,
    pub content_mark: String,
}

/// A subscription whose topic changed from `seen` to `current`.
#[derive(Debug, Clone, Copy)]
pub struct MarkChange<'a> {
    pub subscription_id: i64,
    pub seen: &'a str,
    pub current: &'a str,
}

/// A pending distribution, claimed for sending until its claim expires.
pub struct WebsubClaim {
    pub delivery_id: i64,
    /// Changes queued since the distribution was created; if it moves while
    /// sending, the distribution is sent again.
    pub generation: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    pub subscription_id: i64,
    pub topic: String,
    pub callback: String,
    /// The decrypted `hub.secret`.
    pub secret: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for WebsubClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebsubClaim")
            .field("delivery_id", &self.delivery_id)
            .field("generation", &self.generation)
            .field("attempts", &self.attempts)
            .field("subscription_id", &self.subscription_id)
            .field("topic", &self.topic)
            .field("callback", &"<redacted>")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A pending distribution as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDistribution {
    pub subscription_id: i64,
    /// Changes queued while it was pending.
    pub generation: i64,
    /// Failed attempts so far.
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = wd)]
struct PendingRow {
    subscription_id: i64,
    generation: i64,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    last_error: Option<String>,
}

/// How a claimed distribution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebsubOutcome {
    /// The subscriber accepted it.
    Delivered,
    /// Try again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Give up on this distribution; the subscription stays.
    Dropped { error: String },
    /// End the subscription (gone, rejected, or out of attempts).
    Ended,
}

/// The announcements of one category visible at a moment, summarised.
/// Announcements are never deleted and only scheduled ones can be
/// cancelled, so the visible set only grows: any change to what the
/// category's feeds show changes these values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryActivity {
    pub slug: String,
    /// Announcements published by then and not cancelled.
    pub visible: i64,
    pub newest_id: Option<i64>,
    pub newest_publish_at: Option<DateTime<Utc>>,
}

#[derive(Queryable)]
struct ClaimRow {
    delivery_id: i64,
    generation: i64,
    attempts: i32,
    subscription_id: i64,
    topic: String,
    callback: String,
    secret_ciphertext: Option<Vec<u8>>,
}

/// The upsert of [`Database::upsert_websub_subscription`] inside a write
/// transaction on `$c`; the [`Row`]. A macro for the same reason as
/// `with_conn!`: the body is compiled once per backend.
macro_rules! upsert_row {
    ($db:expr, $c:expr, $new:expr) => {{
        let new: &NewWebsubSubscription<'_> = $new;
        let now = $crate::storage::time::to_db($crate::storage::time::now());
        let expires = $crate::storage::time::to_db(new.expires_at);
        // The secret is sealed to the row, whose id the upsert gives.
        let mut row: Row = diesel::insert_into(ws::table)
            .values((
                ws::topic.eq(new.topic),
                ws::callback.eq(new.callback),
                ws::secret_ciphertext.eq(None::<Vec<u8>>),
                ws::content_mark.eq(new.content_mark),
                ws::expires_at.eq(expires),
                ws::failures.eq(0),
                ws::created_at.eq(now),
                ws::updated_at.eq(now),
            ))
            .on_conflict((ws::topic, ws::callback))
            .do_update()
            .set((
                ws::secret_ciphertext.eq(None::<Vec<u8>>),
                ws::expires_at.eq(expires),
                ws::failures.eq(0),
                ws::updated_at.eq(now),
            ))
            .returning(Row::as_returning())
            .get_result($c)?;
        let cipher = new
            .secret
            .map(|s| $db.seal(s, &$crate::storage::sealed::websub_secret(row.id)));
        diesel::update(ws::table.find(row.id))
            .set(ws::secret_ciphertext.eq(&cipher))
            .execute($c)?;
        row.secret_ciphertext = cipher;
        row
    }};
}

// After the macro, which it uses.
mod caps;
pub use caps::{WebsubCapReached, WebsubCaps};

impl Database {
    /// Creates a subscription, or renews the one for (topic, callback) with
    /// the new secret and lease.
    pub fn upsert_websub_subscription(
        &self,
        new: &NewWebsubSubscription<'_>,
    ) -> Result<WebsubSubscription, StorageError> {
        let row: Row = with_write_tx!(self, |c| Ok(upsert_row!(self, c, new)))?;
        Ok(row.into())
    }

    /// Deletes the subscription for (topic, callback) with its pending
    /// distribution. Returns whether there was one.
    pub fn delete_websub_subscription(
        &self,
        topic: &str,
        callback: &str,
    ) -> Result<bool, StorageError> {
        let n = with_write_tx!(self, |c| {
            let ids = ws::table
                .filter(ws::topic.eq(topic))
                .filter(ws::callback.eq(callback))
                .select(ws::id);
            diesel::delete(wd::table.filter(wd::subscription_id.eq_any(ids))).execute(c)?;
            Ok(diesel::delete(
                ws::table
                    .filter(ws::topic.eq(topic))
                    .filter(ws::callback.eq(callback)),
            )
            .execute(c)?)
        })?;
        Ok(n > 0)
    }

    /// The subscription for (topic, callback), if any.
    pub fn find_websub_subscription(
        &self,
        topic: &str,
        callback: &str,
    ) -> Result<Option<WebsubSubscription>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| ws::table
            .filter(ws::topic.eq(topic))
            .filter(ws::callback.eq(callback))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        Ok(row.map(Into::into))
    }

    /// All subscriptions, expired ones included, oldest first.
    pub fn list_websub_subscriptions(&self) -> Result<Vec<WebsubSubscription>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| ws::table
            .order(ws::id.asc())
            .select(Row::as_select())
            .load(c)?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The pending distribution of a subscription, if any.
    pub fn websub_pending(
        &self,
        subscription_id: i64,
    ) -> Result<Option<PendingDistribution>, StorageError> {
        let row: Option<PendingRow> = with_conn!(self, |c| wd::table
            .filter(wd::subscription_id.eq(subscription_id))
            .select(PendingRow::as_select())
            .first(c)
            .optional()?);
        Ok(row.map(|r| PendingDistribution {
            subscription_id: r.subscription_id,
            generation: r.generation,
            attempts: r.attempts,
            next_attempt_at: time::from_db(r.next_attempt_at),
            last_error: r.last_error,
        }))
    }

    /// Topic and mark of every subscription whose lease has not ended.
    pub fn websub_marks(&self, now: DateTime<Utc>) -> Result<Vec<WebsubMark>, StorageError> {
        let now = time::to_db(now);
        let rows: Vec<(i64, String, String)> = with_conn!(self, |c| ws::table
            .filter(ws::expires_at.gt(now))
            .order(ws::id.asc())
            .select((ws::id, ws::topic, ws::content_mark))
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(subscription_id, topic, content_mark)| WebsubMark {
                subscription_id,
                topic,
                content_mark,
            })
            .collect())
    }

    /// Records new marks and queues one distribution per changed
    /// subscription, in one transaction. A subscription whose mark moved
    /// meanwhile (another process) or that is gone is left alone; one that
    /// already has a pending distribution keeps it, with its generation
    /// bumped. Returns how many subscriptions were queued.
    pub fn enqueue_websub_changes(
        &self,
        changes: &[MarkChange<'_>],
        now: DateTime<Utc>,
    ) -> Result<usize, StorageError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let now = time::to_db(now);
        with_write_tx!(self, |c| {
            let mut queued = 0;
            for ch in changes {
                let moved = diesel::update(
                    ws::table
                        .filter(ws::id.eq(ch.subscription_id))
                        .filter(ws::content_mark.eq(ch.seen)),
                )
                .set(ws::content_mark.eq(ch.current))
                .execute(c)?;
                if moved == 0 {
                    continue;
                }
                diesel::insert_into(wd::table)
                    .values((
                        wd::subscription_id.eq(ch.subscription_id),
                        wd::generation.eq(0_i64),
                        wd::attempts.eq(0),
                        wd::next_attempt_at.eq(now),
                        wd::created_at.eq(now),
                        wd::updated_at.eq(now),
                    ))
                    .on_conflict(wd::subscription_id)
                    .do_update()
                    .set((
                        wd::generation.eq(wd::generation + 1_i64),
                        wd::updated_at.eq(now),
                    ))
                    .execute(c)?;
                queued += 1;
            }
            Ok(queued)
        })
    }

    /// Claims up to `limit` due distributions of active subscriptions, oldest
    /// first, until `claim_until` (when another process may take them over).
    pub fn claim_websub_deliveries(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<WebsubClaim>, StorageError> {
        let now = time::to_db(now);
        let until = time::to_db(claim_until);
        // Most polls find nothing: look before taking SQLite's write lock.
        let due: Option<i64> = with_conn!(self, |c| wd::table
            .filter(wd::next_attempt_at.le(now))
            .select(wd::id)
            .first(c)
            .optional()?);
        if due.is_none() {
            return Ok(Vec::new());
        }
        macro_rules! due {
            () => {
                wd::table
                    .inner_join(ws::table)
                    .filter(wd::next_attempt_at.le(now))
                    .filter(ws::expires_at.gt(now))
                    .order((wd::next_attempt_at.asc(), wd::id.asc()))
                    .limit(limit)
                    .select(wd::id)
            };
        }
        macro_rules! body {
            ($c:expr, $ids:expr) => {{
                let ids: Vec<i64> = $ids;
                let c = $c;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                diesel::update(wd::table.filter(wd::id.eq_any(&ids)))
                    .set((wd::next_attempt_at.eq(until), wd::updated_at.eq(now)))
                    .execute(c)?;
                let rows: Vec<ClaimRow> = wd::table
                    .inner_join(ws::table)
                    .filter(wd::id.eq_any(&ids))
                    .order(wd::id.asc())
                    .select((
                        wd::id,
                        wd::generation,
                        wd::attempts,
                        ws::id,
                        ws::topic,
                        ws::callback,
                        ws::secret_ciphertext,
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
        rows.into_iter()
            .map(|r| {
                let secret = r
                    .secret_ciphertext
                    .map(|ct| {
                        self.open_sealed(&ct, &super::sealed::websub_secret(r.subscription_id))
                            .map(Zeroizing::new)
                    })
                    .transpose()?;
                Ok(WebsubClaim {
                    delivery_id: r.delivery_id,
                    generation: r.generation,
                    attempts: u32::try_from(r.attempts).unwrap_or(0),
                    subscription_id: r.subscription_id,
                    topic: r.topic,
                    callback: r.callback,
                    secret,
                })
            })
            .collect()
    }

    /// Records how a claimed distribution ended.
    pub fn finish_websub_delivery(
        &self,
        claim: &WebsubClaim,
        outcome: &WebsubOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(now);
        with_write_tx!(self, |c| {
            let delivery = wd::table.filter(wd::id.eq(claim.delivery_id));
            let subscription = ws::table.filter(ws::id.eq(claim.subscription_id));
            match outcome {
                WebsubOutcome::Delivered | WebsubOutcome::Dropped { .. } => {
                    let done = diesel::delete(delivery.filter(wd::generation.eq(claim.generation)))
                        .execute(c)?;
                    if done == 0 {
                        // The topic changed while sending: send again now.
                        diesel::update(delivery)
                            .set((
                                wd::next_attempt_at.eq(now),
                                wd::attempts.eq(0),
                                wd::last_error.eq(None::<String>),
                                wd::updated_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                    if *outcome == WebsubOutcome::Delivered {
                        diesel::update(subscription)
                            .set(ws::failures.eq(0))
                            .execute(c)?;
                    } else {
                        diesel::update(subscription)
                            .set(ws::failures.eq(ws::failures + 1))
                            .execute(c)?;
                    }
                }
                WebsubOutcome::Retry { at, error } => {
                    diesel::update(delivery)
                        .set((
                            wd::attempts.eq(wd::attempts + 1),
                            wd::next_attempt_at.eq(time::to_db(*at)),
                            wd::last_error.eq(Some(error.as_str())),
                            wd::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    diesel::update(subscription)
                        .set(ws::failures.eq(ws::failures + 1))
                        .execute(c)?;
                }
                WebsubOutcome::Ended => {
                    diesel::delete(wd::table.filter(wd::subscription_id.eq(claim.subscription_id)))
                        .execute(c)?;
                    diesel::delete(subscription).execute(c)?;
                }
            }
            Ok(())
        })
    }

    /// Deletes subscriptions whose lease ended by `now`, with their pending
    /// distributions. Returns how many.
    pub fn purge_expired_websub(&self, now: DateTime<Utc>) -> Result<usize, StorageError> {
        let now = time::to_db(now);
        let expired: Option<i64> = with_conn!(self, |c| ws::table
            .filter(ws::expires_at.le(now))
            .select(ws::id)
            .first(c)
            .optional()?);
        if expired.is_none() {
            return Ok(0);
        }
        with_write_tx!(self, |c| {
            let ids = ws::table.filter(ws::expires_at.le(now)).select(ws::id);
            diesel::delete(wd::table.filter(wd::subscription_id.eq_any(ids))).execute(c)?;
            Ok(diesel::delete(ws::table.filter(ws::expires_at.le(now))).execute(c)?)
        })
    }

    /// Per category with announcements visible at `now` (published, not
    /// cancelled): how many, and the newest. Cheap enough to poll every second.
    pub fn category_activity(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<CategoryActivity>, StorageError> {
        let now = time::to_db(now);
        type Aggregate = (String, i64, Option<i64>, Option<chrono::NaiveDateTime>);
        let rows: Vec<Aggregate> = with_conn!(self, |c| announcements::table
            .inner_join(categories::table)
            .filter(announcements::publish_at.le(now))
            .filter(announcements::cancelled_at.is_null())
            .group_by(categories::slug)
            .select((
                categories::slug,
                count_star(),
                max(announcements::id),
                max(announcements::publish_at),
            ))
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(slug, visible, newest_id, newest)| CategoryActivity {
                slug,
                visible,
                newest_id,
                newest_publish_at: time::from_db_opt(newest),
            })
            .collect())
    }
}
