//! Timestamps are stored as UTC without zone (`TIMESTAMP`) on both backends,
//! truncated to microseconds (PostgreSQL's precision) so values read back
//! equal values written on either backend.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// To storage.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc().trunc_subsecs(6)
}

/// From storage.
pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Optional variant of [`from_db`].
pub fn from_db_opt(t: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    t.map(from_db)
}

/// Now, at storage precision.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// How diesel writes a `TIMESTAMP` on SQLite (and what PostgreSQL parses):
/// for values built inside SQL, e.g. from JSON, that must compare equal to
/// bound ones.
pub const SQL_FORMAT: &str = "%F %T%.f";
