//! What the parity report reads: the announcements of a period, their
//! broadcasts, and their deliveries counted per channel, place and state.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use super::{
    schema::{announcements, broadcasts, deliveries},
    time, with_conn, Database, StorageError,
};
use crate::domain::Id;

/// Deliveries of one announcement on one channel (and follow place) in one
/// state, with the first and last time one of them was handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub channel: String,
    /// The public place of follow posts; `None` for subscribers.
    pub target: Option<String>,
    pub state: String,
    pub count: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

/// An announcement as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: Id,
    pub title: String,
    pub publish_at: DateTime<Utc>,
    pub category_id: Id,
}

type HandoverRow = (
    String,
    Option<String>,
    String,
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

impl Database {
    /// Announcements published in `from <= t < to` (and by `now`), not
    /// cancelled, oldest first.
    pub fn published_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Published>, StorageError> {
        let (from, to, now) = (time::to_db(from), time::to_db(to), time::to_db(now));
        let rows: Vec<(i64, String, NaiveDateTime, i64)> =
            with_conn!(self, |c| announcements::table
                .filter(announcements::publish_at.ge(from))
                .filter(announcements::publish_at.lt(to))
                .filter(announcements::publish_at.le(now))
                .filter(announcements::cancelled_at.is_null())
                .order((announcements::publish_at.asc(), announcements::id.asc()))
                .select((
                    announcements::id,
                    announcements::title,
                    announcements::publish_at,
                    announcements::category_id,
                ))
                .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(id, title, at, category_id)| Published {
                id,
                title,
                publish_at: time::from_db(at),
                category_id,
            })
            .collect())
    }

    /// The channels an announcement was broadcast on, with each
    /// broadcast's state (`active`, `paused`, `cancelled`, `done`).
    pub fn broadcast_channels_of(
        &self,
        announcement_id: Id,
    ) -> Result<Vec<(String, String)>, StorageError> {
        Ok(with_conn!(self, |c| broadcasts::table
            .filter(broadcasts::announcement_id.eq(announcement_id))
            .select((broadcasts::channel, broadcasts::state))
            .order(broadcasts::channel)
            .load(c)?))
    }

    /// An announcement's deliveries per channel, place and state.
    pub fn handovers_of(&self, announcement_id: Id) -> Result<Vec<Handover>, StorageError> {
        let rows: Vec<HandoverRow> = with_conn!(self, |c| deliveries::table
            .filter(deliveries::announcement_id.eq(announcement_id))
            .group_by((deliveries::channel, deliveries::target, deliveries::state))
            .select((
                deliveries::channel,
                deliveries::target,
                deliveries::state,
                count_star(),
                min(deliveries::sent_at),
                max(deliveries::sent_at),
            ))
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(channel, target, state, count, first, last)| Handover {
                channel,
                target,
                state,
                count: u64::try_from(count).unwrap_or(0),
                first: first.map(time::from_db),
                last: last.map(time::from_db),
            })
            .collect())
    }
}
