//! WhatsApp markup: `*bold*`, `_italic_`, `~strike~`; no HTML. Code is
//! shown as plain text, links as `text (url)`.
//!
//! WhatsApp has no escape mechanism, so the markup characters `*`, `_`, `~`
//! and `` ` `` never reach it from user text (title, body, event, footer):
//! they are replaced by look-alikes that WhatsApp does not interpret —
//! `∗` (U+2217), `ˍ` (U+02CD), `∼` (U+223C), `ˋ` (U+02CB). Look-alikes are
//! deterministic and visible, unlike zero-width characters whose effect on
//! WhatsApp's parser is undocumented. Inside URLs (link targets and words
//! starting with `http://`/`https://`) the characters are percent-encoded
//! instead (`%2A`, `%5F`, `%7E`, `%60`), which keeps the address working.
//! So the only markup characters in the output are the markers this module
//! writes itself, each pair around a trimmed, non-empty run on one line
//! (WhatsApp formats only within a line and only when the marker touches
//! non-blank text).

use super::ir::{Block, BlockKind, Span};
use super::{indent_lines, item_marker, layout, link_runs, shows_target, Doc, TextFormat};

/// `doc` as WhatsApp text.
pub(super) fn render(doc: &Doc<'_>) -> String {
    layout(doc, &WhatsApp)
}

/// User text with markup characters made inert (see the module docs).
pub(super) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = 0;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            sanitize_word(&text[word_start..i], &mut out);
            out.push(c);
            word_start = i + c.len_utf8();
        }
    }
    sanitize_word(&text[word_start..], &mut out);
    out
}

fn sanitize_word(word: &str, out: &mut String) {
    let lower = word.to_ascii_lowercase();
    let url_at = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| lower.find(scheme))
        .min()
        .unwrap_or(word.len());
    for c in word[..url_at].chars() {
        out.push(match c {
            '*' => '\u{2217}',
            '_' => '\u{02CD}',
            '~' => '\u{223C}',
            '`' => '\u{02CB}',
            c => c,
        });
    }
    out.push_str(&encode_url(&word[url_at..]));
}

/// A URL with the markup characters percent-encoded.
fn encode_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '*' => out.push_str("%2A"),
            '_' => out.push_str("%5F"),
            '~' => out.push_str("%7E"),
            '`' => out.push_str("%60"),
            c => out.push(c),
        }
    }
    out
}

/// Puts `open` and its mirror around the non-blank core of each line of
/// already sanitized `text`.
fn wrap(text: &str, open: &str) -> String {
    if open.is_empty() {
        return text.to_owned();
    }
    let close: String = open.chars().rev().collect();
    let mut out = String::with_capacity(text.len() + 2 * open.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let core = line.trim();
        if core.is_empty() {
            out.push_str(line);
            continue;
        }
        let start = line.len() - line.trim_start().len();
        out.push_str(&line[..start]);
        out.push_str(open);
        out.push_str(core);
        out.push_str(&close);
        out.push_str(&line[start + core.len()..]);
    }
    out
}

struct WhatsApp;

impl TextFormat for WhatsApp {
    fn heading(&self, text: &str) -> String {
        wrap(&sanitize(text), "*")
    }

    fn block(&self, block: &Block) -> String {
        match block.kind {
            BlockKind::Paragraph => inline(&block.spans, false),
            BlockKind::Heading(_) => inline(&block.spans, true),
            BlockKind::Item { number, depth } => {
                let (marker, hang) = item_marker(number, depth);
                indent_lines(&inline(&block.spans, false), &marker, &hang)
            }
            BlockKind::Quote => indent_lines(&inline(&block.spans, false), "> ", "> "),
            BlockKind::Code => sanitize(&block.text()),
        }
    }

    fn event(&self, text: &str) -> String {
        sanitize(text)
    }

    fn link(&self, read_more: Option<&str>, url: &str) -> String {
        match read_more {
            Some(label) => format!("{}: {}", sanitize(label), encode_url(url)),
            None => encode_url(url),
        }
    }

    fn footer(&self, text: &str) -> String {
        wrap(&sanitize(text), "_")
    }
}

/// Spans with their markers, link targets after the link text; `bold`
/// forces bold (headings).
fn inline(spans: &[Span], bold: bool) -> String {
    let mut out = String::new();
    for (link, run) in link_runs(spans) {
        for span in run {
            let style = span.style;
            let mut open = String::new();
            if !style.code {
                for (on, marker) in [
                    (style.bold || bold, '*'),
                    (style.italic, '_'),
                    (style.strike, '~'),
                ] {
                    if on {
                        open.push(marker);
                    }
                }
            }
            out.push_str(&wrap(&sanitize(&span.text), &open));
        }
        if let Some(url) = link.filter(|url| shows_target(run, url)) {
            out.push_str(" (");
            out.push_str(&encode_url(url));
            out.push(')');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_markup_but_encodes_urls() {
        assert_eq!(sanitize("*a* _b_ ~c~ `d`"), "∗a∗ ˍbˍ ∼c∼ ˋdˋ");
        assert_eq!(
            sanitize("see (https://x.org/a_b*c) *x*"),
            "see (https://x.org/a%5Fb%2Ac) ∗x∗"
        );
    }

    #[test]
    fn wrap_keeps_markers_on_blank_free_cores() {
        assert_eq!(wrap(" fett \n\nzwei", "*_"), " *_fett_* \n\n*_zwei_*");
        assert_eq!(wrap("x", ""), "x");
        assert_eq!(wrap("  ", "*"), "  ");
    }
}
