//! Topics: the hub serves exactly Herold's own feed URLs, and notices when
//! what a feed shows has changed.

use chrono::{DateTime, Utc};
use url::Url;

use crate::{
    service::{FeedName, FeedScope},
    storage::CategoryActivity,
};

/// Reads a topic URL, `{public_url}feeds/{all|category}.{atom|rss|ics}`
/// with no query or fragment, as the feed it names. Whether the category
/// exists is not checked here.
pub fn parse_topic(public_url: &Url, topic: &Url) -> Option<FeedName> {
    if topic.query().is_some() || topic.fragment().is_some() {
        return None;
    }
    let base = public_url.join("feeds/").ok()?;
    FeedName::parse(topic.as_str().strip_prefix(base.as_str())?)
}

/// A value that changes whenever the announcements `scope`'s feeds show
/// change: a publication, or a scheduled one coming due.
pub fn content_mark(scope: &FeedScope, activity: &[CategoryActivity]) -> String {
    let mut visible = 0;
    let mut newest_id = None;
    let mut newest: Option<DateTime<Utc>> = None;
    let in_scope = |a: &&CategoryActivity| match scope {
        FeedScope::All => true,
        FeedScope::Category(slug) => *slug == a.slug,
    };
    for a in activity.iter().filter(in_scope) {
        visible += a.visible;
        newest_id = newest_id.max(a.newest_id);
        newest = newest.max(a.newest_publish_at);
    }
    format!(
        "{visible}:{}:{}",
        newest_id.map_or("-".to_owned(), |i| i.to_string()),
        newest.map_or("-".to_owned(), |t| t.timestamp_micros().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::FeedFormat;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn parses_own_feed_urls_only() {
        let base = url("https://herold.example/gemeinde/");
        let t = |s: &str| parse_topic(&base, &url(s));
        assert_eq!(
            t("https://herold.example/gemeinde/feeds/all.atom"),
            Some(FeedName {
                scope: FeedScope::All,
                format: FeedFormat::Atom
            })
        );
        assert_eq!(
            t("https://HEROLD.example/gemeinde/feeds/abfall.rss"),
            Some(FeedName {
                scope: FeedScope::Category("abfall".into()),
                format: FeedFormat::Rss
            })
        );
        for bad in [
            "https://herold.example/feeds/abfall.atom",
            "http://herold.example/gemeinde/feeds/abfall.atom",
            "https://other.example/gemeinde/feeds/abfall.atom",
            "https://herold.example/gemeinde/feeds/abfall.json",
            "https://herold.example/gemeinde/feeds/abfall.atom?x=1",
            "https://herold.example/gemeinde/feeds/abfall.atom#top",
            "https://herold.example/gemeinde/feeds/a/b.atom",
            "https://herold.example/gemeinde/feeds/Abfall.atom",
            "https://herold.example/gemeinde/feeds/.atom",
            "https://herold.example/gemeinde/feeds/%20abfall.atom",
            "https://herold.example/gemeinde/feeds/all.atom.atom",
            "https://herold.example/gemeinde/announcements/1",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn marks_change_with_activity() {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
        let a = CategoryActivity {
            slug: "abfall".into(),
            visible: 2,
            newest_id: Some(7),
            newest_publish_at: at(100),
        };
        let b = CategoryActivity {
            slug: "verkehr".into(),
            visible: 1,
            newest_id: Some(9),
            newest_publish_at: at(50),
        };
        let abfall = FeedScope::Category("abfall".into());
        let empty = content_mark(&abfall, &[]);
        let one = content_mark(&abfall, &[a.clone(), b.clone()]);
        assert_ne!(empty, one);
        // Another category's activity does not touch this one's mark...
        assert_eq!(one, content_mark(&abfall, std::slice::from_ref(&a)));
        // ...but does touch the feed of all categories.
        assert_ne!(
            content_mark(&FeedScope::All, std::slice::from_ref(&a)),
            content_mark(&FeedScope::All, &[a.clone(), b])
        );
        // A scheduled announcement with a lower id coming due.
        let due = CategoryActivity {
            visible: 3,
            newest_publish_at: at(120),
            ..a
        };
        assert_ne!(one, content_mark(&abfall, &[due]));
    }
}
