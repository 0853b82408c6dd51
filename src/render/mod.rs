//! One rendering of an announcement for every channel: its Markdown body
//! as safe HTML and as plain text (feeds, e-mail, chat channels, pages),
//! its event time in the reader's language and the town's time zone, and
//! the whole message in each chat channel's own form ([`format`](mod@format)).

pub mod chart;
mod event;
pub mod format;
pub mod mail;
mod markdown;
pub mod message;
pub mod preview;
pub mod qr;
pub mod report;

pub use event::event_when;
pub use markdown::{summary, to_html, to_plain};
