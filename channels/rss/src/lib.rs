//! Atom, RSS 2.0 and iCalendar feeds: Herold's pull channel.
//!
//! Feeds are pulled by readers, so nothing is pushed anywhere: the web layer
//! loads the published announcements from storage, maps them to [`FeedEntry`]s
//! and serves [`atom_feed`] or [`rss_feed`], or maps dated announcements to
//! [`CalendarEvent`]s and serves [`ical_calendar`]. [`FeedChannel`] plugs feeds into the
//! delivery engine like any other [`Channel`](herold_channel_api::Channel); its
//! `send` merely acknowledges.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use herold_channel_rss::{atom_feed, rss_feed, FeedEntry, FeedMeta};
//!
//! let at = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap();
//! let meta = FeedMeta {
//!     id: "https://herold.example.org/feed".into(),
//!     title: "Gemeinde Musterdorf".into(),
//!     subtitle: Some("Bekanntmachungen".into()),
//!     self_url: "https://herold.example.org/feed.atom".into(),
//!     site_url: "https://www.musterdorf.de/".into(),
//!     language: "de".into(),
//!     generator: "Herold".into(),
//!     updated: at,
//!     hub: None,
//! };
//! let entry = FeedEntry {
//!     id: "urn:herold:announcement:12".into(),
//!     title: "Straßensperrung Hauptstraße".into(),
//!     content_html: "<p>Ab Montag gesperrt.</p>".into(),
//!     summary_text: "Ab Montag gesperrt.".into(),
//!     link: "https://www.musterdorf.de/a/12".into(),
//!     published: at,
//!     updated: at,
//!     category_slug: "verkehr".into(),
//!     category_name: "Verkehr".into(),
//!     author: "Ordnungsamt".into(),
//!     urgent: false,
//!     corrects: None,
//!     ..FeedEntry::default()
//! };
//! let atom = atom_feed(&meta, std::slice::from_ref(&entry));
//! assert!(atom.contains("<id>urn:herold:announcement:12</id>"));
//! let rss = rss_feed(&meta, &[entry]);
//! assert!(rss.contains("<rss version=\"2.0\""));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod atom;
mod channel;
mod ical;
mod rss2;
mod xml;

use chrono::{DateTime, Utc};

pub use atom::atom_feed;
pub use channel::FeedChannel;
/// The time of a [`CalendarEvent`] (all-day events with an inclusive last day).
pub use herold_channel_api::EventTime;
pub use ical::{
    ical_calendar, Attachment, CalendarEvent, CalendarMeta, EventStatus, DEFAULT_REFRESH_INTERVAL,
};
pub use rss2::rss_feed;

/// MIME type to serve [`atom_feed`] output with.
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
/// MIME type to serve [`rss_feed`] output with.
pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
/// MIME type to serve [`ical_calendar`] output with.
pub const ICAL_CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// Category term added to urgent entries.
pub const URGENT_TERM: &str = "urgent";
/// Human-readable label of [`URGENT_TERM`].
pub const URGENT_LABEL: &str = "Dringend";
/// Category term added to entries that correct an earlier entry.
pub const CORRECTION_TERM: &str = "correction";
/// Human-readable label of [`CORRECTION_TERM`].
pub const CORRECTION_LABEL: &str = "Berichtigung";
/// Visible note put before the content of an entry that corrects an earlier one,
/// followed by the corrected entry's id (linked if it is a web URL).
pub const CORRECTION_NOTE: &str = "Diese Meldung berichtigt eine frühere Meldung:";

/// Feed-level metadata.
///
/// `Default` gives empty strings, the Unix epoch and no hub; use it with struct
/// update syntax (`..FeedMeta::default()`) so future optional fields don't break
/// callers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedMeta {
    /// Stable, permanent IRI of the feed (e.g. a `urn:` or `https:` URI).
    pub id: String,
    /// Feed title, usually the municipality's name.
    pub title: String,
    /// Optional subtitle; also used as the RSS description.
    pub subtitle: Option<String>,
    /// URL this very document is served from (`rel="self"`); differs between the
    /// Atom and RSS renderings of the same feed.
    pub self_url: String,
    /// The municipality's website (`rel="alternate"`).
    pub site_url: String,
    /// Language tag of the content, e.g. `de`.
    pub language: String,
    /// Name of the generating software, e.g. `Herold 0.1.0`.
    pub generator: String,
    /// Last time any entry changed.
    pub updated: DateTime<Utc>,
    /// WebSub hub URL (W3C WebSub). If set, the feed advertises it with a
    /// `rel="hub"` link next to its `rel="self"` link, so subscribers can ask the
    /// hub for pushes instead of polling.
    pub hub: Option<String>,
}

/// One published announcement as a feed entry.
///
/// `Default` gives empty strings, the Unix epoch and no optional parts; use it with
/// struct update syntax (`..FeedEntry::default()`) so future optional fields don't
/// break callers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedEntry {
    /// Stable, permanent IRI, e.g. `urn:herold:announcement:12` or a `tag:` URI.
    pub id: String,
    /// Title as plain text.
    pub title: String,
    /// Body as already-sanitised HTML.
    pub content_html: String,
    /// Short plain-text summary.
    pub summary_text: String,
    /// Link to the announcement on the website.
    pub link: String,
    /// First publication time.
    pub published: DateTime<Utc>,
    /// Last modification time.
    pub updated: DateTime<Utc>,
    /// Machine-readable category, e.g. `abfall`.
    pub category_slug: String,
    /// Human-readable category, e.g. `Abfall & Wertstoffe`.
    pub category_name: String,
    /// Publishing office or person, e.g. `Ordnungsamt`.
    pub author: String,
    /// Whether this is an urgent warning.
    pub urgent: bool,
    /// Id of the entry this one corrects, if any. An http(s) URL is also linked
    /// (Atom `rel="related"`, a link in the visible correction note).
    pub corrects: Option<String>,
    /// Image attached to the announcement, published as an enclosure.
    pub image: Option<Enclosure>,
}

/// A file attached to a feed entry, e.g. the announcement's image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enclosure {
    /// Absolute URL of the file.
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: String,
    /// Size in bytes, if known. Atom omits an unknown length; RSS requires the
    /// attribute, so it is written as `0` there (as the RSS Advisory Board
    /// recommends for unknown sizes).
    pub length: Option<u64>,
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use chrono::TimeZone;

    pub const NASTY: &str = "Straße <gesperrt> & \"Umleitung\" 'heute' ]]>\u{1}\u{ffff} Ende";
    pub const NASTY_CLEAN: &str = "Straße <gesperrt> & \"Umleitung\" 'heute' ]]> Ende";

    pub fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, day, 7, 8, 9).unwrap()
    }

    pub fn meta() -> FeedMeta {
        FeedMeta {
            id: "https://herold.example.org/feed".into(),
            title: "Gemeinde Musterdorf".into(),
            subtitle: Some("Amtliche Bekanntmachungen".into()),
            self_url: "https://herold.example.org/feed.atom".into(),
            site_url: "https://www.musterdorf.de/".into(),
            language: "de".into(),
            generator: "Herold".into(),
            updated: at(9),
            hub: None,
        }
    }

    pub fn entry(n: u32) -> FeedEntry {
        FeedEntry {
            id: format!("urn:herold:announcement:{n}"),
            title: format!("Meldung {n}"),
            content_html: format!("<p>Inhalt {n} &amp; mehr</p>"),
            summary_text: format!("Inhalt {n} & mehr"),
            link: format!("https://www.musterdorf.de/a/{n}"),
            published: at(n),
            updated: at(n + 1),
            category_slug: "verkehr".into(),
            category_name: "Verkehr & Straßen".into(),
            author: "Ordnungsamt".into(),
            urgent: false,
            corrects: None,
            image: None,
        }
    }
}
