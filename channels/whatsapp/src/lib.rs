//! The WhatsApp channel of Herold: Meta's WhatsApp Cloud API over HTTPS.
//!
//! * [`WhatsAppChannel`] sends announcements and replies with
//!   `POST /{phone_number_id}/messages`: free text in WhatsApp markup (with
//!   the announcement's image) to residents who wrote within the last 24
//!   hours, an approved template ([`Templates`]) to everyone else, and maps
//!   Meta's error codes to [`SendError`](herold_channel_api::SendError)s
//!   ([`map`]). It also fetches the photos residents send (media metadata,
//!   then the short-lived download URL, never more than the core's limit).
//! * [`WhatsAppWebhook`] answers Meta's verification handshake, checks
//!   `X-Hub-Signature-256` over the raw body in constant time, and turns
//!   the notification's messages and statuses into
//!   [`InboundEvent`](herold_channel_api::InboundEvent)s.
//!
//! Phone numbers, tokens and texts never appear in `Debug` output or error
//! reasons.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod config;
pub mod map;
mod webhook;

pub use channel::{WhatsAppChannel, MAX_CAPTION_CHARS, MAX_TEXT_CHARS};
pub use config::{
    ConfigError, Field, Template, Templates, WhatsAppConfig, DEFAULT_API_URL, DEFAULT_API_VERSION,
    DEFAULT_PAIR_SPACING_SECONDS, DEFAULT_RATE_PER_SECOND,
};
pub use webhook::{parse_notification, WhatsAppWebhook, SIGNATURE_HEADER};
