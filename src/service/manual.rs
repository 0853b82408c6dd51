//! Manual channels (`[[manual]]`, e.g. the WhatsApp Channel): every
//! announcement published becomes due on the manual channels that carry
//! its category; staff take the copy Herold renders for the channel, post
//! it by hand and confirm it, and the record says who posted it when — or
//! that it is still missing.

use chrono::Utc;
use herold_channel_api::{Capabilities, Formatting, RateLimit, Reach};

use super::{Herold, ServiceError};
use crate::{
    config::{ManualChannelConfig, ManualFormat},
    domain::{Announcement, Id, ManualPost, NewAuditEvent},
};

/// Longest copy: a WhatsApp Channel update takes as much as a message.
const MAX_COPY_CHARS: usize = 4096;

impl Herold {
    /// The configured manual channel `id`.
    pub fn manual_channel(&self, id: &str) -> Result<&ManualChannelConfig, ServiceError> {
        self.config
            .manual
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| ServiceError::UnknownManualChannel {
                id: id.to_owned(),
                known: match self.config.manual.is_empty() {
                    true => "none configured ([[manual]] in the configuration)".into(),
                    false => self
                        .config
                        .manual
                        .iter()
                        .map(|m| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })
    }

    /// Makes a published announcement due on the manual channels that
    /// carry its category (`category` is its slug).
    pub(super) fn due_on_manual_channels(
        &self,
        a: &Announcement,
        category: &str,
    ) -> Result<(), ServiceError> {
        let channels: Vec<&str> = self
            .config
            .manual
            .iter()
            .filter(|m| m.carries(category))
            .map(|m| m.id.as_str())
            .collect();
        if !channels.is_empty() {
            self.db.create_manual_posts(a.id, &channels, Utc::now())?;
        }
        Ok(())
    }

    /// The text staff paste into manual channel `channel` for the
    /// announcement: the same renderer as every channel, in the channel's
    /// format, with the link to the announcement's page.
    pub fn manual_copy(&self, announcement_id: Id, channel: &str) -> Result<String, ServiceError> {
        let m = self.manual_channel(channel)?;
        let (a, _) = self.db.get_announcement(announcement_id)?;
        let url = self.announcement_url(a.id);
        let cx = crate::render::message::Context {
            url: &url,
            image_url: None,
            site: &self.config.site_name,
            locale: &self.config.default_locale,
            tz: self.config.tz(),
        };
        let caps = manual_capabilities(m.format);
        let rendered = crate::render::message::message(&a, &caps, &cx)
            .map_err(|e| ServiceError::Render(e.to_string()))?;
        Ok(rendered.text)
    }

    /// Records that `by` posted the announcement on manual channel
    /// `channel` (audited); confirming again keeps the first record.
    pub fn confirm_manual_post(
        &self,
        announcement_id: Id,
        channel: &str,
        by: &str,
    ) -> Result<ManualPost, ServiceError> {
        self.manual_channel(channel)?;
        let post = self
            .db
            .mark_manual_posted(announcement_id, channel, by, Utc::now())?;
        self.db.record_audit(&NewAuditEvent::new(
            by,
            "manual.posted",
            format!("announcement:{announcement_id}"),
            &serde_json::json!({
                "channel": channel,
                "posted_at": post.posted_at,
                "posted_by": post.posted_by,
            }),
        ))?;
        Ok(post)
    }
}

/// What a manual channel takes: text in its format, no picture, at most
/// [`MAX_COPY_CHARS`].
pub(super) fn manual_capabilities(format: ManualFormat) -> Capabilities {
    Capabilities {
        reach: Reach::Follow,
        max_text_chars: Some(MAX_COPY_CHARS),
        max_subject_chars: None,
        formatting: match format {
            ManualFormat::Plain => Formatting::Plain,
            ManualFormat::WhatsApp => Formatting::WhatsApp,
        },
        outbound_media: Vec::new(),
        inbound_media: Vec::new(),
        default_rate: RateLimit::new(1.0, 1),
        per_recipient_rate: None,
        inbound: false,
        delivery_receipts: false,
        read_receipts: false,
        idempotent_sends: false,
        unsubscribe_links: false,
    }
}
