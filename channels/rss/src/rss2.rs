//! RSS 2.0 output.

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item};

use crate::xml::{cleaned, content_with_note, into_string, is_web_url};
use crate::{FeedEntry, FeedMeta, CORRECTION_LABEL, URGENT_LABEL};

/// Renders an RSS 2.0 feed. Items appear in the order given.
///
/// The channel's description is [`FeedMeta::subtitle`], falling back to the title;
/// an `atom:link rel="self"` points to [`FeedMeta::self_url`] and, if set, an
/// `atom:link rel="hub"` to the WebSub [`FeedMeta::hub`]. Items carry a
/// non-permalink `guid` (the entry id), the HTML content as `description`,
/// `pubDate`, the category name (plus `Dringend`/`Berichtigung` where applicable),
/// the author as `dc:creator` (RSS `author` must be an email address) and the
/// image as `enclosure` (`length="0"` if unknown, since RSS requires it).
/// Corrections start their description with the visible
/// [`CORRECTION_NOTE`](crate::CORRECTION_NOTE) and, if the corrected id is an
/// http(s) URL, also carry an `atom:link rel="related"` to it.
pub fn rss_feed(meta: &FeedMeta, entries: &[FeedEntry]) -> String {
    let description = meta.subtitle.as_deref().unwrap_or(&meta.title);
    let channel = Channel {
        title: cleaned(&meta.title),
        link: cleaned(&meta.site_url),
        description: cleaned(description),
        language: (!meta.language.is_empty()).then(|| cleaned(&meta.language)),
        last_build_date: Some(meta.updated.to_rfc2822()),
        generator: Some(cleaned(&meta.generator)),
        atom_ext: Some(AtomExtension {
            links: channel_links(meta),
        }),
        items: entries.iter().map(rss_item).collect(),
        ..Channel::default()
    };
    into_string(channel.write_to(Vec::new()))
}

fn channel_links(meta: &FeedMeta) -> Vec<Link> {
    let mut links = vec![Link {
        href: cleaned(&meta.self_url),
        rel: "self".to_owned(),
        mime_type: Some("application/rss+xml".to_owned()),
        ..Link::default()
    }];
    if let Some(hub) = &meta.hub {
        links.push(Link {
            href: cleaned(hub),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }
    links
}

fn category(name: &str) -> Category {
    Category {
        name: cleaned(name),
        domain: None,
    }
}

fn rss_item(e: &FeedEntry) -> Item {
    let mut categories = vec![category(&e.category_name)];
    if e.urgent {
        categories.push(category(URGENT_LABEL));
    }
    if e.corrects.is_some() {
        categories.push(category(CORRECTION_LABEL));
    }
    let related = e
        .corrects
        .as_deref()
        .filter(|id| is_web_url(id))
        .map(|id| AtomExtension {
            links: vec![Link {
                href: cleaned(id),
                rel: "related".to_owned(),
                ..Link::default()
            }],
        });
    Item {
        title: Some(cleaned(&e.title)),
        link: Some(cleaned(&e.link)),
        description: Some(content_with_note(&e.content_html, e.corrects.as_deref())),
        enclosure: e.image.as_ref().map(|image| Enclosure {
            url: cleaned(&image.url),
            length: image.length.unwrap_or(0).to_string(),
            mime_type: cleaned(&image.mime_type),
        }),
        atom_ext: related,
        guid: Some(Guid {
            value: cleaned(&e.id),
            permalink: false,
        }),
        pub_date: Some(e.published.to_rfc2822()),
        categories,
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![cleaned(&e.author)],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, entry, meta, NASTY, NASTY_CLEAN};
    use chrono::DateTime;
    use std::str::FromStr;

    fn parse(xml: &str) -> Channel {
        Channel::from_str(xml).unwrap_or_else(|e| panic!("invalid RSS ({e}): {xml}"))
    }

    #[test]
    fn empty_feed_is_valid() {
        let xml = rss_feed(&meta(), &[]);
        assert!(xml.starts_with("<?xml"));
        let ch = parse(&xml);
        assert_eq!(ch.title(), "Gemeinde Musterdorf");
        assert_eq!(ch.link(), "https://www.musterdorf.de/");
        assert_eq!(ch.description(), "Amtliche Bekanntmachungen");
        assert_eq!(ch.language(), Some("de"));
        assert_eq!(ch.generator(), Some("Herold"));
        let built = DateTime::parse_from_rfc2822(ch.last_build_date().unwrap()).unwrap();
        assert_eq!(built, at(9));
        assert!(ch.items().is_empty());
    }

    #[test]
    fn description_falls_back_to_title() {
        let mut m = meta();
        m.subtitle = None;
        assert_eq!(
            parse(&rss_feed(&m, &[])).description(),
            "Gemeinde Musterdorf"
        );
    }

    #[test]
    fn self_link_present() {
        let xml = rss_feed(&meta(), &[]);
        assert!(xml.contains("xmlns:atom=\"http://www.w3.org/2005/Atom\""));
        let ch = parse(&xml);
        let links = ch.atom_ext().map(|a| a.links()).unwrap_or_default();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].rel(), "self");
        assert_eq!(links[0].href(), "https://herold.example.org/feed.atom");
        assert_eq!(links[0].mime_type(), Some("application/rss+xml"));
    }

    #[test]
    fn websub_hub_link() {
        let mut m = meta();
        m.hub = Some("https://hub.example.org/".into());
        let ch = parse(&rss_feed(&m, &[]));
        let links: Vec<(&str, &str)> = ch
            .atom_ext()
            .map(|a| a.links())
            .unwrap_or_default()
            .iter()
            .map(|l| (l.rel(), l.href()))
            .collect();
        assert_eq!(
            links,
            [
                ("self", "https://herold.example.org/feed.atom"),
                ("hub", "https://hub.example.org/")
            ]
        );
    }

    #[test]
    fn image_enclosure() {
        let mut known = entry(1);
        known.image = Some(crate::Enclosure {
            url: "https://www.musterdorf.de/img/1.jpg?s=1&t=2".into(),
            mime_type: "image/jpeg".into(),
            length: Some(12345),
        });
        let mut unknown = entry(2);
        unknown.image = Some(crate::Enclosure {
            url: "https://www.musterdorf.de/img/2.png".into(),
            mime_type: "image/png".into(),
            length: None,
        });
        let ch = parse(&rss_feed(&meta(), &[known, unknown, entry(3)]));
        let enclosure = |i: usize| {
            ch.items()[i]
                .enclosure()
                .map(|e| (e.url(), e.mime_type(), e.length()))
        };
        assert_eq!(
            enclosure(0),
            Some((
                "https://www.musterdorf.de/img/1.jpg?s=1&t=2",
                "image/jpeg",
                "12345"
            ))
        );
        assert_eq!(
            enclosure(1),
            Some(("https://www.musterdorf.de/img/2.png", "image/png", "0"))
        );
        assert_eq!(enclosure(2), None);
    }

    #[test]
    fn items_keep_order_and_fields() {
        let ch = parse(&rss_feed(&meta(), &[entry(2), entry(5), entry(1)]));
        let guids: Vec<&str> = ch
            .items()
            .iter()
            .map(|i| i.guid().unwrap().value())
            .collect();
        assert_eq!(
            guids,
            [
                "urn:herold:announcement:2",
                "urn:herold:announcement:5",
                "urn:herold:announcement:1"
            ]
        );
        let item = &ch.items()[0];
        assert!(!item.guid().unwrap().is_permalink());
        assert_eq!(item.title(), Some("Meldung 2"));
        assert_eq!(item.link(), Some("https://www.musterdorf.de/a/2"));
        assert_eq!(item.description(), Some("<p>Inhalt 2 &amp; mehr</p>"));
        let published = DateTime::parse_from_rfc2822(item.pub_date().unwrap()).unwrap();
        assert_eq!(published, at(2));
        assert_eq!(item.categories().len(), 1);
        assert_eq!(item.categories()[0].name(), "Verkehr & Straßen");
        assert_eq!(item.categories()[0].domain(), None);
        assert_eq!(item.author(), None);
        assert_eq!(
            item.dublin_core_ext().map(|dc| dc.creators()),
            Some(&["Ordnungsamt".to_owned()][..])
        );
    }

    #[test]
    fn escaping_round_trips() {
        let title = "Straße <gesperrt> & \"Umleitung\"";
        let mut m = meta();
        m.title = title.into();
        m.subtitle = Some(title.into());
        let mut e = entry(1);
        e.title = title.into();
        e.author = title.into();
        e.category_name = title.into();
        e.content_html = format!("<p>{title}</p> ]]> <b>x</b>");
        let xml = rss_feed(&m, &[e.clone()]);
        assert!(xml.contains("<title>Straße &lt;gesperrt&gt; &amp; &quot;Umleitung&quot;</title>"));
        let ch = parse(&xml);
        assert_eq!(ch.title(), title);
        assert_eq!(ch.description(), title);
        let item = &ch.items()[0];
        assert_eq!(item.title(), Some(title));
        assert_eq!(item.categories()[0].name(), title);
        assert_eq!(item.description(), Some(e.content_html.as_str()));
        assert_eq!(
            item.dublin_core_ext().map(|dc| dc.creators()[0].as_str()),
            Some(title)
        );
    }

    #[test]
    fn invalid_xml_chars_are_dropped() {
        let mut e = entry(1);
        e.title = NASTY.into();
        let ch = parse(&rss_feed(&meta(), &[e]));
        assert_eq!(ch.items()[0].title(), Some(NASTY_CLEAN));
    }

    #[test]
    fn urgent_and_correction_categories() {
        let mut urgent = entry(1);
        urgent.urgent = true;
        let mut fix = entry(2);
        fix.corrects = Some("urn:herold:announcement:1".into());
        let ch = parse(&rss_feed(&meta(), &[urgent, fix]));
        let names = |i: usize| -> Vec<&str> {
            ch.items()[i]
                .categories()
                .iter()
                .map(|c| c.name())
                .collect()
        };
        assert_eq!(names(0), ["Verkehr & Straßen", "Dringend"]);
        assert_eq!(names(1), ["Verkehr & Straßen", "Berichtigung"]);
    }

    #[test]
    fn correction_note_and_related_link() {
        let mut url_fix = entry(2);
        url_fix.corrects = Some("https://www.musterdorf.de/a/1".into());
        let mut urn_fix = entry(3);
        urn_fix.corrects = Some("urn:herold:announcement:1".into());
        let ch = parse(&rss_feed(&meta(), &[entry(1), url_fix, urn_fix]));
        let item = |i: usize| &ch.items()[i];

        assert_eq!(item(0).description(), Some("<p>Inhalt 1 &amp; mehr</p>"));
        assert!(item(0).atom_ext().is_none());

        let desc = item(1).description().unwrap();
        assert!(desc.starts_with("<p class=\"herold-correction\">"));
        assert!(desc.contains(crate::CORRECTION_NOTE));
        assert!(desc.contains("<a href=\"https://www.musterdorf.de/a/1\">"));
        assert!(desc.ends_with("<p>Inhalt 2 &amp; mehr</p>"));
        let related: Vec<(&str, &str)> = item(1)
            .atom_ext()
            .map(|a| a.links())
            .unwrap_or_default()
            .iter()
            .map(|l| (l.rel(), l.href()))
            .collect();
        assert_eq!(related, [("related", "https://www.musterdorf.de/a/1")]);

        let desc = item(2).description().unwrap();
        assert!(desc.contains("urn:herold:announcement:1</p>"));
        assert!(!desc.contains("<a "));
        assert!(item(2).atom_ext().is_none());
    }
}
