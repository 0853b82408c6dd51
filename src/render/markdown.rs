//! Markdown bodies to safe HTML (feeds, e-mail, pages) and to plain text
//! (chat channels, summaries).
//!
//! Raw HTML in the source is shown as text, never passed through, so staff
//! input cannot inject markup into feeds or mails.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// Whether a link target may be kept: `http(s)`, `mailto:` and `tel:` only.
pub(super) fn is_safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Markdown to HTML with raw HTML escaped, unsafe links reduced to their
/// text, and images reduced to their alt text.
pub fn to_html(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() * 2);
    let mut dropped_links = Vec::new();
    let events =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).filter_map(|ev| match ev {
            Event::Html(s) | Event::InlineHtml(s) => Some(Event::Text(s)),
            Event::Start(Tag::Link { ref dest_url, .. }) => {
                let safe = is_safe_url(dest_url);
                dropped_links.push(!safe);
                safe.then_some(ev)
            }
            Event::End(TagEnd::Link) => (!dropped_links.pop().unwrap_or(false)).then_some(ev),
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        });
    html::push_html(&mut out, events);
    out
}

/// Markdown to plain text: emphasis dropped, links as `text (url)`, list
/// items as `• item`, paragraphs separated by a blank line.
pub fn to_plain(markdown: &str) -> String {
    let mut out = String::new();
    let mut link_stack: Vec<String> = Vec::new();
    for ev in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        match ev {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Item) => out.push_str("• "),
            Event::End(TagEnd::Item) => out.push('\n'),
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Heading(_)) => out.push_str("\n\n"),
            Event::Start(Tag::Link { dest_url, .. }) => link_stack.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link_stack.pop() {
                    if is_safe_url(&url) && !out.ends_with(url.as_str()) {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            Event::End(TagEnd::List(_)) => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The first `max` characters of the plain text, cut at a word and marked
/// with `…` when shortened.
pub fn summary(markdown: &str, max: usize) -> String {
    let plain = to_plain(markdown).replace('\n', " ");
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.chars().count() <= max {
        return plain;
    }
    let cut: String = plain.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_raw_html() {
        let h = to_html("Hallo <script>alert(1)</script> **fett**");
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(h.contains("<strong>fett</strong>"), "{h}");
    }

    #[test]
    fn unsafe_links_dropped() {
        let h = to_html("[klick](javascript:alert(1)) und [ok](https://example.org)");
        assert!(!h.contains("javascript"), "{h}");
        assert!(h.contains(r#"<a href="https://example.org">ok</a>"#), "{h}");
    }

    #[test]
    fn plain_text() {
        let p = to_plain("**Achtung:** Straße gesperrt.\n\n- A\n- B\n\n[Karte](https://k.example)");
        assert_eq!(
            p,
            "Achtung: Straße gesperrt.\n\n• A\n• B\n\nKarte (https://k.example)"
        );
        assert_eq!(summary("eins zwei drei vier", 9), "eins zwei…");
    }
}
