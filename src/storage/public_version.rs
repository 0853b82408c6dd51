//! What tells a server that the public documents changed: the counter the
//! triggers of migration `000027_public_version` bump on every write to
//! announcements, categories and media, and the next moment a scheduled
//! announcement becomes public (which changes them without a write).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::{announcements, public_version},
    time, with_conn, Database, StorageError,
};

/// The state of the public documents at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicState {
    /// Bumped by every change to what they show, by any process.
    pub version: i64,
    /// When the next scheduled (not withdrawn) announcement becomes public.
    pub next_due: Option<DateTime<Utc>>,
}

impl Database {
    /// Reads [`PublicState`] as of `now`: two indexed single-row reads.
    pub fn public_state(&self, now: DateTime<Utc>) -> Result<PublicState, StorageError> {
        let now = time::to_db(now);
        let (version, next_due) = with_conn!(self, |c| {
            let version: i64 = public_version::table
                .find(1_i64)
                .select(public_version::version)
                .first(c)
                .optional()?
                .unwrap_or(0);
            let next_due: Option<chrono::NaiveDateTime> = announcements::table
                .filter(announcements::publish_at.gt(now))
                .filter(announcements::cancelled_at.is_null())
                .select(diesel::dsl::min(announcements::publish_at))
                .first(c)?;
            (version, next_due)
        });
        Ok(PublicState {
            version,
            next_due: time::from_db_opt(next_due),
        })
    }
}
