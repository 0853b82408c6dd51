//! The parity report: for every announcement, when each channel carried
//! it, so the data-protection officer can see that residents who avoid one
//! channel were not left behind.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Id;

/// How a channel reaches residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParityKind {
    /// Sent to each subscriber.
    Push,
    /// Posted once to a public place (a Telegram channel, a Matrix room).
    Follow,
    /// Posted by staff by hand (the WhatsApp Channel, a notice board).
    Manual,
}

/// One channel (or follow place, or manual channel) for one announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParityChannel {
    /// `email`, `telegram`, …; a follow place as `telegram → @musterstadt`;
    /// a manual channel by its id.
    pub channel: String,
    pub kind: ParityKind,
    /// Messages the provider took (or 1 for a confirmed manual post).
    pub handed_over: u64,
    pub failed: u64,
    /// Still queued or being sent.
    pub pending: u64,
    /// When the first and the last were handed over (posted).
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Why this channel is flagged, if it is.
    pub gap: Option<String>,
}

/// One announcement's channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnnouncementParity {
    pub id: Id,
    pub title: String,
    pub published_at: DateTime<Utc>,
    /// Went out within a digest rather than on its own.
    pub in_digest: bool,
    pub channels: Vec<ParityChannel>,
}

impl AnnouncementParity {
    /// Whether any channel is flagged.
    pub fn flagged(&self) -> bool {
        self.channels.iter().any(|c| c.gap.is_some())
    }
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParityReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// A channel whose first hand-over is this much later than the
    /// fastest channel's is flagged.
    pub gap_minutes: u32,
    pub announcements: Vec<AnnouncementParity>,
}

/// Flags the channels of one announcement: those that carried nothing
/// although they should (`missing` is set on them by the caller; a manual
/// channel not yet posted), and those whose first hand-over came more than
/// `gap_minutes` after the fastest channel's.
pub fn flag_gaps(channels: &mut [ParityChannel], gap_minutes: u32) {
    let fastest = channels.iter().filter_map(|c| c.first).min();
    for c in channels.iter_mut() {
        if c.gap.is_some() {
            continue;
        }
        match (c.first, fastest) {
            (None, _) if c.kind == ParityKind::Manual => {
                c.gap = Some("not yet posted".into());
            }
            (None, _) if c.pending > 0 => {
                c.gap = Some(format!("{} still queued", c.pending));
            }
            (None, _) if c.failed > 0 => {
                c.gap = Some(format!("all {} failed", c.failed));
            }
            (Some(first), Some(fastest))
                if first - fastest > chrono::Duration::minutes(i64::from(gap_minutes)) =>
            {
                c.gap = Some(format!(
                    "{} min after the fastest channel",
                    (first - fastest).num_minutes()
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, kind: ParityKind, first: Option<i64>) -> ParityChannel {
        let t0: DateTime<Utc> = "2026-12-04T08:00:00Z".parse().unwrap();
        ParityChannel {
            channel: name.into(),
            kind,
            handed_over: u64::from(first.is_some()),
            failed: 0,
            pending: 0,
            first: first.map(|m| t0 + chrono::Duration::minutes(m)),
            last: first.map(|m| t0 + chrono::Duration::minutes(m)),
            gap: None,
        }
    }

    #[test]
    fn late_missing_and_unposted_channels_are_flagged() {
        let mut cs = vec![
            channel("email", ParityKind::Push, Some(0)),
            channel("telegram", ParityKind::Push, Some(9)),
            channel("matrix", ParityKind::Push, Some(11)),
            channel("whatsapp-channel", ParityKind::Manual, None),
            channel("aushang", ParityKind::Manual, Some(30)),
        ];
        flag_gaps(&mut cs, 10);
        let gaps: Vec<Option<&str>> = cs.iter().map(|c| c.gap.as_deref()).collect();
        assert_eq!(
            gaps,
            vec![
                None,
                None,
                Some("11 min after the fastest channel"),
                Some("not yet posted"),
                Some("30 min after the fastest channel"),
            ]
        );
    }
}
