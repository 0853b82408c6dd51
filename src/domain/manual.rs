//! Posts on manual channels: places staff post announcements to by hand.

use chrono::{DateTime, Utc};

/// One announcement on one manual channel: due since it was published,
/// posted once staff confirm it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPost {
    pub announcement_id: super::Id,
    /// The manual channel's id (`manual[].id`).
    pub channel: String,
    /// When it became due (the announcement was published).
    pub created_at: DateTime<Utc>,
    /// When staff posted it, if they have.
    pub posted_at: Option<DateTime<Utc>>,
    /// Who confirmed the post.
    pub posted_by: Option<String>,
}
