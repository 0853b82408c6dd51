//! Telegram Bot API `parse_mode=HTML`: only `b i s a code pre blockquote`,
//! literal newlines (no `<p>`/`<br>`), list items as `• item` lines. Text
//! escapes only `<`, `>`, `&`; the `href` attribute also `"`.
//!
//! Only `http(s)` links become `<a>` (Telegram rejects or drops other
//! schemes); `mailto:`/`tel:` targets are shown as text after the link text.
//! Lengths count the serialized text, tags and entities included, so they
//! stay on the safe side of Telegram's limit on the parsed text.

use super::ir::{Block, BlockKind, Span, Style};
use super::{indent_lines, item_marker, layout, link_runs, shows_target, Doc, TextFormat};

/// `doc` as Telegram HTML.
pub(super) fn render(doc: &Doc<'_>) -> String {
    layout(doc, &Telegram)
}

/// Escapes text content: `&`, `<`, `>`.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value: also `"`.
fn escape_attr(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

struct Telegram;

impl TextFormat for Telegram {
    fn heading(&self, text: &str) -> String {
        format!("<b>{}</b>", escape(text))
    }

    fn block(&self, block: &Block) -> String {
        match block.kind {
            BlockKind::Paragraph => inline(&block.spans, false),
            BlockKind::Heading(_) => inline(&block.spans, true),
            BlockKind::Item { number, depth } => {
                let (marker, hang) = item_marker(number, depth);
                indent_lines(&inline(&block.spans, false), &marker, &hang)
            }
            BlockKind::Quote => {
                format!("<blockquote>{}</blockquote>", inline(&block.spans, false))
            }
            BlockKind::Code => format!("<pre>{}</pre>", escape(&block.text())),
        }
    }

    fn event(&self, text: &str) -> String {
        escape(text)
    }

    fn link(&self, read_more: Option<&str>, url: &str) -> String {
        match read_more {
            Some(label) => format!("{}: {}", escape(label), escape(url)),
            None => escape(url),
        }
    }

    fn footer(&self, text: &str) -> String {
        format!("<i>{}</i>", escape(text))
    }
}

/// Spans grouped by link; `bold` forces bold (headings).
fn inline(spans: &[Span], bold: bool) -> String {
    let mut out = String::new();
    for (link, run) in link_runs(spans) {
        match link {
            Some(url) if is_http(url) => {
                out.push_str("<a href=\"");
                out.push_str(&escape_attr(url));
                out.push_str("\">");
                for span in run {
                    push_span(&mut out, span, bold, true);
                }
                out.push_str("</a>");
            }
            _ => {
                for span in run {
                    push_span(&mut out, span, bold, false);
                }
                if let Some(url) = link.filter(|url| shows_target(run, url)) {
                    out.push_str(" (");
                    out.push_str(&escape(url));
                    out.push(')');
                }
            }
        }
    }
    out
}

/// One span with its tags; code inside links is shown as text (Telegram
/// does not nest entities in `code`).
fn push_span(out: &mut String, span: &Span, bold: bool, in_link: bool) {
    if span.text.is_empty() {
        return;
    }
    let Style {
        bold: b,
        italic,
        strike,
        code,
    } = span.style;
    if code && !in_link {
        out.push_str("<code>");
        out.push_str(&escape(&span.text));
        out.push_str("</code>");
        return;
    }
    let tags: Vec<&str> = [(b || bold, "b"), (italic, "i"), (strike, "s")]
        .into_iter()
        .filter_map(|(on, tag)| on.then_some(tag))
        .collect();
    super::push_tagged(out, &tags, &escape(&span.text));
}
