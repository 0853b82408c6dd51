//! What a channel can do, so the engine can render and schedule for it.

use serde::{Deserialize, Serialize};

use crate::message::Destination;

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained rate in sends per second (may be fractional, e.g. `1.0 / 3.0`).
    pub per_second: f64,
    /// Maximum number of sends allowed in a burst above the sustained rate.
    pub burst: u32,
}

impl RateLimit {
    /// Creates a rate limit.
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }

    /// The minimum spacing between sends at the sustained rate, if the rate is positive.
    pub fn interval(&self) -> Option<std::time::Duration> {
        if self.per_second.is_finite() && self.per_second > 0.0 {
            Some(std::time::Duration::from_secs_f64(1.0 / self.per_second))
        } else {
            None
        }
    }
}

/// How residents are reached through a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Messages are pushed to individual recipients (phone number, chat id, email address).
    Push,
    /// Residents follow a target (channel, room, feed) and receive one broadcast.
    Follow,
    /// The channel supports both individual pushes and follow targets.
    Both,
}

impl Reach {
    /// Whether individual recipients ([`Destination::Recipient`]) are supported.
    pub const fn allows_recipients(self) -> bool {
        matches!(self, Reach::Push | Reach::Both)
    }

    /// Whether follow targets ([`Destination::Follow`]) are supported.
    pub const fn allows_follow(self) -> bool {
        matches!(self, Reach::Follow | Reach::Both)
    }
}

/// The text form a channel renders, named after the channel's real format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formatting {
    /// Plain text only.
    Plain,
    /// E-mail and feeds: a full HTML part plus a plain-text alternative.
    Html,
    /// Telegram Bot API `parse_mode=HTML`: only `b strong i em u s a code pre
    /// blockquote`, literal newlines, `•` list lines, and only `<`, `>`, `&`
    /// (and `"` in attributes) escaped.
    TelegramHtml,
    /// Matrix `m.text`: a plain `body` plus `formatted_body` in
    /// `org.matrix.custom.html` (`b strong i em a p br ul ol li blockquote
    /// code pre h1`–`h6`).
    MatrixHtml,
    /// WhatsApp markup: `*bold*`, `_italic_`, `~strike~`; no HTML and no
    /// escape mechanism.
    #[serde(rename = "whatsapp")]
    WhatsApp,
}

/// Kinds of media attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// Still images (JPEG, PNG, …).
    Image,
    /// Documents such as PDF.
    Document,
    /// Audio files and voice messages.
    Audio,
    /// Video files.
    Video,
}

/// Static description of what a channel supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Whether the channel pushes to recipients, serves follow targets, or both.
    pub reach: Reach,
    /// Maximum length of the message body in characters, if limited.
    pub max_text_chars: Option<usize>,
    /// Maximum length of the subject in characters; `None` if unlimited or unsupported.
    pub max_subject_chars: Option<usize>,
    /// The text form the channel renders.
    pub formatting: Formatting,
    /// Media kinds that can be attached to outgoing messages.
    pub outbound_media: Vec<MediaKind>,
    /// Media kinds that residents can send in.
    pub inbound_media: Vec<MediaKind>,
    /// Provider-wide send rate limit.
    pub default_rate: RateLimit,
    /// Additional per-recipient rate limit, if the provider imposes one.
    pub per_recipient_rate: Option<RateLimit>,
    /// Whether the channel receives inbound messages (webhooks, polling).
    pub inbound: bool,
    /// Whether the provider reports delivery to the device.
    pub delivery_receipts: bool,
    /// Whether the provider reports that a message was read.
    pub read_receipts: bool,
    /// Whether repeating a send with the same idempotency key is guaranteed not to
    /// produce a duplicate message.
    pub idempotent_sends: bool,
    /// Each message carries the recipient's own unsubscribe and manage links
    /// ([`OutboundMessage::unsubscribe`](crate::OutboundMessage::unsubscribe)):
    /// e-mail, where residents cannot leave with a command.
    pub unsubscribe_links: bool,
}

impl Capabilities {
    /// Whether this channel can deliver to the given destination at all.
    pub fn accepts(&self, destination: &Destination) -> bool {
        match destination {
            Destination::Recipient(_) => self.reach.allows_recipients(),
            Destination::Follow(_) => self.reach.allows_follow(),
        }
    }

    /// Whether media of the given kind can be attached to outgoing messages.
    pub fn supports_outbound_media(&self, kind: MediaKind) -> bool {
        self.outbound_media.contains(&kind)
    }

    /// Whether `text` fits within [`Capabilities::max_text_chars`].
    pub fn text_fits(&self, text: &str) -> bool {
        self.max_text_chars
            .is_none_or(|max| text.chars().count() <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Address, FollowTarget};

    fn caps(reach: Reach) -> Capabilities {
        Capabilities {
            reach,
            max_text_chars: Some(5),
            max_subject_chars: None,
            formatting: Formatting::Plain,
            outbound_media: vec![MediaKind::Image],
            inbound_media: vec![],
            default_rate: RateLimit::new(2.0, 1),
            per_recipient_rate: None,
            inbound: false,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: false,
            unsubscribe_links: false,
        }
    }

    #[test]
    fn accepts_matches_reach() {
        let to = Destination::Recipient(Address::new("x"));
        let follow = Destination::Follow(FollowTarget::new("y"));
        assert!(caps(Reach::Push).accepts(&to));
        assert!(!caps(Reach::Push).accepts(&follow));
        assert!(!caps(Reach::Follow).accepts(&to));
        assert!(caps(Reach::Follow).accepts(&follow));
        assert!(caps(Reach::Both).accepts(&to) && caps(Reach::Both).accepts(&follow));
    }

    #[test]
    fn text_fits_counts_chars_not_bytes() {
        let c = caps(Reach::Push);
        assert!(c.text_fits("Straß"));
        assert!(!c.text_fits("Straße"));
        assert!(c.supports_outbound_media(MediaKind::Image));
        assert!(!c.supports_outbound_media(MediaKind::Video));
    }

    #[test]
    fn formatting_names() {
        let names: Vec<String> = [
            Formatting::Plain,
            Formatting::Html,
            Formatting::TelegramHtml,
            Formatting::MatrixHtml,
            Formatting::WhatsApp,
        ]
        .iter()
        .map(|f| serde_json::to_string(f).unwrap_or_default())
        .collect();
        assert_eq!(
            names,
            [
                "\"plain\"",
                "\"html\"",
                "\"telegram_html\"",
                "\"matrix_html\"",
                "\"whatsapp\""
            ]
        );
    }

    #[test]
    fn rate_interval() {
        assert_eq!(
            RateLimit::new(2.0, 1).interval(),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(RateLimit::new(0.0, 1).interval(), None);
    }
}
