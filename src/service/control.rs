//! Staff control over what is on its way: cancelling a scheduled
//! announcement, pausing, resuming or cancelling its broadcasts, and
//! resuming a held channel. Each records its audit event in the same
//! transaction as the change.

use herold_channel_api::ChannelKind;

use super::{Herold, ServiceError};
use crate::{
    domain::{Announcement, Id, NewAuditEvent},
    storage::{ChannelResumed, Control},
};

impl Herold {
    /// Withdraws a scheduled announcement and its broadcasts before it is
    /// published.
    pub fn cancel_announcement(&self, id: Id, actor: &str) -> Result<Announcement, ServiceError> {
        let audit = |a: &Announcement| {
            NewAuditEvent::new(
                actor,
                "announcement.cancel",
                format!("announcement:{}", a.id),
                &serde_json::json!({ "publish_at": a.publish_at }),
            )
        };
        let a = self.db.cancel_announcement(id, &audit)?;
        tracing::info!(announcement = a.id, actor, "announcement cancelled");
        Ok(a)
    }

    /// Pauses, resumes or cancels the broadcasts of an announcement on one
    /// channel or all; returns how many broadcasts changed.
    pub fn control_broadcasts(
        &self,
        announcement_id: Id,
        channel: Option<ChannelKind>,
        control: Control,
        actor: &str,
    ) -> Result<usize, ServiceError> {
        let action = format!("broadcast.{}", control.as_str());
        let audit = |changed: &usize| {
            NewAuditEvent::new(
                actor,
                &action,
                format!("announcement:{announcement_id}"),
                &serde_json::json!({
                    "control": control.as_str(),
                    "channel": channel,
                    "broadcasts_changed": changed,
                }),
            )
        };
        let changed = self
            .db
            .control_broadcasts(announcement_id, channel, control, &audit)?;
        tracing::info!(
            announcement = announcement_id,
            control = control.as_str(),
            changed,
            actor,
            "broadcasts controlled"
        );
        Ok(changed)
    }

    /// Lifts a channel's pause (after throttling) or hold (after a
    /// configuration error).
    pub fn resume_channel(
        &self,
        channel: ChannelKind,
        actor: &str,
    ) -> Result<ChannelResumed, ServiceError> {
        let audit = |r: &ChannelResumed| {
            NewAuditEvent::new(
                actor,
                "channel.resume",
                format!("channel:{}", channel.as_str()),
                &serde_json::json!({
                    "was_paused": r.was_paused,
                    "held_reason": r.held_reason,
                }),
            )
        };
        let resumed = self.db.resume_channel(channel, &audit)?;
        tracing::info!(
            channel = channel.as_str(),
            was_paused = resumed.was_paused,
            actor,
            "channel resumed"
        );
        Ok(resumed)
    }
}
