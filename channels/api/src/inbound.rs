//! Inbound webhooks: verification, parsing and the resulting events.
//!
//! The web layer builds an [`InboundRequest`] from the raw HTTP request, calls
//! the channel's [`InboundVerifier`] first and only then its [`InboundParser`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::Command;
use crate::message::Address;

/// A raw webhook request as received by the web layer.
///
/// `Debug` prints header names and the body length only.
#[derive(Clone, Default)]
pub struct InboundRequest {
    /// All request headers (signatures are usually in here).
    pub headers: http::HeaderMap,
    /// The raw query string without the leading `?`, if any.
    pub query: Option<String>,
    /// The raw, unparsed body; signatures are computed over these exact bytes.
    pub body: Vec<u8>,
}

impl InboundRequest {
    /// Creates a request from its parts.
    pub fn new(headers: http::HeaderMap, query: Option<String>, body: Vec<u8>) -> Self {
        Self {
            headers,
            query,
            body,
        }
    }

    /// The value of a header as a string, if present and valid visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("InboundRequest")
            .field("headers", &names)
            .field("query_len", &self.query.as_ref().map(String::len))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why an inbound request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// A signature was present but did not match (respond 401/403).
    #[error("webhook signature does not match")]
    BadSignature,
    /// The request carried no signature (respond 401).
    #[error("webhook signature missing")]
    MissingSignature,
    /// The body could not be parsed (respond 400). The text must be log-safe.
    #[error("malformed webhook payload: {0}")]
    Malformed(String),
    /// A well-formed request this adapter does not handle (respond 200 and ignore).
    #[error("unsupported webhook payload: {0}")]
    Unsupported(String),
}

/// Checks that a webhook request really comes from the provider.
pub trait InboundVerifier: Send + Sync {
    /// Verifies the request's signature or shared secret.
    fn verify(&self, req: &InboundRequest) -> Result<(), InboundError>;

    /// Answers a provider's verification handshake (`GET` on the webhook
    /// URL, e.g. WhatsApp's `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
    /// `Ok(Some(body))` is sent back with 200, `Ok(None)` means the channel has
    /// no handshake (405), an error refuses it (403).
    fn handshake(&self, req: &InboundRequest) -> Result<Option<Vec<u8>>, InboundError> {
        let _ = req;
        Ok(None)
    }
}

/// Turns a verified webhook request into events.
pub trait InboundParser: Send + Sync {
    /// Parses the request; one request may carry several events (or none).
    fn parse(&self, req: &InboundRequest) -> Result<Vec<InboundEvent>, InboundError>;
}

/// Delivery state reported by a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Accepted and sent by the provider.
    Sent,
    /// Delivered to the recipient's device or mailbox.
    Delivered,
    /// Read by the recipient.
    Read,
    /// Delivery failed.
    Failed,
}

impl DeliveryStatus {
    /// The lowercase name, as in serde (`sent`, `delivered`, `read`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// Content of a resident's message that is not a command.
///
/// `Debug` prints lengths instead of text and captions.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundContent {
    /// Free text.
    Text(String),
    /// A photo (e.g. a damage report); fetch it with the provider's media API.
    Photo {
        /// Provider media id or URL.
        media_id: String,
        /// MIME type, if the provider reports it.
        mime_type: Option<String>,
        /// Caption the resident added.
        caption: Option<String>,
    },
    /// Anything else (stickers, locations, voice notes, …).
    Unsupported {
        /// Provider's name for the message type, e.g. `sticker`.
        kind: String,
    },
}

impl fmt::Debug for InboundContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboundContent::Text(text) => f
                .debug_struct("Text")
                .field("chars", &text.chars().count())
                .finish(),
            InboundContent::Photo {
                media_id,
                mime_type,
                caption,
            } => f
                .debug_struct("Photo")
                .field("media_id", media_id)
                .field("mime_type", mime_type)
                .field(
                    "caption_chars",
                    &caption.as_ref().map(|c| c.chars().count()),
                )
                .finish(),
            InboundContent::Unsupported { kind } => {
                f.debug_struct("Unsupported").field("kind", kind).finish()
            }
        }
    }
}

/// Something that happened on a channel, as reported by its webhook.
///
/// Serialisable (JSON with a `"type"` tag), so Herold can store each event
/// before processing it; the serialised form holds addresses and text in
/// clear and must be encrypted at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A resident sent a command (see [`Command::parse`]).
    Command {
        /// Who sent it.
        from: Address,
        /// The recognised command.
        command: Command,
        /// The language of its keyword, if it tells ([`crate::Parsed`]).
        #[serde(default)]
        language: Option<crate::Language>,
        /// Provider id of the inbound message (for deduplication).
        provider_message_id: Option<String>,
        /// When the provider received it.
        received_at: DateTime<Utc>,
    },
    /// A resident sent something that is not a command.
    Message {
        /// Who sent it.
        from: Address,
        /// What was sent.
        content: InboundContent,
        /// Provider id of the inbound message (for deduplication).
        provider_message_id: Option<String>,
        /// When the provider received it.
        received_at: DateTime<Utc>,
    },
    /// A status update for a message we sent earlier.
    Status {
        /// The id from [`Receipt::provider_message_id`](crate::Receipt::provider_message_id).
        provider_message_id: String,
        /// The new status.
        status: DeliveryStatus,
        /// When the status changed.
        at: DateTime<Utc>,
        /// Provider error description for [`DeliveryStatus::Failed`] (log-safe).
        error: Option<String>,
        /// What a [`DeliveryStatus::Failed`] reported after the provider
        /// took the message means for it, classified as a failed send
        /// would be; `None`: it is given up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<crate::LateFailure>,
    },
}

impl InboundEvent {
    /// The key under which a provider reporting this event again (webhook
    /// retries, replays, several polls) is recognised as the same event:
    ///
    /// * a delivery status: `"{provider_message_id}:{status}"` (e.g.
    ///   `fake-7:delivered`), so each status of a message counts once;
    /// * a command or message: the provider's message id;
    /// * a command or message without a provider id: `sha256:` and the hex
    ///   SHA-256 of the event's JSON, so identical reports still collapse
    ///   while different ones never do. The digest holds no personal data
    ///   in clear.
    ///
    /// Keys are unique per channel, not across channels.
    pub fn dedupe_key(&self) -> String {
        let id = match self {
            InboundEvent::Status {
                provider_message_id,
                status,
                ..
            } => return format!("{provider_message_id}:{}", status.as_str()),
            InboundEvent::Command {
                provider_message_id,
                ..
            }
            | InboundEvent::Message {
                provider_message_id,
                ..
            } => provider_message_id,
        };
        match id {
            Some(id) => id.clone(),
            None => {
                // Serialising these types cannot fail (string keys only);
                // an empty digest input would still be deterministic.
                let json = serde_json::to_vec(self).unwrap_or_default();
                format!("sha256:{}", hex::encode(Sha256::digest(&json)))
            }
        }
    }

    /// Builds a `Command` event if `text` is a command, otherwise a text `Message` event.
    pub fn from_text(
        from: Address,
        text: impl Into<String>,
        provider_message_id: Option<String>,
        received_at: DateTime<Utc>,
    ) -> Self {
        let text = text.into();
        match Command::parse_detailed(&text) {
            Some(parsed) => InboundEvent::Command {
                from,
                command: parsed.command,
                language: parsed.language,
                provider_message_id,
                received_at,
            },
            None => InboundEvent::Message {
                from,
                content: InboundContent::Text(text),
                provider_message_id,
                received_at,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_hides_body_and_query() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-signature", http::HeaderValue::from_static("abc"));
        let req = InboundRequest::new(
            headers,
            Some("token=geheim".into()),
            b"{\"text\":\"privat\"}".to_vec(),
        );
        let dbg = format!("{req:?}");
        assert!(dbg.contains("x-signature"));
        assert!(dbg.contains("body_len: 17"));
        assert!(!dbg.contains("privat") && !dbg.contains("geheim") && !dbg.contains("abc"));
        assert_eq!(req.header("X-Signature"), Some("abc"));
        assert_eq!(req.header("x-missing"), None);
    }

    #[test]
    fn content_debug_hides_text() {
        let t = InboundContent::Text("Meine Adresse ist".into());
        assert_eq!(format!("{t:?}"), "Text { chars: 17 }");
        let p = InboundContent::Photo {
            media_id: "m1".into(),
            mime_type: None,
            caption: Some("Schlagloch vor Haus 3".into()),
        };
        assert!(!format!("{p:?}").contains("Schlagloch"));
    }

    #[test]
    fn events_roundtrip_through_json() {
        let at = "2026-11-29T08:00:00Z".parse().unwrap();
        let events = vec![
            InboundEvent::from_text(Address::new("123"), "1, 3", Some("m1".into()), at),
            InboundEvent::Message {
                from: Address::new("123"),
                content: InboundContent::Photo {
                    media_id: "p1".into(),
                    mime_type: Some("image/jpeg".into()),
                    caption: Some("Schlagloch".into()),
                },
                provider_message_id: None,
                received_at: at,
            },
            InboundEvent::Status {
                provider_message_id: "fake-7".into(),
                status: DeliveryStatus::Read,
                at,
                error: None,
                failure: None,
            },
        ];
        let json = serde_json::to_string(&events).unwrap();
        assert!(json.contains(r#""type":"command""#), "{json}");
        let back: Vec<InboundEvent> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, events);
    }

    #[test]
    fn dedupe_keys() {
        let at = "2026-11-29T08:00:00Z".parse().unwrap();
        let status = |s| InboundEvent::Status {
            provider_message_id: "fake-7".into(),
            status: s,
            at,
            error: None,
            failure: None,
        };
        assert_eq!(status(DeliveryStatus::Read).dedupe_key(), "fake-7:read");
        assert_ne!(
            status(DeliveryStatus::Read).dedupe_key(),
            status(DeliveryStatus::Delivered).dedupe_key()
        );
        let from = Address::new("+4915112345678");
        let with_id = InboundEvent::from_text(from.clone(), "STOP", Some("m9".into()), at);
        assert_eq!(with_id.dedupe_key(), "m9");
        let a = InboundEvent::from_text(from.clone(), "Hallo", None, at);
        let b = InboundEvent::from_text(from.clone(), "Hallo!", None, at);
        assert_eq!(a.dedupe_key(), a.clone().dedupe_key());
        assert_ne!(a.dedupe_key(), b.dedupe_key());
        assert!(a.dedupe_key().starts_with("sha256:"));
        assert!(!a.dedupe_key().contains("4915112345678"));
    }

    #[test]
    fn from_text_classifies() {
        let now = Utc::now();
        let from = Address::new("123");
        assert!(matches!(
            InboundEvent::from_text(from.clone(), " Stopp ", None, now),
            InboundEvent::Command {
                command: Command::Stop(_),
                ..
            }
        ));
        assert!(matches!(
            InboundEvent::from_text(from, "stop the noise please", None, now),
            InboundEvent::Message {
                content: InboundContent::Text(_),
                ..
            }
        ));
    }
}
