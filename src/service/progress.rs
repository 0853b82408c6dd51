//! How far an announcement has got on each channel: delivery counts by
//! state, the share finished and an estimate of the time left from the
//! channel's send rate and its backlog — what the staff application's
//! progress page shows and streams.

use herold_channel_api::ChannelKind;
use serde::Serialize;

use super::{Herold, ServiceError};
use crate::{
    domain::{DeliveryState, Id},
    registry::Registry,
};

/// One channel's broadcast of the announcement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelProgress {
    pub channel: ChannelKind,
    /// `active`, `paused`, `cancelled` or `done`.
    pub state: String,
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Every recipient: rows of each state plus subscribers not reached
    /// by the fan-out yet.
    pub total: i64,
    /// Finished (sent, delivered, read, failed or skipped), 0–100.
    pub percent: u8,
    /// Seconds left at the channel's send rate; `None` when nothing is
    /// left or the broadcast is not running.
    pub eta_seconds: Option<u64>,
}

/// The announcement's progress on every channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub announcement: Id,
    pub channels: Vec<ChannelProgress>,
    /// Every broadcast is done or cancelled.
    pub finished: bool,
}

impl Herold {
    /// The progress of announcement `id`; `registry` gives each channel's
    /// send rate.
    pub fn progress(&self, id: Id, registry: &Registry) -> Result<Progress, ServiceError> {
        let channels: Vec<ChannelProgress> = self
            .db
            .broadcast_counts(id)?
            .into_iter()
            .map(|b| {
                let n = |s: DeliveryState| b.counts.get(&s).copied().unwrap_or(0);
                let (queued, sending) = (n(DeliveryState::Queued), n(DeliveryState::Sending));
                let finished = n(DeliveryState::Sent)
                    + n(DeliveryState::Delivered)
                    + n(DeliveryState::Read)
                    + n(DeliveryState::Failed)
                    + n(DeliveryState::Skipped);
                let left = queued + sending + b.unmaterialised;
                let total = finished + left;
                let percent = if total == 0 {
                    100
                } else {
                    u8::try_from(finished * 100 / total).unwrap_or(100)
                };
                let running = b.broadcast.state == crate::domain::BroadcastState::Active;
                let rate = registry
                    .get(b.broadcast.channel)
                    .map(|c| c.capabilities().default_rate.per_second)
                    .filter(|r| *r > 0.0);
                let eta_seconds = match (running && left > 0, rate) {
                    // Whole seconds are enough for a person watching.
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        clippy::cast_precision_loss
                    )]
                    (true, Some(r)) => Some((left as f64 / r).ceil() as u64),
                    _ => None,
                };
                let state = if running && left == 0 && b.broadcast.fanout_done {
                    "done".to_owned()
                } else {
                    b.broadcast.state.as_str().to_owned()
                };
                ChannelProgress {
                    channel: b.broadcast.channel,
                    state,
                    queued,
                    sending,
                    sent: n(DeliveryState::Sent),
                    delivered: n(DeliveryState::Delivered),
                    read: n(DeliveryState::Read),
                    failed: n(DeliveryState::Failed),
                    skipped: n(DeliveryState::Skipped),
                    total,
                    percent,
                    eta_seconds,
                }
            })
            .collect();
        let finished = channels
            .iter()
            .all(|c| c.state == "done" || c.state == "cancelled");
        Ok(Progress {
            announcement: id,
            channels,
            finished,
        })
    }
}
