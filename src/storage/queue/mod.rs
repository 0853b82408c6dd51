//! The delivery queue: broadcasts, leased claims that materialise
//! deliveries from a broadcast's cursor, batched completion, staff control
//! and the shared rate limiter.
//!
//! Hot paths work on batches: one transaction claims a batch, one records
//! its outcomes. Claims take a lease; a worker that dies leaves `sending`
//! rows whose lease expires and [`Database::reclaim_expired`] puts back, so
//! at most its batches in flight are sent twice. On PostgreSQL, claims use
//! `FOR UPDATE SKIP LOCKED`, so several worker processes share one queue
//! without serving a recipient twice.
//!
//! Queries that should use the partial indexes on `deliveries` (see
//! migration `000004_fanout_leases`) spell the state as a literal:
//! a query planner can only match a partial index whose `WHERE` the query
//! implies, and a bound parameter proves nothing at planning time.

mod claim;
mod control;
mod finish;
mod limits;
mod settle;

pub use claim::{Claim, Claimed, FanoutLease};
pub use control::{BroadcastCounts, Control, QueueDepth};
pub use finish::{Bounce, Outcome};
pub use limits::{ChannelResumed, Grant};

use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use super::{schema::broadcasts, time, StorageError};
use crate::domain::{Broadcast, BroadcastState};

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = broadcasts)]
pub(super) struct BroadcastRow {
    pub(super) id: i64,
    announcement_id: i64,
    pub(super) category_id: i64,
    pub(super) channel: String,
    priority: i32,
    state: String,
    not_before: chrono::NaiveDateTime,
    pub(super) fanout_cursor: i64,
    pub(super) fanout_done: bool,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<BroadcastRow> for Broadcast {
    type Error = StorageError;
    fn try_from(r: BroadcastRow) -> Result<Self, StorageError> {
        Ok(Broadcast {
            id: r.id,
            announcement_id: r.announcement_id,
            category_id: r.category_id,
            channel: parse_channel(&r.channel)?,
            priority: r.priority,
            state: BroadcastState::parse(&r.state)?,
            not_before: time::from_db(r.not_before),
            fanout_cursor: r.fanout_cursor,
            fanout_done: r.fanout_done,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        })
    }
}

fn parse_channel(s: &str) -> Result<ChannelKind, StorageError> {
    s.parse()
        .map_err(|e: herold_channel_api::UnknownChannel| StorageError::Refused(e.to_string()))
}
