//! The rate limiter shared by every worker on one database: a token
//! bucket per channel, and the channel-wide pause after a 429 or while a
//! channel is misconfigured.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use crate::storage::{
    audit::audit_tx, schema::channel_limits, time, with_conn, with_write_tx, AuditWith, Database,
    Pool, StorageError,
};

/// Tokens granted by the shared rate limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant {
    pub granted: u32,
    /// The channel is paused until then (429 or held).
    pub paused_until: Option<DateTime<Utc>>,
    /// Tokens the bucket held at `at`, before granting (negative while
    /// tokens are reserved ahead): when each granted token is due.
    pub available: f64,
    /// The bucket's time of this grant, which [`Grant::delay`] counts from:
    /// the caller's `now`, or the previous grant's if that was later (a
    /// caller that waited for the row lock), so the bucket's clock never
    /// goes back.
    pub at: DateTime<Utc>,
}

impl Grant {
    /// How long after [`Grant::at`] its token `i` (from 0) may be used: at
    /// once for tokens the bucket held, then one per `1 / rate` seconds
    /// for tokens reserved ahead ([`Database::reserve_tokens`]).
    pub fn delay(&self, i: u32, rate: f64) -> std::time::Duration {
        let due = (f64::from(i) + 1.0 - self.available) / rate;
        if due.is_finite() && due > 0.0 {
            std::time::Duration::from_secs_f64(due.min(3600.0))
        } else {
            std::time::Duration::ZERO
        }
    }
}

/// What resuming a channel lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelResumed {
    /// The channel was paused (after a 429, until a time still ahead) or held.
    pub was_paused: bool,
    /// Why it was held, if it was (an operator message, no personal data).
    pub held_reason: Option<String>,
}

impl Database {
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
        self.reserve_tokens(channel, want, rate, burst, std::time::Duration::ZERO, now)
    }

    /// Like [`Database::take_tokens`], but also reserves tokens that the
    /// bucket will only have within `ahead` (it goes negative): token `i`
    /// of the grant is due [`Grant::delay`] later. A worker that paces its
    /// sends by those delays sends evenly at `rate`, however long its own
    /// round trips take, and every worker's tokens stay in one sequence;
    /// in any period `t` at most `burst + rate × t` are due, as with
    /// [`Database::take_tokens`].
    pub fn reserve_tokens(
        &self,
        channel: ChannelKind,
        want: u32,
        rate: f64,
        burst: u32,
        ahead: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Grant, StorageError> {
        let reservable = rate * ahead.as_secs_f64();
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
                        available: 0.0,
                        at: now,
                    });
                }
                let now_db = now_db.max(refilled);
                let elapsed =
                    (now_db - refilled).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                let available = (tokens + elapsed * rate).min(f64::from(burst));
                let granted = ((available + reservable).floor().max(0.0) as u32).min(want);
                diesel::update(channel_limits::table.find(ch))
                    .set((
                        channel_limits::tokens.eq(available - f64::from(granted)),
                        channel_limits::refilled_at.eq(now_db),
                    ))
                    .execute($c)?;
                Ok::<_, StorageError>(Grant {
                    granted,
                    paused_until: None,
                    available,
                    at: time::from_db(now_db),
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

    /// Lifts a channel pause or hold and records `audit` with what it lifted.
    pub fn resume_channel(
        &self,
        channel: ChannelKind,
        audit: &AuditWith<'_, ChannelResumed>,
    ) -> Result<ChannelResumed, StorageError> {
        let now = time::to_db(time::now());
        let ch = channel.as_str();
        with_write_tx!(self, |c| {
            let before: Option<(Option<chrono::NaiveDateTime>, Option<String>)> =
                channel_limits::table
                    .find(ch)
                    .select((channel_limits::paused_until, channel_limits::held_reason))
                    .first(c)
                    .optional()?;
            let (paused_until, held_reason) = before.unwrap_or_default();
            diesel::update(channel_limits::table.find(ch))
                .set((
                    channel_limits::paused_until.eq(None::<chrono::NaiveDateTime>),
                    channel_limits::held_reason.eq(None::<String>),
                ))
                .execute(c)?;
            let resumed = ChannelResumed {
                was_paused: held_reason.is_some() || paused_until.is_some_and(|t| t > now),
                held_reason,
            };
            audit_tx!(c, audit, &resumed);
            Ok(resumed)
        })
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
}

/// A channel that is paused or held: its name, the end of the pause and
/// the reason it is held.
pub type ChannelHold = (String, Option<DateTime<Utc>>, Option<String>);

impl Database {
    /// Every channel that is paused (until a time still ahead) or held,
    /// with its pause end and hold reason.
    pub fn channel_holds(&self) -> Result<Vec<ChannelHold>, StorageError> {
        let now = time::to_db(time::now());
        let rows: Vec<(String, Option<chrono::NaiveDateTime>, Option<String>)> =
            with_conn!(self, |c| channel_limits::table
                .filter(
                    channel_limits::held_reason
                        .is_not_null()
                        .or(channel_limits::paused_until.gt(now))
                )
                .select((
                    channel_limits::channel,
                    channel_limits::paused_until,
                    channel_limits::held_reason
                ))
                .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(c, until, reason)| (c, time::from_db_opt(until), reason))
            .collect())
    }
}
