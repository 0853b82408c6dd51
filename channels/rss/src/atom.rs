//! Atom (RFC 4287) output.

use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text};

use crate::xml::{clean, cleaned, content_with_note, into_string, is_web_url};
use crate::{FeedEntry, FeedMeta, CORRECTION_LABEL, CORRECTION_TERM, URGENT_LABEL, URGENT_TERM};

/// Renders an Atom 1.0 feed (RFC 4287). Entries appear in the order given.
///
/// The feed carries `xml:lang`, a `rel="self"` link to [`FeedMeta::self_url`], a
/// `rel="alternate"` link to [`FeedMeta::site_url`] and, if set, a `rel="hub"` link
/// to the WebSub [`FeedMeta::hub`]. Each entry gets its category (`term` = slug,
/// `label` = name), an `urgent` category if urgent, its image as a
/// `rel="enclosure"` link, and for corrections a `correction` category, the
/// visible [`CORRECTION_NOTE`](crate::CORRECTION_NOTE) before the content and a
/// `rel="related"` link to the corrected entry if its id is an http(s) URL.
/// Characters XML cannot represent are dropped; everything else is escaped by the
/// writer.
pub fn atom_feed(meta: &FeedMeta, entries: &[FeedEntry]) -> String {
    let mut feed = Feed {
        id: cleaned(&meta.id),
        title: Text::plain(clean(&meta.title)),
        subtitle: meta.subtitle.as_deref().map(|s| Text::plain(clean(s))),
        updated: meta.updated.fixed_offset(),
        links: feed_links(meta),
        generator: Some(Generator {
            value: cleaned(&meta.generator),
            uri: None,
            version: None,
        }),
        entries: entries.iter().map(atom_entry).collect(),
        ..Feed::default()
    };
    if !meta.language.is_empty() {
        feed.set_lang(cleaned(&meta.language));
    }
    into_string(feed.write_to(Vec::new()))
}

fn feed_links(meta: &FeedMeta) -> Vec<Link> {
    let mut links = vec![
        link(&meta.self_url, "self", "application/atom+xml"),
        link(&meta.site_url, "alternate", "text/html"),
    ];
    if let Some(hub) = &meta.hub {
        links.push(Link {
            href: cleaned(hub),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }
    links
}

fn link(href: &str, rel: &str, mime_type: &str) -> Link {
    Link {
        href: cleaned(href),
        rel: rel.to_owned(),
        mime_type: Some(mime_type.to_owned()),
        ..Link::default()
    }
}

fn category(term: &str, label: &str) -> Category {
    Category {
        term: cleaned(term),
        scheme: None,
        label: Some(cleaned(label)),
    }
}

fn atom_entry(e: &FeedEntry) -> Entry {
    let mut links = vec![link(&e.link, "alternate", "text/html")];
    if let Some(image) = &e.image {
        links.push(Link {
            length: image.length.map(|n| n.to_string()),
            ..link(&image.url, "enclosure", &image.mime_type)
        });
    }
    let mut categories = vec![category(&e.category_slug, &e.category_name)];
    if e.urgent {
        categories.push(category(URGENT_TERM, URGENT_LABEL));
    }
    if let Some(corrected) = &e.corrects {
        categories.push(category(CORRECTION_TERM, CORRECTION_LABEL));
        if is_web_url(corrected) {
            links.push(Link {
                href: cleaned(corrected),
                rel: "related".to_owned(),
                ..Link::default()
            });
        }
    }
    Entry {
        id: cleaned(&e.id),
        title: Text::plain(clean(&e.title)),
        updated: e.updated.fixed_offset(),
        published: Some(e.published.fixed_offset()),
        authors: vec![Person {
            name: cleaned(&e.author),
            ..Person::default()
        }],
        links,
        categories,
        summary: Some(Text::plain(clean(&e.summary_text))),
        content: Some(Content {
            value: Some(content_with_note(&e.content_html, e.corrects.as_deref())),
            content_type: Some("html".to_owned()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{at, entry, meta, NASTY, NASTY_CLEAN};
    use crate::{Enclosure, CORRECTION_NOTE};
    use std::str::FromStr;

    fn parse(xml: &str) -> Feed {
        Feed::from_str(xml).unwrap_or_else(|e| panic!("invalid Atom ({e}): {xml}"))
    }

    #[test]
    fn empty_feed_is_valid() {
        let xml = atom_feed(&meta(), &[]);
        assert!(xml.starts_with("<?xml"));
        let feed = parse(&xml);
        assert_eq!(feed.id(), "https://herold.example.org/feed");
        assert_eq!(feed.title().as_str(), "Gemeinde Musterdorf");
        assert_eq!(
            feed.subtitle().map(|s| s.as_str()),
            Some("Amtliche Bekanntmachungen")
        );
        assert_eq!(feed.updated(), &at(9).fixed_offset());
        assert_eq!(feed.lang(), Some("de"));
        assert_eq!(feed.generator().map(|g| g.value()), Some("Herold"));
        assert!(feed.entries().is_empty());
    }

    #[test]
    fn websub_hub_and_self_links() {
        let mut m = meta();
        m.hub = Some("https://hub.example.org/?a=1&b=2".into());
        let xml = atom_feed(&m, &[]);
        assert!(xml.contains("href=\"https://hub.example.org/?a=1&amp;b=2\""));
        let feed = parse(&xml);
        let rels: Vec<(&str, &str)> = feed.links().iter().map(|l| (l.rel(), l.href())).collect();
        assert!(rels.contains(&("hub", "https://hub.example.org/?a=1&b=2")));
        assert!(rels.contains(&("self", "https://herold.example.org/feed.atom")));
        let no_hub = parse(&atom_feed(&meta(), &[]));
        assert!(!no_hub.links().iter().any(|l| l.rel() == "hub"));
    }

    #[test]
    fn image_enclosure() {
        let mut known = entry(1);
        known.image = Some(Enclosure {
            url: "https://www.musterdorf.de/img/1.jpg".into(),
            mime_type: "image/jpeg".into(),
            length: Some(12345),
        });
        let mut unknown = entry(2);
        unknown.image = Some(Enclosure {
            url: "https://www.musterdorf.de/img/2.png".into(),
            mime_type: "image/png".into(),
            length: None,
        });
        let feed = parse(&atom_feed(&meta(), &[known, unknown, entry(3)]));
        let enclosure = |i: usize| {
            feed.entries()[i]
                .links()
                .iter()
                .find(|l| l.rel() == "enclosure")
                .map(|l| (l.href(), l.mime_type(), l.length()))
        };
        assert_eq!(
            enclosure(0),
            Some((
                "https://www.musterdorf.de/img/1.jpg",
                Some("image/jpeg"),
                Some("12345")
            ))
        );
        assert_eq!(
            enclosure(1),
            Some((
                "https://www.musterdorf.de/img/2.png",
                Some("image/png"),
                None
            ))
        );
        assert_eq!(enclosure(2), None);
    }

    #[test]
    fn self_and_alternate_links() {
        let feed = parse(&atom_feed(&meta(), &[]));
        let self_link = feed.links().iter().find(|l| l.rel() == "self").unwrap();
        assert_eq!(self_link.href(), "https://herold.example.org/feed.atom");
        assert_eq!(self_link.mime_type(), Some("application/atom+xml"));
        let alt = feed
            .links()
            .iter()
            .find(|l| l.rel() == "alternate")
            .unwrap();
        assert_eq!(alt.href(), "https://www.musterdorf.de/");
    }

    #[test]
    fn entries_keep_order_and_fields() {
        let entries = [entry(3), entry(1), entry(2)];
        let feed = parse(&atom_feed(&meta(), &entries));
        let ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
        assert_eq!(
            ids,
            [
                "urn:herold:announcement:3",
                "urn:herold:announcement:1",
                "urn:herold:announcement:2"
            ]
        );
        let e = &feed.entries()[0];
        assert_eq!(e.title().as_str(), "Meldung 3");
        assert_eq!(e.updated(), &at(4).fixed_offset());
        assert_eq!(e.published(), Some(&at(3).fixed_offset()));
        assert_eq!(e.authors()[0].name(), "Ordnungsamt");
        assert_eq!(e.links()[0].rel(), "alternate");
        assert_eq!(e.links()[0].href(), "https://www.musterdorf.de/a/3");
        assert_eq!(e.categories().len(), 1);
        assert_eq!(e.categories()[0].term(), "verkehr");
        assert_eq!(e.categories()[0].label(), Some("Verkehr & Straßen"));
        assert_eq!(e.summary().map(|s| s.as_str()), Some("Inhalt 3 & mehr"));
        let content = e.content().unwrap();
        assert_eq!(content.content_type(), Some("html"));
        assert_eq!(content.value(), Some("<p>Inhalt 3 &amp; mehr</p>"));
    }

    #[test]
    fn escaping_round_trips() {
        let title = "Straße <gesperrt> & \"Umleitung\"";
        let mut m = meta();
        m.title = title.into();
        let mut e = entry(1);
        e.title = title.into();
        e.author = title.into();
        e.category_name = title.into();
        e.summary_text = title.into();
        e.content_html = format!("<p title=\"x\">{title}</p>");
        let xml = atom_feed(&m, &[e.clone()]);
        assert!(!xml.contains("<gesperrt>"));
        let feed = parse(&xml);
        assert_eq!(feed.title().as_str(), title);
        let pe = &feed.entries()[0];
        assert_eq!(pe.title().as_str(), title);
        assert_eq!(pe.authors()[0].name(), title);
        assert_eq!(pe.categories()[0].label(), Some(title));
        assert_eq!(pe.summary().map(|s| s.as_str()), Some(title));
        assert_eq!(
            pe.content().and_then(|c| c.value()),
            Some(e.content_html.as_str())
        );
    }

    #[test]
    fn invalid_xml_chars_are_dropped() {
        let mut e = entry(1);
        e.title = NASTY.into();
        let feed = parse(&atom_feed(&meta(), &[e]));
        assert_eq!(feed.entries()[0].title().as_str(), NASTY_CLEAN);
    }

    #[test]
    fn urgent_and_correction_categories() {
        let mut urgent = entry(1);
        urgent.urgent = true;
        let mut url_fix = entry(2);
        url_fix.corrects = Some("https://www.musterdorf.de/a/1".into());
        let mut urn_fix = entry(3);
        urn_fix.corrects = Some("urn:herold:announcement:1".into());
        let feed = parse(&atom_feed(&meta(), &[urgent, url_fix, urn_fix]));
        let terms = |i: usize| -> Vec<(String, Option<String>)> {
            feed.entries()[i]
                .categories()
                .iter()
                .map(|c| (c.term().to_owned(), c.label().map(str::to_owned)))
                .collect()
        };
        assert!(terms(0).contains(&("urgent".into(), Some("Dringend".into()))));
        assert!(!terms(1).iter().any(|(t, _)| t == "urgent"));
        assert!(terms(1).contains(&("correction".into(), Some("Berichtigung".into()))));
        assert!(terms(2).iter().any(|(t, _)| t == "correction"));

        let related = |i: usize| -> Vec<String> {
            feed.entries()[i]
                .links()
                .iter()
                .filter(|l| l.rel() == "related")
                .map(|l| l.href().to_owned())
                .collect()
        };
        assert_eq!(related(1), ["https://www.musterdorf.de/a/1"]);
        assert!(related(2).is_empty());
        assert!(related(0).is_empty());

        let content = |i: usize| feed.entries()[i].content().and_then(|c| c.value());
        assert_eq!(content(0), Some("<p>Inhalt 1 &amp; mehr</p>"));
        let note = content(1).unwrap();
        assert!(note.starts_with("<p class=\"herold-correction\">"));
        assert!(note.contains(CORRECTION_NOTE));
        assert!(note.contains("<a href=\"https://www.musterdorf.de/a/1\">"));
        assert!(note.ends_with("<p>Inhalt 2 &amp; mehr</p>"));
        assert!(content(2)
            .unwrap()
            .contains("urn:herold:announcement:1</p>"));
    }
}
