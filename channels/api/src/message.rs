//! Outgoing messages and their destinations.
//!
//! Addresses and message text are personal or unpublished data and must never
//! end up in logs, so the `Debug` impls of these types redact them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::capabilities::MediaKind;

/// A channel-specific recipient address (phone number, chat id, email address, Matrix id).
///
/// `Debug` prints `Address(<redacted>)`; there is deliberately no `Display` impl.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// Wraps a raw address. No validation happens here; adapters validate on send.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw address. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper and returns the raw address.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(<redacted>)")
    }
}

/// A public follow target: a WhatsApp/Telegram channel, a Matrix room, a feed slug.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FollowTarget(pub String);

impl FollowTarget {
    /// Wraps a target identifier.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The target identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A public place a channel posts announcements to (follow mode): every
/// announcement, or only those of some categories. Nobody subscribes there
/// through Herold, so a follow post carries no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowRoute {
    /// Where the posts go (a channel name, a room id).
    pub target: FollowTarget,
    /// The category slugs it carries; empty means every category.
    pub categories: Vec<String>,
}

impl FollowRoute {
    /// Whether announcements of `category` (a slug) are posted here.
    pub fn carries(&self, category: &str) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A single resident, for channels with [`Reach::Push`](crate::Reach::Push).
    Recipient(Address),
    /// A broadcast target, for channels with [`Reach::Follow`](crate::Reach::Follow).
    Follow(FollowTarget),
}

/// A media attachment, referenced by URL (adapters upload or link as the provider requires).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// The kind of media.
    pub kind: MediaKind,
    /// Where the adapter can fetch the file (typically a signed Herold URL).
    pub url: String,
    /// MIME type, e.g. `image/jpeg` or `application/pdf`.
    pub mime_type: String,
    /// Optional caption shown with the media.
    pub caption: Option<String>,
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("mime_type", &self.mime_type)
            .field(
                "caption_chars",
                &self.caption.as_ref().map(|c| c.chars().count()),
            )
            .finish()
    }
}

/// A message already rendered for one channel (length limits and formatting applied).
///
/// `Debug` prints only lengths of subject, text and HTML, never the content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMessage {
    /// Subject line, for channels that have one (email, feeds).
    pub subject: Option<String>,
    /// Body text in the channel's [`Formatting`](crate::Formatting): plain text,
    /// Telegram HTML or WhatsApp markup; the plain `body` for Matrix and the
    /// plain-text alternative for e-mail.
    pub text: String,
    /// HTML body, for channels with [`Formatting::Html`](crate::Formatting::Html)
    /// (the HTML part) or [`Formatting::MatrixHtml`](crate::Formatting::MatrixHtml)
    /// (the `formatted_body`).
    pub html: Option<String>,
    /// Attachments, already filtered to the channel's supported media kinds.
    pub media: Vec<Media>,
    /// Link to the full announcement on the municipality's website.
    pub link: Option<String>,
    /// BCP 47 language tag of the content, e.g. `de`.
    pub locale: String,
    /// Whether this is an urgent warning (may bypass quiet hours, use priority flags).
    pub urgent: bool,
    /// The announcement as single-line fields, for channels that must send
    /// a provider-approved template instead of free text at times
    /// (WhatsApp outside the 24-hour window). `None` for service messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<TemplateFields>,
}

/// An announcement cut into the fields a provider's message template is
/// filled with. The renderer prepares them as providers demand of template
/// parameters: no line breaks, no tabs, no runs of spaces, none empty, each
/// cut at a word to its limit ([`TemplateFields::TITLE_MAX`],
/// [`TemplateFields::SUMMARY_MAX`]).
///
/// `Debug` prints lengths only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateFields {
    /// The title, prefixed with the urgent label for urgent warnings.
    pub title: String,
    /// The start of the body as plain text.
    pub summary: String,
    /// The announcement's public page.
    pub link: String,
    /// The town's name.
    pub site: String,
    /// Whether the announcement is a digest of others.
    pub digest: bool,
}

impl TemplateFields {
    /// Longest title, in characters.
    pub const TITLE_MAX: usize = 200;
    /// Longest summary, in characters.
    pub const SUMMARY_MAX: usize = 600;
}

impl fmt::Debug for TemplateFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateFields")
            .field("title_chars", &self.title.chars().count())
            .field("summary_chars", &self.summary.chars().count())
            .field("link", &self.link)
            .field("digest", &self.digest)
            .finish()
    }
}

impl RenderedMessage {
    /// Creates a plain message with the given text and locale and no extras.
    pub fn new(text: impl Into<String>, locale: impl Into<String>) -> Self {
        Self {
            subject: None,
            text: text.into(),
            html: None,
            media: Vec::new(),
            link: None,
            locale: locale.into(),
            urgent: false,
            fields: None,
        }
    }
}

impl fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedMessage")
            .field(
                "subject_chars",
                &self.subject.as_ref().map(|s| s.chars().count()),
            )
            .field("text_chars", &self.text.chars().count())
            .field("html_bytes", &self.html.as_ref().map(String::len))
            .field("media", &self.media)
            .field("link", &self.link)
            .field("locale", &self.locale)
            .field("urgent", &self.urgent)
            .field("fields", &self.fields)
            .finish()
    }
}

/// One send job handed to [`Channel::send`](crate::Channel::send).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Stable key for this (announcement, channel, destination) triple; retries reuse it.
    pub idempotency_key: String,
    /// Where to deliver.
    pub destination: Destination,
    /// What to deliver.
    pub message: RenderedMessage,
    /// This recipient's links for leaving, for channels that carry them in
    /// the message (email: `List-Unsubscribe`, RFC 8058). `None` for follow
    /// targets and channels that use commands instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<UnsubscribeLinks>,
    /// When the recipient last wrote to Herold on this channel, for
    /// channels that allow free text only for a while after that (WhatsApp:
    /// 24 hours) and otherwise send a template. `None`: never, or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_last_wrote: Option<DateTime<Utc>>,
}

/// Per-recipient links that let a resident leave without logging in.
///
/// The URLs contain a secret token, so `Debug` hides them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeLinks {
    /// HTTPS URL that unsubscribes on `POST` with body
    /// `List-Unsubscribe=One-Click` (RFC 8058); a `GET` only shows a confirm button.
    pub one_click: String,
    /// Page where the resident manages categories or erases all data.
    pub manage: String,
}

impl UnsubscribeLinks {
    /// Stands in a rendered message's text and HTML for the recipient's
    /// one-click unsubscribe link; the adapter replaces it per recipient.
    pub const UNSUBSCRIBE_PLACEHOLDER: &'static str = "{{unsubscribe_url}}";
    /// Stands for the recipient's manage link (categories, erasure).
    pub const MANAGE_PLACEHOLDER: &'static str = "{{manage_url}}";
}

impl fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsubscribeLinks(<redacted>)")
    }
}

/// Proof that the provider accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The provider's message id, used to correlate later status webhooks.
    pub provider_message_id: Option<String>,
    /// When the provider accepted the message.
    pub accepted_at: DateTime<Utc>,
}

impl Receipt {
    /// A receipt accepted now.
    pub fn now(provider_message_id: Option<String>) -> Self {
        Self {
            provider_message_id,
            accepted_at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_debug_is_redacted() {
        let a = Address::new("+4917612345678");
        assert_eq!(format!("{a:?}"), "Address(<redacted>)");
        let d = Destination::Recipient(a.clone());
        assert!(!format!("{d:?}").contains("1761"));
        assert_eq!(a.as_str(), "+4917612345678");
    }

    #[test]
    fn rendered_message_debug_hides_content() {
        let mut m = RenderedMessage::new("Wasserrohrbruch in der Hauptstraße", "de");
        m.subject = Some("Geheimer Betreff".into());
        m.html = Some("<p>Wasserrohrbruch</p>".into());
        m.media.push(Media {
            kind: MediaKind::Image,
            url: "https://example.org/a.jpg".into(),
            mime_type: "image/jpeg".into(),
            caption: Some("Bildunterschrift".into()),
        });
        let out = OutboundMessage {
            idempotency_key: "k1".into(),
            destination: Destination::Recipient(Address::new("max@example.org")),
            message: m,
            unsubscribe: Some(UnsubscribeLinks {
                one_click: "https://example.org/u/secret-token".into(),
                manage: "https://example.org/m/secret-token".into(),
            }),
            recipient_last_wrote: None,
        };
        let dbg = format!("{out:?}");
        for secret in [
            "secret-token",
            "Wasserrohrbruch",
            "Geheimer",
            "Bildunterschrift",
            "max@example.org",
        ] {
            assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
        }
        assert!(dbg.contains("text_chars: 34"));
    }

    #[test]
    fn serde_round_trip() {
        let out = OutboundMessage {
            idempotency_key: "k1".into(),
            destination: Destination::Follow(FollowTarget::new("abfall")),
            message: RenderedMessage::new("Hallo", "de"),
            unsubscribe: None,
            recipient_last_wrote: None,
        };
        let json = serde_json::to_string(&out).unwrap();
        assert!(json.contains(r#""destination":{"follow":"abfall"}"#));
        let back: OutboundMessage = serde_json::from_str(&json).unwrap();
        assert_eq!(back, out);
    }
}
