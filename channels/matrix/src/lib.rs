//! The Matrix channel of Herold: a bot account with one end-to-end
//! encrypting device (matrix-sdk), for residents' direct chats and public
//! follow rooms.
//!
//! * [`MatrixChannel`] sends announcements and replies as `m.text` with a
//!   plain `body` and the renderer's Matrix HTML as `formatted_body`, to a
//!   resident's direct chat (the address is that chat's room id, so the
//!   resident's user id is never needed to send) or to the configured
//!   follow rooms. Encrypted rooms are encrypted for; the transaction id
//!   comes from the delivery's idempotency key, so a repeated send is
//!   deduplicated by the homeserver.
//! * The adapter logs in once and keeps its device: the session and
//!   matrix-sdk's SQLite state and crypto stores live in `store_path`
//!   (see [`SESSION_FILE`]). Only one process uses the device: the one
//!   that holds the store's lock.
//! * [`MatrixPoller`] syncs for the core's polling loop: it joins direct
//!   chats the bot is invited to, declines other invites, and reads the
//!   residents' messages (decrypted) into inbound events
//!   ([`inbound`]).
//!
//! Access tokens, passwords, room ids of residents, user ids and texts
//! never appear in `Debug` output, logs or error reasons.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod config;
mod error;
pub mod inbound;
pub mod map;
mod media;
mod poll;
mod session;
mod sync;

pub use channel::{MatrixChannel, MAX_TEXT_CHARS};
pub use config::{ConfigError, MatrixConfig, DEFAULT_RATE_PER_SECOND, DEFAULT_SYNC_WAIT_SECONDS};
pub use error::ConnectError;
pub use poll::MatrixPoller;
pub use session::SESSION_FILE;
