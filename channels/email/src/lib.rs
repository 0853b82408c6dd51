//! Email delivery for Herold: SMTP with [lettre] over a bounded pool of
//! connections.
//!
//! * [`EmailChannel`] implements [`Channel`](herold_channel_api::Channel) for
//!   announcements and offers [`EmailChannel::send_transactional`] for
//!   double-opt-in and unsubscribe confirmations.
//! * [`build_announcement`] / [`build_transactional`] turn the already rendered
//!   text and HTML into a `multipart/alternative` UTF-8 message with
//!   `List-Unsubscribe` + `List-Unsubscribe-Post` (RFC 8058), a random
//!   `Message-ID` and optional DKIM signature.
//! * [`map_failure`] maps SMTP reply codes and connection problems onto
//!   [`SendError`](herold_channel_api::SendError).
//! * [`smtp_ceiling`] measures what a server takes without the adapter, for
//!   benchmarks.
//!
//! ```
//! use herold_channel_api::{Address, Destination, OutboundMessage, RenderedMessage, UnsubscribeLinks};
//! use herold_channel_email::{build_announcement, EmailConfig, Security};
//!
//! let config = EmailConfig::new(
//!     "smtp.musterstadt.de",
//!     587,
//!     Security::Starttls,
//!     "Gemeinde Musterstadt <info@musterstadt.de>",
//! );
//! let sender = config.sender()?;
//! let mut message = RenderedMessage::new("Die Hauptstraße ist ab Montag gesperrt.", "de");
//! message.subject = Some("Straßensperrung".into());
//! let mail = build_announcement(
//!     &sender,
//!     &OutboundMessage {
//!         idempotency_key: "a12/email/7".into(),
//!         destination: Destination::Recipient(Address::new("max@example.org")),
//!         message,
//!         unsubscribe: Some(UnsubscribeLinks {
//!             one_click: "https://herold.musterstadt.de/u/tok".into(),
//!             manage: "https://herold.musterstadt.de/m/tok".into(),
//!         }),
//!         recipient_last_wrote: None,
//!     },
//! )?;
//! let raw = String::from_utf8(mail.message.formatted())?;
//! assert!(raw.contains("List-Unsubscribe: <https://herold.musterstadt.de/u/tok>\r\n"));
//! assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod build;
mod ceiling;
mod channel;
mod config;
mod dkim;
mod map;
mod pool;

pub use build::{
    build_announcement, build_transactional, BuiltMail, Sender, TransactionalMail,
    IDEMPOTENCY_HEADER, MANAGE_PLACEHOLDER, MAX_SUBJECT_CHARS, UNSUBSCRIBE_PLACEHOLDER,
};
pub use ceiling::{smtp_ceiling, CeilingError};
pub use channel::{EmailChannel, EmailError};
pub use config::{
    ConfigError, EmailConfig, Security, DEFAULT_MAX_BOUNCES, DEFAULT_POOL_MAX_SIZE,
    DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND, DEFAULT_TIMEOUT_SECONDS,
};
pub use dkim::SIGNED_HEADERS;
pub use map::{classify, map_failure, map_smtp_error, EnhancedCode, SmtpFailure};

/// Re-exported so callers can name lettre types in this crate's API.
pub use lettre;
