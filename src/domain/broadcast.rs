use chrono::{DateTime, Utc};
use herold_channel_api::{ChannelKind, FollowRoute};

use super::{DomainError, Id};

/// One announcement on its way out on one channel: the unit staff pause,
/// resume or cancel, and the cursor from which deliveries are materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    pub id: Id,
    pub announcement_id: Id,
    pub category_id: Id,
    pub channel: ChannelKind,
    /// Higher goes first (urgent = 1).
    pub priority: i32,
    pub state: BroadcastState,
    /// Not before the announcement's publication time.
    pub not_before: DateTime<Utc>,
    /// Highest subscriber id for which a delivery exists.
    pub fanout_cursor: Id,
    /// Every subscriber has a delivery row.
    pub fanout_done: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How an announcement goes out on one channel: a broadcast to the
/// channel's subscribers, and one post to each of the channel's public
/// follow routes that carries the announcement's category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPlan {
    pub channel: ChannelKind,
    pub follow: Vec<FollowRoute>,
}

impl ChannelPlan {
    /// A channel without follow routes.
    pub fn push_only(channel: ChannelKind) -> Self {
        Self {
            channel,
            follow: Vec::new(),
        }
    }

    /// The follow targets that get announcements of `category` (a slug),
    /// each once.
    pub fn follow_targets(&self, category: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .follow
            .iter()
            .filter(|r| r.carries(category))
            .map(|r| r.target.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether a broadcast is being worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BroadcastState {
    /// Fanning out and sending (or waiting for its time).
    Active,
    /// Stopped by staff; resumes where it stopped.
    Paused,
    /// Stopped for good; queued deliveries were skipped.
    Cancelled,
    /// Every delivery reached a final state or was handed to the provider.
    Done,
}

impl BroadcastState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
            Self::Done => "done",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "active" => Ok(Self::Active),
            "paused" => Ok(Self::Paused),
            "cancelled" => Ok(Self::Cancelled),
            "done" => Ok(Self::Done),
            _ => Err(DomainError::Invalid {
                field: "broadcast state",
                value: s.to_owned(),
                expected: "active, paused, cancelled or done",
            }),
        }
    }

    /// Whether staff control may move a broadcast from `self` to `next`.
    pub fn can_become(self, next: Self) -> bool {
        use BroadcastState::*;
        matches!(
            (self, next),
            (Active, Paused)
                | (Paused, Active)
                | (Active, Cancelled)
                | (Paused, Cancelled)
                | (Active, Done)
        )
    }
}

/// The priority of an announcement's deliveries.
pub fn priority(urgent: bool) -> i32 {
    i32::from(urgent)
}
