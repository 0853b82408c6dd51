//! Building the Atom and RSS documents from stored announcements.

use chrono::{DateTime, Utc};
use herold_channel_rss::{atom_feed, rss_feed, Enclosure, FeedEntry, FeedMeta};

use super::{Herold, ServiceError};
use crate::{
    domain::{Announcement, Category, Slug},
    i18n::t,
    render,
    storage::FeedQuery,
};

/// How many announcements a feed carries.
pub const FEED_LENGTH: i64 = 50;

/// Which announcements a feed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedScope {
    /// Every category.
    All,
    /// One category, by slug.
    Category(String),
}

impl FeedScope {
    /// The category slug, if the feed is one category's.
    pub fn category(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Category(slug) => Some(slug),
        }
    }
}

/// Atom (RFC 4287), RSS 2.0, or iCalendar (RFC 5545: announcements
/// about an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    Atom,
    Rss,
    Ical,
}

impl FeedFormat {
    /// File extension in feed URLs.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Atom => "atom",
            Self::Rss => "rss",
            Self::Ical => "ics",
        }
    }

    /// The format of a file extension in feed URLs.
    pub fn from_extension(ext: &str) -> Option<Self> {
        [Self::Atom, Self::Rss, Self::Ical]
            .into_iter()
            .find(|f| f.extension() == ext)
    }

    /// HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Atom => "application/atom+xml; charset=utf-8",
            Self::Rss => "application/rss+xml; charset=utf-8",
            Self::Ical => herold_channel_rss::ICAL_CONTENT_TYPE,
        }
    }
}

/// A feed's file name under `/feeds/`: `{all|category}.{atom|rss|ics}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedName {
    pub scope: FeedScope,
    pub format: FeedFormat,
}

impl FeedName {
    /// Reads `all.atom`, `abfall.ics` and the like: `all` or a valid
    /// category slug, a dot, a known extension. Whether the category exists
    /// is not checked here.
    pub fn parse(name: &str) -> Option<Self> {
        let (stem, ext) = name.rsplit_once('.')?;
        let format = FeedFormat::from_extension(ext)?;
        let scope = if stem == Slug::ALL {
            FeedScope::All
        } else {
            let slug = Slug::parse(stem).ok().filter(|s| s.as_str() == stem)?;
            FeedScope::Category(slug.to_string())
        };
        Some(Self { scope, format })
    }
}

/// A rendered feed with what HTTP caching needs.
#[derive(Debug, Clone)]
pub struct FeedDocument {
    pub body: String,
    pub content_type: &'static str,
    /// Time of the newest change the feed shows (the web layer adds the
    /// entity tag, a hash of the body, when it caches the document).
    pub last_modified: DateTime<Utc>,
}

impl Herold {
    /// The public URL of an announcement.
    pub fn announcement_url(&self, id: i64) -> String {
        self.public_url(&format!("announcements/{id}"))
    }

    /// An absolute URL under `public_url`.
    pub fn public_url(&self, path: &str) -> String {
        self.config
            .public_url
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{path}", self.config.public_url))
    }

    /// Renders a feed. `Ok(None)` if the category does not exist.
    pub fn feed(
        &self,
        scope: &FeedScope,
        format: FeedFormat,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedDocument>, ServiceError> {
        let locale = self.config.default_locale.as_str();
        let site = self.config.site_name.as_str();
        let (category, name, title) = match scope {
            FeedScope::All => (
                None,
                "all".to_owned(),
                t(locale, "feed.title.all", &[("site", site)]),
            ),
            FeedScope::Category(slug) => match self.db.find_category(slug)? {
                None => return Ok(None),
                Some(c) => {
                    let title = t(
                        locale,
                        "feed.title.category",
                        &[("site", site), ("category", &c.name)],
                    );
                    (Some(c), slug.clone(), title)
                }
            },
        };
        if format == FeedFormat::Ical {
            return self
                .calendar(category.as_ref(), &name, title, now)
                .map(Some);
        }
        let rows = self.db.feed_announcements(&FeedQuery {
            category_id: category.as_ref().map(|c| c.id),
            now,
            limit: FEED_LENGTH,
        })?;
        let last_modified = last_modified(&rows, category.as_ref());
        let meta = FeedMeta {
            id: self.public_url(&format!("feeds/{name}")),
            title,
            subtitle: Some(t(locale, "feed.subtitle", &[("site", site)])),
            self_url: self.public_url(&format!("feeds/{name}.{}", format.extension())),
            site_url: self.config.public_url.to_string(),
            language: locale.to_owned(),
            generator: format!("Herold {}", env!("CARGO_PKG_VERSION")),
            updated: last_modified,
            hub: self.config.websub_hub_url(),
        };
        let entries: Vec<FeedEntry> = rows.iter().map(|(a, c)| self.entry(a, c, locale)).collect();
        let body = match format {
            FeedFormat::Atom => atom_feed(&meta, &entries),
            FeedFormat::Rss | FeedFormat::Ical => rss_feed(&meta, &entries),
        };
        Ok(Some(FeedDocument {
            body,
            content_type: format.content_type(),
            last_modified,
        }))
    }

    fn entry(&self, a: &Announcement, c: &Category, locale: &str) -> FeedEntry {
        let title = match a.corrects_id {
            Some(_) => format!("{}{}", t(locale, "feed.correction_prefix", &[]), a.title),
            None => a.title.clone(),
        };
        FeedEntry {
            id: self.announcement_url(a.id),
            title,
            content_html: render::to_html(&a.body),
            summary_text: render::summary(&a.body, 280),
            link: self.announcement_url(a.id),
            published: a.publish_at,
            updated: a.publish_at,
            category_slug: c.slug.to_string(),
            category_name: c.name.clone(),
            author: self.config.site_name.clone(),
            urgent: a.urgent,
            corrects: a.corrects_id.map(|id| self.announcement_url(id)),
            image: a.image.as_ref().map(|i| Enclosure {
                url: self.image_url(i),
                mime_type: i.format.mime_type().to_owned(),
                length: Some(i.byte_length),
            }),
        }
    }
}

/// When a feed of `rows` last changed: its newest announcement, but never
/// before its category was created (an empty feed still has a date).
pub fn last_modified<T>(rows: &[(Announcement, T)], category: Option<&Category>) -> DateTime<Utc> {
    let floor = category.map_or(DateTime::<Utc>::UNIX_EPOCH, |c| c.created_at);
    rows.iter()
        .map(|(a, _)| a.publish_at)
        .max()
        .unwrap_or(floor)
        .max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_names() {
        let name = |scope, format| Some(FeedName { scope, format });
        assert_eq!(
            FeedName::parse("all.atom"),
            name(FeedScope::All, FeedFormat::Atom)
        );
        assert_eq!(
            FeedName::parse("abfall.rss"),
            name(FeedScope::Category("abfall".into()), FeedFormat::Rss)
        );
        assert_eq!(
            FeedName::parse("all.ics"),
            name(FeedScope::All, FeedFormat::Ical)
        );
        for bad in [
            "abfall.json",
            "abfall",
            ".atom",
            "Abfall.atom",
            " abfall.atom",
            "a/b.atom",
            "all.atom.atom",
        ] {
            assert_eq!(FeedName::parse(bad), None, "{bad}");
        }
        assert_eq!(FeedScope::All.category(), None);
        assert_eq!(
            FeedScope::Category("abfall".into()).category(),
            Some("abfall")
        );
    }
}
