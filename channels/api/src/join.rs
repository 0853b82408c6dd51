//! How residents start receiving a channel: the links the public
//! subscribe page shows (with a QR code each), from the adapter's
//! configuration.

/// What following a link starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// A private chat with Herold's bot or number, the start command
    /// prefilled where the messenger allows: subscribing, choosing
    /// categories, writing to the town.
    Chat,
    /// A public channel or room that carries announcements (follow mode):
    /// reading without giving Herold any address.
    Follow,
}

/// One public link to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// A private chat or a public channel.
    pub kind: JoinKind,
    /// Where the link leads, e.g. `https://t.me/musterstadt_bot?start=start`.
    pub url: String,
    /// What residents recognise, e.g. `@musterstadt_bot`.
    pub label: String,
    /// The category slugs a follow link carries; empty means every one.
    pub categories: Vec<String>,
}

impl JoinLink {
    /// A link to a private chat.
    pub fn chat(url: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            kind: JoinKind::Chat,
            url: url.into(),
            label: label.into(),
            categories: Vec::new(),
        }
    }

    /// A link to a public channel or room carrying `categories`.
    pub fn follow(
        url: impl Into<String>,
        label: impl Into<String>,
        categories: Vec<String>,
    ) -> Self {
        Self {
            kind: JoinKind::Follow,
            url: url.into(),
            label: label.into(),
            categories,
        }
    }
}
