//! Counts for the staff statistics: active subscribers per channel and per
//! category at a series of moments, each in one pass over the table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;

use super::{time, with_conn, Database, StorageError};
use crate::domain::Id;

#[derive(QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    cb: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    eb: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `CASE WHEN {column} <= t0 THEN 0 WHEN … ELSE n END`: the first moment
/// at or after `column`. The moments are formatted by Herold (digits
/// only), so they are inlined rather than bound: the statement is the
/// same on both backends.
fn bucket_case(column: &str, moments: &[DateTime<Utc>]) -> String {
    let mut sql = format!("CASE WHEN ({column}) IS NULL THEN {}", moments.len());
    for (i, m) in moments.iter().enumerate() {
        let at = time::to_db(*m).format("%Y-%m-%d %H:%M:%S");
        sql.push_str(&format!(" WHEN ({column}) <= '{at}' THEN {i}"));
    }
    sql.push_str(&format!(" ELSE {} END", moments.len()));
    sql
}

/// Per key, how many rows were active at each moment: begun (`cb`) at or
/// before it and not ended (`eb`) by it.
fn fold(rows: Vec<BucketRow>, moments: usize) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in rows {
        let series = out.entry(r.key).or_insert_with(|| vec![0; moments]);
        let (from, to) = (
            usize::try_from(r.cb).unwrap_or(moments),
            usize::try_from(r.eb).unwrap_or(moments),
        );
        for slot in series.iter_mut().take(to.min(moments)).skip(from) {
            *slot += r.n;
        }
    }
    out
}

impl Database {
    /// Active subscribers per channel at each of `moments` (ascending).
    pub fn subscribers_over_time(
        &self,
        moments: &[DateTime<Utc>],
    ) -> Result<BTreeMap<String, Vec<i64>>, StorageError> {
        let sql = format!(
            "SELECT channel AS key, CAST({} AS INTEGER) AS cb, CAST({} AS INTEGER) AS eb, COUNT(*) AS n \
             FROM subscribers WHERE confirmed_at IS NOT NULL GROUP BY channel, cb, eb",
            bucket_case("confirmed_at", moments),
            bucket_case("ended_at", moments),
        );
        let rows: Vec<BucketRow> = with_conn!(self, |c| diesel::sql_query(&sql).load(c)?);
        Ok(fold(rows, moments.len()))
    }

    /// Active subscribers per category id at each of `moments`: a
    /// subscription counts from when it was chosen (and confirmed) until
    /// its resident left. Categories a resident dropped are gone from
    /// this history (the consent ledger keeps them).
    pub fn category_subscribers_over_time(
        &self,
        moments: &[DateTime<Utc>],
    ) -> Result<BTreeMap<Id, Vec<i64>>, StorageError> {
        let begun =
            "CASE WHEN sub.created_at > s.confirmed_at THEN sub.created_at ELSE s.confirmed_at END";
        let sql = format!(
            "SELECT CAST(sub.category_id AS TEXT) AS key, CAST({} AS INTEGER) AS cb, CAST({} AS INTEGER) AS eb, COUNT(*) AS n \
             FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE s.confirmed_at IS NOT NULL GROUP BY sub.category_id, cb, eb",
            bucket_case(begun, moments),
            bucket_case("s.ended_at", moments),
        );
        let rows: Vec<BucketRow> = with_conn!(self, |c| diesel::sql_query(&sql).load(c)?);
        Ok(fold(rows, moments.len())
            .into_iter()
            .filter_map(|(k, v)| k.parse().ok().map(|id| (id, v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_between_begin_and_end() {
        let rows = vec![
            // Begun before the first moment, never ended.
            BucketRow {
                key: "email".into(),
                cb: 0,
                eb: 3,
                n: 5,
            },
            // Begun by the second moment, ended by the third.
            BucketRow {
                key: "email".into(),
                cb: 1,
                eb: 2,
                n: 2,
            },
            // Begun after the last moment.
            BucketRow {
                key: "telegram".into(),
                cb: 3,
                eb: 3,
                n: 9,
            },
        ];
        let out = fold(rows, 3);
        assert_eq!(out["email"], vec![5, 7, 5]);
        assert_eq!(out["telegram"], vec![0, 0, 0]);
    }
}
