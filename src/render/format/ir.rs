//! The intermediate form of a Markdown body: blocks of styled text spans,
//! parsed once and then serialized per channel format (and cut safely).
//!
//! The policy is the one of [`super::super::markdown`]: raw HTML becomes
//! text, only `http(s)`, `mailto:` and `tel:` links survive (others keep
//! just their text), images become their alt text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::super::markdown::is_safe_url;

/// Inline styles of one span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Style {
    pub bold: bool,
    pub italic: bool,
    pub strike: bool,
    pub code: bool,
}

/// A run of text with one style, inside at most one (safe) link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Span {
    /// The visible text; may contain `\n` for line breaks.
    pub text: String,
    pub style: Style,
    /// The link target, already checked with `is_safe_url` and trimmed.
    pub link: Option<String>,
}

impl Span {
    /// An unstyled span outside any link.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            style: Style::default(),
            link: None,
        }
    }
}

/// What kind of block a run of spans forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlockKind {
    Paragraph,
    /// A Markdown heading of level 1–6.
    Heading(u8),
    /// A list item; `number` is set for ordered lists, `depth` is 0 for top level.
    Item {
        number: Option<u64>,
        depth: usize,
    },
    /// A paragraph inside a block quote.
    Quote,
    /// A fenced or indented code block; styles of its spans are ignored.
    Code,
}

/// One block of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Block {
    pub kind: BlockKind,
    pub spans: Vec<Span>,
}

impl Block {
    /// The visible text of all spans.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }

    fn push(&mut self, text: &str, style: Style, link: Option<&String>) {
        if text.is_empty() {
            return;
        }
        if let Some(last) = self.spans.last_mut() {
            if last.style == style && last.link.as_ref() == link {
                last.text.push_str(text);
                return;
            }
        }
        self.spans.push(Span {
            text: text.to_owned(),
            style,
            link: link.cloned(),
        });
    }

    /// Trims whitespace at both ends (only line breaks for code) and drops
    /// spans that became empty.
    pub fn trim(&mut self) {
        let code = self.kind == BlockKind::Code;
        while let Some(first) = self.spans.first_mut() {
            let trimmed = if code {
                first.text.trim_start_matches(['\n', '\r'])
            } else {
                first.text.trim_start()
            };
            first.text = trimmed.to_owned();
            if first.text.is_empty() {
                self.spans.remove(0);
            } else {
                break;
            }
        }
        while let Some(last) = self.spans.last_mut() {
            let keep = last.text.trim_end().len();
            last.text.truncate(keep);
            if last.text.is_empty() {
                self.spans.pop();
            } else {
                break;
            }
        }
    }
}

/// Parses the light Markdown subset into blocks.
pub(super) fn parse(markdown: &str) -> Vec<Block> {
    let mut builder = Builder::default();
    for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        builder.event(event);
    }
    builder.flush();
    builder.blocks
}

/// A link target trimmed, with inner blanks percent-encoded and control
/// characters dropped, so it stays one token on one line.
fn clean_url(url: &str) -> String {
    url.trim()
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| {
            let encoded = (c == ' ').then_some("%20");
            encoded.map_or_else(|| vec![c], |e| e.chars().collect())
        })
        .collect()
}

#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    current: Option<Block>,
    bold: usize,
    italic: usize,
    strike: usize,
    /// One entry per open link: its target if safe.
    links: Vec<Option<String>>,
    /// One entry per open list: the next number for ordered lists.
    lists: Vec<Option<u64>>,
    quotes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => self.text(&t, false),
            Event::Code(t) => self.text(&t, true),
            Event::SoftBreak | Event::HardBreak => self.text("\n", false),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => match &self.current {
                // A further paragraph in a loose list item: a line break.
                Some(block) if !block.spans.is_empty() => self.text("\n", false),
                Some(_) => {}
                None => self.begin(self.paragraph_kind()),
            },
            Tag::Heading { level, .. } => {
                self.flush();
                self.begin(BlockKind::Heading(level as u8));
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.quotes += 1;
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.begin(BlockKind::Code);
            }
            Tag::HtmlBlock => {
                self.flush();
                self.begin(self.paragraph_kind());
            }
            Tag::List(start) => {
                self.flush();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let depth = self.lists.len().saturating_sub(1);
                let number = match self.lists.last_mut() {
                    Some(Some(next)) => {
                        let n = *next;
                        *next = next.saturating_add(1);
                        Some(n)
                    }
                    _ => None,
                };
                self.begin(BlockKind::Item { number, depth });
            }
            Tag::Emphasis => self.italic += 1,
            Tag::Strong => self.bold += 1,
            Tag::Strikethrough => self.strike += 1,
            Tag::Link { dest_url, .. } => {
                let safe = is_safe_url(&dest_url).then(|| clean_url(&dest_url));
                self.links.push(safe);
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                if matches!(
                    self.current.as_ref().map(|b| b.kind),
                    Some(BlockKind::Paragraph | BlockKind::Quote)
                ) {
                    self.flush();
                }
            }
            TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::HtmlBlock | TagEnd::Item => {
                self.flush()
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quotes = self.quotes.saturating_sub(1);
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
            }
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Strikethrough => self.strike = self.strike.saturating_sub(1),
            TagEnd::Link => {
                self.links.pop();
            }
            _ => {}
        }
    }

    fn paragraph_kind(&self) -> BlockKind {
        if self.quotes > 0 {
            BlockKind::Quote
        } else {
            BlockKind::Paragraph
        }
    }

    fn begin(&mut self, kind: BlockKind) {
        self.current = Some(Block {
            kind,
            spans: Vec::new(),
        });
    }

    fn text(&mut self, text: &str, code: bool) {
        let style = Style {
            bold: self.bold > 0,
            italic: self.italic > 0,
            strike: self.strike > 0,
            code,
        };
        let link = self.links.last().and_then(Option::as_ref).cloned();
        let kind = self.paragraph_kind();
        let block = self.current.get_or_insert_with(|| Block {
            kind,
            spans: Vec::new(),
        });
        block.push(text, style, link.as_ref());
    }

    fn flush(&mut self) {
        if let Some(mut block) = self.current.take() {
            block.trim();
            if !block.spans.is_empty() {
                self.blocks.push(block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_lists_and_styles() {
        let blocks = parse("**Achtung:** *heute*\n\n- A\n- B\n\n1. eins\n2. zwei\n\n> zitiert");
        let kinds: Vec<_> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            vec![
                BlockKind::Paragraph,
                BlockKind::Item {
                    number: None,
                    depth: 0
                },
                BlockKind::Item {
                    number: None,
                    depth: 0
                },
                BlockKind::Item {
                    number: Some(1),
                    depth: 0
                },
                BlockKind::Item {
                    number: Some(2),
                    depth: 0
                },
                BlockKind::Quote,
            ]
        );
        assert!(blocks[0].spans[0].style.bold);
        assert!(blocks[0].spans[2].style.italic);
        assert_eq!(blocks[0].text(), "Achtung: heute");
    }

    #[test]
    fn unsafe_links_raw_html_and_images() {
        let blocks =
            parse("[x](javascript:alert(1)) <b>fett</b> ![Karte](k.png) [ok](https://e.org/\"q)");
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!(b.text(), "x <b>fett</b> Karte ok");
        assert!(b
            .spans
            .iter()
            .all(|s| s.link.as_deref() != Some("javascript:alert(1)")));
        let ok = b.spans.iter().find(|s| s.text == "ok");
        assert_eq!(
            ok.and_then(|s| s.link.as_deref()),
            Some("https://e.org/\"q")
        );
    }

    #[test]
    fn nested_and_loose_lists() {
        let blocks = parse("- a\n\n  more\n  - b\n- c");
        let texts: Vec<_> = blocks.iter().map(|b| (b.kind, b.text())).collect();
        assert_eq!(texts[0].1, "a\nmore");
        assert_eq!(
            texts[1].0,
            BlockKind::Item {
                number: None,
                depth: 1
            }
        );
        assert_eq!(texts[2].1, "c");
        assert!(parse("").is_empty());
        assert!(parse("   \n\n").is_empty());
    }
}
