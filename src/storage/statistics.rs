//! Counts for the staff statistics: active subscribers per channel and per
//! category at a series of moments. One grouped query per series counts
//! rows by the hour they began and the hour they ended (a few thousand
//! groups at most, however many subscribers there are); the moments are
//! then summed up in Rust.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

use super::{with_conn, Database, Pool, StorageError};
use crate::domain::Id;

#[derive(QueryableByName)]
struct HourRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    /// The hour it began, `YYYY-MM-DD HH` (UTC).
    #[diesel(sql_type = diesel::sql_types::Text)]
    began: String,
    /// The hour it ended, if it did.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    ended: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The end of hour `h` (`YYYY-MM-DD HH`, UTC).
fn hour_end(h: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(&format!("{h}:00:00"), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc() + TimeDelta::hours(1))
}

/// Per key, how many rows were active at each moment: begun by it and not
/// ended by it. Moments are whole hours (the town's midnights) except the
/// last, `now`, by which everything in the table has begun; a row counts
/// at a moment when its whole hour lies before it, so time zones whose
/// offset is not a whole number of hours count a row at most an hour late.
fn fold(rows: Vec<HourRow>, moments: &[DateTime<Utc>]) -> BTreeMap<String, Vec<i64>> {
    let last = moments.len().saturating_sub(1);
    let by =
        |end: Option<DateTime<Utc>>, i: usize| end.is_some_and(|e| e <= moments[i] || i == last);
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in rows {
        let series = out.entry(r.key).or_insert_with(|| vec![0; moments.len()]);
        let began = hour_end(&r.began);
        let ended = r.ended.as_deref().and_then(hour_end);
        for (i, slot) in series.iter_mut().enumerate() {
            // Ended rows: the moment must come before the hour it ended in
            // began, so within that hour it no longer counts.
            let ended_by = ended.is_some_and(|e| e - TimeDelta::hours(1) < moments[i]);
            if by(began, i) && !ended_by {
                *slot += r.n;
            }
        }
    }
    out
}

impl Database {
    fn hour_rows(&self, sqlite: &str, postgres: &str) -> Result<Vec<HourRow>, StorageError> {
        Ok(match self.pool() {
            Pool::Sqlite(_) => with_conn!(self, |c| diesel::sql_query(sqlite).load(c)?),
            Pool::Postgres(_) => with_conn!(self, |c| diesel::sql_query(postgres).load(c)?),
        })
    }

    /// Active subscribers per channel at each of `moments` (ascending,
    /// the last one now).
    pub fn subscribers_over_time(
        &self,
        moments: &[DateTime<Utc>],
    ) -> Result<BTreeMap<String, Vec<i64>>, StorageError> {
        let rows = self.hour_rows(
            "SELECT channel AS key, substr(confirmed_at, 1, 13) AS began, \
             substr(ended_at, 1, 13) AS ended, COUNT(*) AS n FROM subscribers \
             WHERE confirmed_at IS NOT NULL GROUP BY channel, began, ended",
            "SELECT channel AS key, to_char(confirmed_at, 'YYYY-MM-DD HH24') AS began, \
             to_char(ended_at, 'YYYY-MM-DD HH24') AS ended, COUNT(*) AS n FROM subscribers \
             WHERE confirmed_at IS NOT NULL GROUP BY 1, 2, 3",
        )?;
        Ok(fold(rows, moments))
    }

    /// Active subscribers per category id at each of `moments`: a
    /// subscription counts from when it was chosen (and confirmed) until
    /// its resident left. Categories a resident dropped are gone from
    /// this history (the consent ledger keeps them).
    pub fn category_subscribers_over_time(
        &self,
        moments: &[DateTime<Utc>],
    ) -> Result<BTreeMap<Id, Vec<i64>>, StorageError> {
        let rows = self.hour_rows(
            "SELECT CAST(sub.category_id AS TEXT) AS key, \
             substr(max(sub.created_at, s.confirmed_at), 1, 13) AS began, \
             substr(s.ended_at, 1, 13) AS ended, COUNT(*) AS n \
             FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE s.confirmed_at IS NOT NULL GROUP BY sub.category_id, began, ended",
            "SELECT CAST(sub.category_id AS TEXT) AS key, \
             to_char(GREATEST(sub.created_at, s.confirmed_at), 'YYYY-MM-DD HH24') AS began, \
             to_char(s.ended_at, 'YYYY-MM-DD HH24') AS ended, COUNT(*) AS n \
             FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE s.confirmed_at IS NOT NULL GROUP BY 1, 2, 3",
        )?;
        Ok(fold(rows, moments)
            .into_iter()
            .filter_map(|(k, v)| k.parse().ok().map(|id| (id, v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(key: &str, began: &str, ended: Option<&str>, n: i64) -> HourRow {
        HourRow {
            key: key.into(),
            began: began.into(),
            ended: ended.map(Into::into),
            n,
        }
    }

    #[test]
    fn active_between_begin_and_end() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        let moments = [at(1, 23), at(2, 23), at(3, 12)];
        let out = fold(
            vec![
                // Before the first moment, never ended.
                row("email", "2026-11-30 10", None, 5),
                // In the hour before the second moment; ended after it.
                row("email", "2026-12-02 22", Some("2026-12-03 08"), 2),
                // After the second moment, within the last hour: now.
                row("telegram", "2026-12-03 12", None, 9),
                // Ended within the hour after the first moment: still there
                // at it, gone by the second.
                row("telegram", "2026-11-30 10", Some("2026-12-01 23"), 4),
            ],
            &moments,
        );
        assert_eq!(out["email"], vec![5, 7, 5]);
        assert_eq!(out["telegram"], vec![4, 0, 9]);
    }
}
