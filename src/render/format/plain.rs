//! Plain text: no markup. Links read `text (url)`, list items `• item` or
//! `1. item`, quotes `> line`; emphasis and strikethrough are dropped.
//! Also the Matrix `body` and the e-mail text part.

use super::ir::{Block, BlockKind, Span};
use super::{indent_lines, item_marker, layout, link_runs, shows_target, Doc, TextFormat};

/// `doc` as plain text.
pub(super) fn render(doc: &Doc<'_>) -> String {
    layout(doc, &Plain)
}

struct Plain;

impl TextFormat for Plain {
    fn heading(&self, text: &str) -> String {
        text.to_owned()
    }

    fn block(&self, block: &Block) -> String {
        match block.kind {
            BlockKind::Paragraph | BlockKind::Heading(_) => inline(&block.spans),
            BlockKind::Item { number, depth } => {
                let (marker, hang) = item_marker(number, depth);
                indent_lines(&inline(&block.spans), &marker, &hang)
            }
            BlockKind::Quote => indent_lines(&inline(&block.spans), "> ", "> "),
            BlockKind::Code => block.text(),
        }
    }

    fn event(&self, text: &str) -> String {
        text.to_owned()
    }

    fn link(&self, read_more: Option<&str>, url: &str) -> String {
        match read_more {
            Some(label) => format!("{label}: {url}"),
            None => url.to_owned(),
        }
    }

    fn footer(&self, text: &str) -> String {
        text.to_owned()
    }
}

fn inline(spans: &[Span]) -> String {
    let mut out = String::new();
    for (link, run) in link_runs(spans) {
        for span in run {
            out.push_str(&span.text);
        }
        if let Some(url) = link.filter(|url| shows_target(run, url)) {
            out.push_str(" (");
            out.push_str(url);
            out.push(')');
        }
    }
    out
}
