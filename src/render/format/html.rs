//! HTML for Matrix `formatted_body` (`org.matrix.custom.html`) and the
//! e-mail fragment: `p br strong em del a ul ol li blockquote code pre h3-h6`,
//! everything escaped (`& < > " '`). Nested lists are flattened.

use super::super::markdown::is_safe_url;
use super::ir::{Block, BlockKind, Span};
use super::{link_runs, Doc};

use herold_channel_api::text::escape_html as escape;

/// Escapes text and turns line breaks into `<br>`.
pub(super) fn escape_lines(text: &str) -> String {
    escape(text).replace('\n', "<br>")
}

/// `doc` as an HTML fragment.
pub(super) fn render(doc: &Doc<'_>) -> String {
    let mut out = String::new();
    if let Some(heading) = doc.heading() {
        out.push_str("<p><strong>");
        out.push_str(&escape(&heading));
        out.push_str("</strong></p>");
    }
    body(&mut out, doc.body);
    if let Some(event) = doc.event {
        out.push_str("<p>");
        out.push_str(&escape_lines(event));
        out.push_str("</p>");
    }
    if let Some(url) = doc.link {
        out.push_str("<p>");
        if let Some(label) = doc.read_more {
            out.push_str(&escape(label));
            out.push_str(": ");
        }
        if is_safe_url(url) {
            out.push_str("<a href=\"");
            out.push_str(&escape(url));
            out.push_str("\">");
            out.push_str(&escape(url));
            out.push_str("</a>");
        } else {
            out.push_str(&escape(url));
        }
        out.push_str("</p>");
    }
    if let Some(footer) = doc.footer {
        out.push_str("<p><em>");
        out.push_str(&escape_lines(footer));
        out.push_str("</em></p>");
    }
    out
}

fn body(out: &mut String, blocks: &[Block]) {
    // The open list, if any: `true` for ordered.
    let mut list: Option<bool> = None;
    for block in blocks {
        let item = match block.kind {
            BlockKind::Item { number, .. } => Some(number),
            _ => None,
        };
        let ordered = item.map(|n| n.is_some());
        if list.is_some() && list != ordered {
            out.push_str(if list == Some(true) { "</ol>" } else { "</ul>" });
            list = None;
        }
        if let (None, Some(number)) = (list, item) {
            match number {
                Some(1) => out.push_str("<ol>"),
                Some(n) => out.push_str(&format!("<ol start=\"{n}\">")),
                None => out.push_str("<ul>"),
            }
            list = ordered;
        }
        let content = inline(&block.spans);
        match block.kind {
            BlockKind::Paragraph => {
                out.push_str("<p>");
                out.push_str(&content);
                out.push_str("</p>");
            }
            BlockKind::Heading(level) => {
                // Headings inside a message: two levels below the page's.
                let level = level.saturating_add(2).clamp(3, 6);
                out.push_str(&format!("<h{level}>{content}</h{level}>"));
            }
            BlockKind::Item { .. } => {
                out.push_str("<li>");
                out.push_str(&content);
                out.push_str("</li>");
            }
            BlockKind::Quote => {
                out.push_str("<blockquote>");
                out.push_str(&content);
                out.push_str("</blockquote>");
            }
            BlockKind::Code => {
                out.push_str("<pre><code>");
                out.push_str(&escape(&block.text()));
                out.push_str("</code></pre>");
            }
        }
    }
    match list {
        Some(true) => out.push_str("</ol>"),
        Some(false) => out.push_str("</ul>"),
        None => {}
    }
}

fn inline(spans: &[Span]) -> String {
    let mut out = String::new();
    for (link, run) in link_runs(spans) {
        if let Some(url) = link {
            out.push_str("<a href=\"");
            out.push_str(&escape(url));
            out.push_str("\">");
        }
        for span in run {
            push_span(&mut out, span);
        }
        if link.is_some() {
            out.push_str("</a>");
        }
    }
    out
}

fn push_span(out: &mut String, span: &Span) {
    if span.text.is_empty() {
        return;
    }
    if span.style.code {
        out.push_str("<code>");
        out.push_str(&escape(&span.text));
        out.push_str("</code>");
        return;
    }
    let tags: Vec<&str> = [
        (span.style.bold, "strong"),
        (span.style.italic, "em"),
        (span.style.strike, "del"),
    ]
    .into_iter()
    .filter_map(|(on, tag)| on.then_some(tag))
    .collect();
    super::push_tagged(out, &tags, &escape_lines(&span.text));
}
