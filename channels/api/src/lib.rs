//! The adapter API every Herold delivery channel implements.
//!
//! Herold publishes an announcement once and delivers it through several
//! channels. Each channel is an adapter that
//!
//! * describes itself with [`Capabilities`] (reach, length limits, formatting,
//!   media, rate limits, receipts),
//! * implements [`Channel::send`] for one already-rendered [`OutboundMessage`],
//! * optionally handles webhooks with an [`InboundVerifier`] and an
//!   [`InboundParser`] that turn provider requests into [`InboundEvent`]s
//!   (subscription [`Command`]s, resident messages, delivery statuses), or
//!   fetches them itself with an [`InboundPoller`] when the provider cannot
//!   call Herold, and
//! * optionally fetches the media residents send ([`Channel::fetch_media`]).
//!
//! Addresses and message text are personal data: [`Address`], [`RenderedMessage`],
//! [`InboundContent`] and [`InboundRequest`] redact them in their `Debug` output.
//!
//! # How the delivery engine handles failures
//!
//! When [`Channel::send`] fails, the engine calls [`SendError::disposition`]:
//!
//! * [`Disposition::Retry`] – retry this message with exponential backoff ([`retry_delay`]), but not
//!   before `after`; after too many attempts it is marked failed.
//! * [`Disposition::BackOff`] – the provider throttles the whole channel: pause all
//!   sends on this channel for `after` (or the engine's default), then retry.
//! * [`Disposition::Hold`] – the channel is misconfigured ([`SendError::Misconfigured`],
//!   e.g. a revoked token): keep the message queued, pause the channel and alert an
//!   administrator, because every further send would fail the same way.
//! * [`Disposition::GiveUp`] – mark the message failed; if `recipient_gone`, end the
//!   subscription.
//!
//! # Example adapter
//!
//! A complete, in-memory adapter with a toy webhook secured by a shared token:
//!
//! ```
//! use std::sync::Mutex;
//!
//! use async_trait::async_trait;
//! use chrono::Utc;
//! use herold_channel_api::{
//!     Address, Capabilities, Channel, ChannelKind, Command, Destination, Formatting,
//!     InboundError, InboundEvent, InboundParser, InboundRequest, InboundVerifier,
//!     OutboundMessage, RateLimit, Reach, Receipt, RenderedMessage, SendError,
//! };
//!
//! /// Stores sent messages instead of talking to a provider.
//! struct MemoryChannel {
//!     caps: Capabilities,
//!     sent: Mutex<Vec<(String, String)>>,
//! }
//!
//! impl MemoryChannel {
//!     fn new() -> Self {
//!         Self {
//!             caps: Capabilities {
//!                 reach: Reach::Push,
//!                 max_text_chars: Some(4096),
//!                 max_subject_chars: None,
//!                 formatting: Formatting::TelegramHtml,
//!                 outbound_media: vec![],
//!                 inbound_media: vec![],
//!                 default_rate: RateLimit::new(30.0, 30),
//!                 per_recipient_rate: Some(RateLimit::new(1.0, 1)),
//!                 inbound: true,
//!                 delivery_receipts: false,
//!                 read_receipts: false,
//!                 idempotent_sends: false,
//!                 unsubscribe_links: false,
//!             },
//!             sent: Mutex::new(Vec::new()),
//!         }
//!     }
//! }
//!
//! #[async_trait]
//! impl Channel for MemoryChannel {
//!     fn kind(&self) -> ChannelKind {
//!         ChannelKind::Telegram
//!     }
//!
//!     fn capabilities(&self) -> &Capabilities {
//!         &self.caps
//!     }
//!
//!     async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
//!         let Destination::Recipient(to) = &msg.destination else {
//!             return Err(SendError::permanent("follow targets are not supported"));
//!         };
//!         if !self.caps.text_fits(&msg.message.text) {
//!             return Err(SendError::permanent("text too long"));
//!         }
//!         let mut sent = self
//!             .sent
//!             .lock()
//!             .map_err(|_| SendError::transient("store poisoned"))?;
//!         sent.push((to.as_str().to_owned(), msg.message.text.clone()));
//!         Ok(Receipt::now(Some(format!("mem-{}", sent.len()))))
//!     }
//! }
//!
//! /// Accepts requests carrying the shared token in `x-toy-token`.
//! struct ToyVerifier {
//!     token: String,
//! }
//!
//! impl InboundVerifier for ToyVerifier {
//!     fn verify(&self, req: &InboundRequest) -> Result<(), InboundError> {
//!         let given = req.header("x-toy-token").ok_or(InboundError::MissingSignature)?;
//!         // Real adapters compare HMACs in constant time.
//!         if given == self.token {
//!             Ok(())
//!         } else {
//!             Err(InboundError::BadSignature)
//!         }
//!     }
//! }
//!
//! /// Parses bodies of the form `<sender>\n<text>`.
//! struct ToyParser;
//!
//! impl InboundParser for ToyParser {
//!     fn parse(&self, req: &InboundRequest) -> Result<Vec<InboundEvent>, InboundError> {
//!         let body = std::str::from_utf8(&req.body)
//!             .map_err(|_| InboundError::Malformed("body is not UTF-8".into()))?;
//!         let (from, text) = body
//!             .split_once('\n')
//!             .ok_or_else(|| InboundError::Malformed("missing sender line".into()))?;
//!         Ok(vec![InboundEvent::from_text(Address::new(from), text, None, Utc::now())])
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let channel = MemoryChannel::new();
//!     let msg = OutboundMessage {
//!         idempotency_key: "announcement-12/telegram/42".into(),
//!         destination: Destination::Recipient(Address::new("42")),
//!         message: RenderedMessage::new("*Straßensperrung* Hauptstraße ab Montag", "de"),
//!         unsubscribe: None,
//!         recipient_last_wrote: None,
//!     };
//!     let receipt = channel.send(&msg).await?;
//!     assert_eq!(receipt.provider_message_id.as_deref(), Some("mem-1"));
//!     // Debug output never contains the address or the text.
//!     assert!(!format!("{msg:?}").contains("Hauptstraße"));
//!
//!     // A rate-limited provider answer becomes a channel-wide back-off.
//!     let err = SendError::RateLimited {
//!         retry_after: herold_channel_api::retry_after_from_header("30", Utc::now()),
//!     };
//!     assert!(matches!(
//!         err.disposition(),
//!         herold_channel_api::Disposition::BackOff { after: Some(_) }
//!     ));
//!
//!     // Inbound: verify first, then parse.
//!     let mut headers = http::HeaderMap::new();
//!     headers.insert("x-toy-token", http::HeaderValue::from_static("s3cret"));
//!     let req = InboundRequest::new(headers, None, b"42\n/stop@HeroldBot".to_vec());
//!     ToyVerifier { token: "s3cret".into() }.verify(&req)?;
//!     let events = ToyParser.parse(&req)?;
//!     assert!(matches!(
//!         &events[..],
//!         [InboundEvent::Command { command: Command::Stop(_), .. }]
//!     ));
//!
//!     let unsigned = InboundRequest::new(http::HeaderMap::new(), None, Vec::new());
//!     assert_eq!(
//!         ToyVerifier { token: "s3cret".into() }.verify(&unsigned),
//!         Err(InboundError::MissingSignature)
//!     );
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capabilities;
pub mod channel;
pub mod command;
pub mod config;
pub mod error;
pub mod event_time;
pub mod inbound;
pub mod join;
pub mod kind;
pub mod media;
pub mod message;
pub mod poll;
pub mod retry;
pub mod text;

pub use capabilities::{Capabilities, Formatting, MediaKind, RateLimit, Reach};
pub use channel::Channel;
pub use command::{fold, Choice, Command, Language, Parsed};
pub use error::{Disposition, LateFailure, SendError};
pub use event_time::EventTime;
pub use inbound::{
    DeliveryStatus, InboundContent, InboundError, InboundEvent, InboundParser, InboundRequest,
    InboundVerifier,
};
pub use join::{JoinKind, JoinLink};
pub use kind::{ChannelKind, UnknownChannel};
pub use media::{FetchError, FetchedMedia};
pub use message::{
    Address, Destination, FollowRoute, FollowTarget, Media, OutboundMessage, Receipt,
    RenderedMessage, TemplateFields, UnsubscribeLinks,
};
pub use poll::{InboundPoller, PollError, Polled};
pub use retry::{retry_after_from_header, retry_delay, MAX_RETRY_AFTER};

/// Re-exported so adapters implement [`Channel`] with the same macro version.
pub use async_trait::async_trait;
