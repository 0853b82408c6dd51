//! The Telegram channel of Herold: the Bot API over HTTPS.
//!
//! * [`TelegramChannel`] sends announcements and replies with `sendMessage`
//!   (`parse_mode=HTML`, Telegram's HTML subset) and images with `sendPhoto`,
//!   to residents (the address is the chat id) or to the configured public
//!   channel (follow mode), and maps every Bot API answer to a
//!   [`SendError`](herold_channel_api::SendError).
//! * [`TelegramWebhook`] checks the `X-Telegram-Bot-Api-Secret-Token` header
//!   in constant time and turns an `Update` into
//!   [`InboundEvent`](herold_channel_api::InboundEvent)s.
//! * [`TelegramChannel`] also fetches the photos residents send (`getFile`,
//!   then the download, never more than the core's limit).
//! * [`TelegramPoller`] fetches the same `Update`s with `getUpdates` long
//!   polling when Herold has no public https address (`telegram.mode`).
//!
//! Chat ids, tokens and texts never appear in `Debug` output or error reasons.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod config;
mod fetch;
pub mod map;
mod poll;
mod update;
mod webhook;

pub use channel::TelegramChannel;
pub use config::{
    ConfigError, Mode, TelegramConfig, DEFAULT_API_URL, DEFAULT_POLL_TIMEOUT_SECONDS,
    DEFAULT_RATE_PER_SECOND,
};
pub use poll::TelegramPoller;
pub use update::parse_update;
pub use webhook::{TelegramWebhook, SECRET_HEADER};
