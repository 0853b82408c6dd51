//! Staff control over broadcasts and what they can see of them.

use diesel::prelude::*;
use herold_channel_api::ChannelKind;
use std::collections::HashMap;

use super::BroadcastRow;
use crate::{
    domain::{Broadcast, BroadcastState, DeliveryState, Id},
    storage::{
        audit::audit_tx,
        error::OrNotFound,
        schema::{
            announcements, broadcasts, deliveries, fanout_leases, subscribers, subscriptions,
        },
        time, with_conn, with_write_tx, AuditWith, Database, StorageError,
    },
};

/// Staff control over broadcasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

impl Control {
    /// The verb: `pause`, `resume` or `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }
}

/// (broadcast, delivery state, count) as grouped in SQL.
type StateCount = (Option<i64>, String, i64);

/// Delivery counts of one broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastCounts {
    pub broadcast: Broadcast,
    pub counts: HashMap<DeliveryState, i64>,
    /// Active subscribers the fan-out has not reached yet (no row yet).
    pub unmaterialised: i64,
}

/// Work waiting on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub channel: ChannelKind,
    /// Deliveries waiting (retries, reclaimed leases, paused broadcasts).
    pub queued: i64,
    /// Deliveries claimed by a worker right now.
    pub sending: i64,
    /// Subscribers of active broadcasts without a delivery row yet.
    pub unmaterialised: i64,
}

#[derive(QueryableByName)]
struct DepthRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    channel: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Valid on both backends; the state literals let the planner use the
/// partial index of open deliveries.
const DEPTH_SQL: &str = "SELECT channel, state AS kind, COUNT(*) AS n FROM deliveries \
     WHERE state IN ('queued', 'sending') GROUP BY channel, state \
     UNION ALL \
     SELECT b.channel AS channel, 'sending' AS kind, CAST(SUM(l.size) AS BIGINT) AS n \
     FROM fanout_leases l JOIN broadcasts b ON b.id = l.broadcast_id GROUP BY b.channel \
     UNION ALL \
     SELECT b.channel AS channel, 'unmaterialised' AS kind, COUNT(*) AS n FROM broadcasts b \
     JOIN subscriptions sub ON sub.category_id = b.category_id AND sub.subscriber_id > b.fanout_cursor \
     JOIN subscribers s ON s.id = sub.subscriber_id AND s.channel = b.channel AND s.status = 'active' \
     WHERE b.state = 'active' AND b.fanout_done = FALSE GROUP BY b.channel";

impl Database {
    /// Pauses, resumes or cancels the broadcasts of an announcement (one
    /// channel or all) and records `audit` with the outcome. Cancelling
    /// skips every queued delivery. Returns the number of broadcasts
    /// changed.
    pub fn control_broadcasts(
        &self,
        announcement_id: Id,
        channel: Option<ChannelKind>,
        action: Control,
        audit: &AuditWith<'_, usize>,
    ) -> Result<usize, StorageError> {
        let now = time::to_db(time::now());
        let (from, to): (&[BroadcastState], BroadcastState) = match action {
            Control::Pause => (&[BroadcastState::Active], BroadcastState::Paused),
            Control::Resume => (&[BroadcastState::Paused], BroadcastState::Active),
            Control::Cancel => (
                &[BroadcastState::Active, BroadcastState::Paused],
                BroadcastState::Cancelled,
            ),
        };
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let channel = channel.map(|c| c.as_str());
        with_write_tx!(self, |c| {
            let exists: i64 = announcements::table
                .filter(announcements::id.eq(announcement_id))
                .count()
                .get_result(c)?;
            if exists == 0 {
                return Err(StorageError::NotFound {
                    what: format!("announcement {announcement_id}"),
                });
            }
            let mut q = broadcasts::table
                .filter(broadcasts::announcement_id.eq(announcement_id))
                .filter(broadcasts::state.eq_any(&from))
                .select(broadcasts::id)
                .into_boxed();
            if let Some(ch) = channel {
                q = q.filter(broadcasts::channel.eq(ch));
            }
            let ids: Vec<i64> = q.load(c)?;
            diesel::update(broadcasts::table.filter(broadcasts::id.eq_any(&ids)))
                .set((
                    broadcasts::state.eq(to.as_str()),
                    broadcasts::updated_at.eq(now),
                ))
                .execute(c)?;
            if action == Control::Cancel {
                diesel::update(
                    deliveries::table
                        .filter(
                            deliveries::broadcast_id
                                .eq_any(ids.iter().map(|i| Some(*i)).collect::<Vec<_>>()),
                        )
                        .filter(deliveries::state.eq(DeliveryState::Queued.as_str())),
                )
                .set((
                    deliveries::state.eq(DeliveryState::Skipped.as_str()),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            }
            audit_tx!(c, audit, &ids.len());
            Ok(ids.len())
        })
    }

    /// The broadcasts of an announcement with delivery counts by state.
    pub fn broadcast_counts(
        &self,
        announcement_id: Id,
    ) -> Result<Vec<BroadcastCounts>, StorageError> {
        type Leased = Vec<(i64, i32)>;
        type Pending = Vec<(i64, i64)>;
        let (rows, counts, leased, pending): (Vec<BroadcastRow>, Vec<StateCount>, Leased, Pending) =
            with_conn!(self, |c| {
                let rows = broadcasts::table
                    .filter(broadcasts::announcement_id.eq(announcement_id))
                    .order(broadcasts::channel.asc())
                    .select(BroadcastRow::as_select())
                    .load(c)?;
                // Through the per-broadcast index, not a scan of every delivery.
                let ids: Vec<Option<i64>> =
                    rows.iter().map(|r: &BroadcastRow| Some(r.id)).collect();
                let counts = deliveries::table
                    .filter(deliveries::broadcast_id.eq_any(ids))
                    .group_by((deliveries::broadcast_id, deliveries::state))
                    .select((
                        deliveries::broadcast_id,
                        deliveries::state,
                        diesel::dsl::count_star(),
                    ))
                    .load(c)?;
                let leased: Vec<(i64, i32)> = fanout_leases::table
                    .filter(
                        fanout_leases::broadcast_id
                            .eq_any(rows.iter().map(|r: &BroadcastRow| r.id).collect::<Vec<_>>()),
                    )
                    .select((fanout_leases::broadcast_id, fanout_leases::size))
                    .load(c)?;
                // Subscribers past each running fan-out's cursor.
                let mut pending = Vec::new();
                for r in rows.iter().filter(|r: &&BroadcastRow| !r.fanout_done) {
                    let n: i64 = subscriptions::table
                        .inner_join(subscribers::table)
                        .filter(subscriptions::category_id.eq(r.category_id))
                        .filter(subscriptions::subscriber_id.gt(r.fanout_cursor))
                        .filter(subscribers::channel.eq(&r.channel))
                        .filter(subscribers::status.eq("active"))
                        .count()
                        .get_result(c)?;
                    pending.push((r.id, n));
                }
                (rows, counts, leased, pending)
            });
        rows.into_iter()
            .map(|r| {
                let id = r.id;
                let mut map = HashMap::new();
                for (_, state, n) in counts.iter().filter(|(b, _, _)| *b == Some(id)) {
                    map.insert(DeliveryState::parse(state)?, *n);
                }
                // Recipients of batches in flight have no row yet.
                let in_flight: i64 = leased
                    .iter()
                    .filter(|(b, _)| *b == id)
                    .map(|(_, n)| i64::from(*n))
                    .sum();
                if in_flight > 0 {
                    *map.entry(DeliveryState::Sending).or_insert(0) += in_flight;
                }
                Ok(BroadcastCounts {
                    broadcast: r.try_into()?,
                    counts: map,
                    unmaterialised: pending
                        .iter()
                        .filter(|(b, _)| *b == id)
                        .map(|(_, n)| *n)
                        .sum(),
                })
            })
            .collect()
    }

    /// Work waiting per channel, for `/metrics`: queued and leased
    /// deliveries, and subscribers not yet materialised from the cursors of
    /// active broadcasts.
    pub fn queue_depth(&self) -> Result<Vec<QueueDepth>, StorageError> {
        let rows: Vec<DepthRow> = with_conn!(self, |c| diesel::sql_query(DEPTH_SQL).load(c)?);
        let mut by_channel: std::collections::BTreeMap<String, QueueDepth> = Default::default();
        for r in rows {
            let channel = super::parse_channel(&r.channel)?;
            let d = by_channel.entry(r.channel).or_insert(QueueDepth {
                channel,
                queued: 0,
                sending: 0,
                unmaterialised: 0,
            });
            match r.kind.as_str() {
                "queued" => d.queued += r.n,
                "sending" => d.sending += r.n,
                _ => d.unmaterialised += r.n,
            }
        }
        Ok(by_channel.into_values().collect())
    }

    /// One broadcast.
    pub fn get_broadcast(&self, id: Id) -> Result<Broadcast, StorageError> {
        let row: Option<BroadcastRow> = with_conn!(self, |c| broadcasts::table
            .find(id)
            .select(BroadcastRow::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("broadcast {id}"))?.try_into()
    }
}
