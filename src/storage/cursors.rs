//! Polling cursors (`inbound_cursors`): where polling a channel's provider
//! stands and which process polls it. A lease, renewed before every poll,
//! keeps a second process from polling the same bot; the cursor itself is
//! advanced together with the events it confirms
//! ([`Database::store_polled`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use super::{
    schema::inbound_cursors as ic, time, with_conn, with_write_tx, Database, StorageError,
};

/// A channel's polling state, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundCursor {
    pub cursor: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

impl Database {
    /// Takes or renews the lease on `channel`'s cursor for `owner` until
    /// `until`, if nobody else holds an unexpired one. `Some(cursor)` (the
    /// stored cursor, if any) when `owner` holds it now; `None` when
    /// another process polls.
    pub fn take_cursor_lease(
        &self,
        channel: ChannelKind,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<String>>, StorageError> {
        let (until, now) = (time::to_db(until), time::to_db(now));
        let ch = channel.as_str();
        with_write_tx!(self, |c| {
            diesel::insert_into(ic::table)
                .values((ic::channel.eq(ch), ic::updated_at.eq(now)))
                .on_conflict(ic::channel)
                .do_nothing()
                .execute(c)?;
            let free = ic::lease_owner
                .is_null()
                .or(ic::lease_owner.eq(owner))
                .or(ic::lease_until.le(now));
            Ok(diesel::update(ic::table.find(ch).filter(free))
                .set((ic::lease_owner.eq(owner), ic::lease_until.eq(until)))
                .returning(ic::cursor)
                .get_result::<Option<String>>(c)
                .optional()?)
        })
    }

    /// Gives up `owner`'s lease on `channel`'s cursor (on shutdown), so a
    /// process standing by takes over at once.
    pub fn release_cursor_lease(
        &self,
        channel: ChannelKind,
        owner: &str,
    ) -> Result<(), StorageError> {
        let ch = channel.as_str();
        with_conn!(self, |c| {
            diesel::update(ic::table.find(ch).filter(ic::lease_owner.eq(owner)))
                .set((
                    ic::lease_owner.eq(None::<String>),
                    ic::lease_until.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(c)?;
        });
        Ok(())
    }

    /// `channel`'s polling state, if it was ever polled.
    pub fn inbound_cursor(
        &self,
        channel: ChannelKind,
    ) -> Result<Option<InboundCursor>, StorageError> {
        let ch = channel.as_str();
        type Row = (
            Option<String>,
            Option<String>,
            Option<chrono::NaiveDateTime>,
        );
        let row: Option<Row> = with_conn!(self, |c| ic::table
            .find(ch)
            .select((ic::cursor, ic::lease_owner, ic::lease_until))
            .first(c)
            .optional()?);
        Ok(row.map(|(cursor, lease_owner, lease_until)| InboundCursor {
            cursor,
            lease_owner,
            lease_until: time::from_db_opt(lease_until),
        }))
    }
}
