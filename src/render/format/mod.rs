//! One announcement as a chat or mail message in each channel's own text
//! form ([`Formatting`]), within the channel's length limit.
//!
//! The Markdown body is parsed once into blocks of styled spans (`ir`);
//! each format serializes that form (`plain`, `telegram`, `whatsapp`,
//! `html`). When a message is too long, the body is cut in the intermediate
//! form (`truncate`) and serialized again, so a result is never cut inside
//! a character, an entity or a tag.
//!
//! Layout: the (urgent label and) title, the body, the event line, the link
//! to the announcement page, the footer — separated by blank lines.

mod html;
mod ir;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod markup_check;
mod plain;
mod telegram;
mod truncate;
mod whatsapp;

#[cfg(test)]
mod tests;

use herold_channel_api::Formatting;

use ir::{Block, BlockKind, Span};
use truncate::BodyIndex;

/// `text` as HTML shown exactly as written: escaped, lines kept (`<br>`).
/// For showing a channel's plain or WhatsApp text in a page.
pub fn html_lines(text: &str) -> String {
    html::escape_lines(text)
}

/// A service message (a reply to a resident's command, a staff answer) in
/// `formatting`: plain text with no markup of its own, escaped or
/// neutralised so that the channel shows it exactly as written.
pub fn plain_message(text: &str, formatting: Formatting) -> Formatted {
    match formatting {
        Formatting::Plain => Formatted {
            text: text.to_owned(),
            html: None,
        },
        Formatting::Html | Formatting::MatrixHtml => Formatted {
            text: text.to_owned(),
            html: Some(html::escape_lines(text)),
        },
        Formatting::TelegramHtml => Formatted {
            text: telegram::escape(text),
            html: None,
        },
        Formatting::WhatsApp => Formatted {
            text: whatsapp::sanitize(text),
            html: None,
        },
    }
}

/// What goes into every channel's message, already localized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts<'a> {
    /// The announcement's title.
    pub title: &'a str,
    /// The body in the light Markdown subset: paragraphs, `**bold**`,
    /// `*italic*`, `~~strike~~`, links, lists, quotes.
    pub body_markdown: &'a str,
    /// Shown before the title of urgent announcements, e.g. `Eilmeldung`.
    pub urgent_label: Option<&'a str>,
    /// One preformatted line such as `Wann: … · Wo: …`.
    pub event: Option<&'a str>,
    /// The announcement's public page (absolute URL); kept whenever it fits.
    pub link: &'a str,
    /// Label before the link when the text was cut, e.g. `Weiterlesen`.
    pub read_more: &'a str,
    /// The closing note (information service, site name); may span lines.
    pub footer: &'a str,
}

/// A message in one channel's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// The text: plain text, Telegram HTML or WhatsApp markup; the plain
    /// `body` for Matrix and the plain alternative for e-mail.
    pub text: String,
    /// Matrix `formatted_body` or the e-mail HTML fragment; `None` otherwise.
    pub html: Option<String>,
}

impl Formatted {
    /// Whether text and HTML are at most `max` long, counted in UTF-16 code
    /// units: what Telegram counts (an emoji outside the BMP is two), and
    /// never fewer than the characters other channels count.
    fn fits(&self, max: usize) -> bool {
        let len = |s: &str| s.encode_utf16().count();
        len(&self.text) <= max && self.html.as_deref().is_none_or(|h| len(h) <= max)
    }
}

/// Renders `parts` for a channel with the given formatting, at most
/// `max_chars` long in UTF-16 code units, so also in characters (for Matrix
/// and e-mail: both the text and the HTML).
///
/// When too long, the body is cut at a word and followed by
/// `{read_more}: {link}`; if even the rest is too long, the title is
/// shortened, then the footer, the event line and the label are dropped.
/// The link is dropped only when it alone does not fit (never cut); as a
/// last resort the result is empty.
pub fn format(parts: &Parts<'_>, formatting: Formatting, max_chars: Option<usize>) -> Formatted {
    let body = ir::parse(parts.body_markdown);
    let full = Plan::full(!parts.event.unwrap_or("").trim().is_empty());
    let shortener = Shortener {
        parts,
        index: BodyIndex::new(&body),
        body,
        formatting,
    };
    match max_chars {
        None => shortener.render(&full, parts.title.trim(), &shortener.body),
        Some(max) => shortener.fit(full, max),
    }
}

/// What one message contains: the title line, body, link line and so on,
/// already shortened; serializers only escape and lay out.
struct Doc<'a> {
    pub urgent: Option<&'a str>,
    /// The title, possibly shortened; empty when dropped.
    pub title: &'a str,
    pub body: &'a [Block],
    pub event: Option<&'a str>,
    pub link: Option<&'a str>,
    /// Shown as `{read_more}: {link}` when the text was cut.
    pub read_more: Option<&'a str>,
    pub footer: Option<&'a str>,
}

impl Doc<'_> {
    /// The title line: `{urgent}: {title}`, or either alone.
    pub fn heading(&self) -> Option<String> {
        let title = self.title.trim();
        match (self.urgent.map(str::trim).filter(|u| !u.is_empty()), title) {
            (Some(u), "") => Some(u.to_owned()),
            (Some(u), t) => Some(format!("{u}: {t}")),
            (None, "") => None,
            (None, t) => Some(t.to_owned()),
        }
    }
}

/// One text format's pieces; [`layout`] puts them together.
trait TextFormat {
    /// The title line (bold where the format has bold).
    fn heading(&self, text: &str) -> String;
    /// One body block.
    fn block(&self, block: &Block) -> String;
    /// The event line.
    fn event(&self, text: &str) -> String;
    /// The link line, `{read_more}: {url}` or the URL alone.
    fn link(&self, read_more: Option<&str>, url: &str) -> String;
    /// The footer.
    fn footer(&self, text: &str) -> String;
}

/// Writes `inner` (already escaped) inside `tags`, opened in order and
/// closed in reverse, so nested styles stay balanced.
fn push_tagged(out: &mut String, tags: &[&str], inner: &str) {
    for tag in tags {
        out.push('<');
        out.push_str(tag);
        out.push('>');
    }
    out.push_str(inner);
    for tag in tags.iter().rev() {
        out.push_str("</");
        out.push_str(tag);
        out.push('>');
    }
}

/// The sections of `doc` in `format`, separated by blank lines.
fn layout(doc: &Doc<'_>, format: &impl TextFormat) -> String {
    let mut sections = Vec::new();
    if let Some(heading) = doc.heading() {
        sections.push(format.heading(&heading));
    }
    if !doc.body.is_empty() {
        let mut body = String::new();
        let mut prev: Option<BlockKind> = None;
        for block in doc.body {
            if let Some(prev) = prev {
                body.push_str(block_separator(prev, block.kind));
            }
            body.push_str(&format.block(block));
            prev = Some(block.kind);
        }
        sections.push(body);
    }
    if let Some(event) = doc.event {
        sections.push(format.event(event));
    }
    if let Some(url) = doc.link {
        sections.push(format.link(doc.read_more, url));
    }
    if let Some(footer) = doc.footer {
        sections.push(format.footer(footer));
    }
    sections.join("\n\n")
}

/// The separator between two body blocks: items of one list follow each
/// other directly, everything else is separated by a blank line.
fn block_separator(prev: BlockKind, next: BlockKind) -> &'static str {
    match (prev, next) {
        (
            BlockKind::Item {
                number: a,
                depth: da,
            },
            BlockKind::Item {
                number: b,
                depth: db,
            },
        ) if da != db || a.is_some() == b.is_some() => "\n",
        _ => "\n\n",
    }
}

/// Consecutive spans sharing one link target (or none).
fn link_runs(spans: &[Span]) -> impl Iterator<Item = (Option<&str>, &[Span])> {
    spans
        .chunk_by(|a, b| a.link == b.link)
        .map(|run| (run.first().and_then(|s| s.link.as_deref()), run))
}

/// Whether a link's target must be shown after its text in formats without
/// clickable link text (it is not already the text itself).
fn shows_target(run: &[Span], url: &str) -> bool {
    let text: String = run.iter().map(|s| s.text.as_str()).collect();
    let text = text.trim();
    let bare = ["mailto:", "tel:"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .unwrap_or(url);
    text != url && text != bare
}

/// `prefix` before the first line of `text` and `indent` before the others.
fn indent_lines(text: &str, prefix: &str, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() + prefix.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        } else {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

/// The list marker of an item: `• ` or `3. `, indented by depth.
fn item_marker(number: Option<u64>, depth: usize) -> (String, String) {
    let indent = "  ".repeat(depth);
    let marker = match number {
        Some(n) => format!("{indent}{n}. "),
        None => format!("{indent}• "),
    };
    let hang = " ".repeat(marker.chars().count());
    (marker, hang)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyPlan {
    Full,
    /// Cut to at most this many visible characters.
    Cut(usize),
    Omit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TitlePlan {
    Full,
    /// Cut to at most this many characters.
    Cut(usize),
    Omit,
}

/// Which parts go into one attempt.
#[derive(Debug, Clone, Copy)]
struct Plan {
    body: BodyPlan,
    title: TitlePlan,
    urgent: bool,
    event: bool,
    footer: bool,
    link: bool,
    read_more: bool,
}

impl Plan {
    fn full(event: bool) -> Self {
        Self {
            body: BodyPlan::Full,
            title: TitlePlan::Full,
            urgent: true,
            event,
            footer: true,
            link: true,
            read_more: false,
        }
    }
}

/// Least body kept when cut; with less room the body is left out.
const MIN_BODY_CHARS: usize = 24;

/// Least title kept before the footer and event are given up.
const MIN_TITLE_CHARS: usize = 16;

struct Shortener<'a> {
    parts: &'a Parts<'a>,
    body: Vec<Block>,
    index: BodyIndex,
    formatting: Formatting,
}

impl Shortener<'_> {
    /// The first attempt that fits, going down the ladder.
    fn fit(&self, full: Plan, max: usize) -> Formatted {
        if let Some(out) = self.attempt(&full, max) {
            return out;
        }
        let body_len = self.index.len();
        let title_len = self.parts.title.trim().chars().count();
        let has_body = body_len > 0;
        // 1. Cut the body.
        if has_body {
            let cut = |k| {
                self.attempt(
                    &Plan {
                        body: BodyPlan::Cut(k),
                        read_more: true,
                        ..full
                    },
                    max,
                )
            };
            let least = MIN_BODY_CHARS.min(body_len - 1).max(1);
            if let Some(out) = search_max(least, body_len - 1, cut) {
                return out;
            }
        }
        let no_body = Plan {
            body: BodyPlan::Omit,
            read_more: has_body,
            ..full
        };
        // 2. Shorten the title, then give up the footer, the event line and
        //    the label; the urgent label last.
        let rungs = [
            (no_body, MIN_TITLE_CHARS),
            (
                Plan {
                    footer: false,
                    ..no_body
                },
                MIN_TITLE_CHARS,
            ),
            (
                Plan {
                    footer: false,
                    event: false,
                    ..no_body
                },
                1,
            ),
            (
                Plan {
                    footer: false,
                    event: false,
                    read_more: false,
                    ..no_body
                },
                1,
            ),
            (
                Plan {
                    footer: false,
                    event: false,
                    read_more: false,
                    urgent: false,
                    ..no_body
                },
                1,
            ),
        ];
        for (plan, min_title) in rungs {
            if let Some(out) = self.with_title(plan, min_title.min(title_len), title_len, max) {
                return out;
            }
        }
        // 3. The link alone; if not even that fits, no link but the title.
        let link_only = Plan {
            title: TitlePlan::Omit,
            urgent: false,
            footer: false,
            event: false,
            read_more: false,
            ..no_body
        };
        if let Some(out) = self.attempt(&link_only, max) {
            return out;
        }
        let title_only = Plan {
            link: false,
            ..no_body
        };
        let title_only = Plan {
            footer: false,
            event: false,
            read_more: false,
            ..title_only
        };
        for plan in [
            title_only,
            Plan {
                urgent: false,
                ..title_only
            },
        ] {
            if let Some(out) = self.with_title(plan, 1.min(title_len), title_len, max) {
                return out;
            }
        }
        Formatted {
            text: String::new(),
            html: matches!(self.formatting, Formatting::Html | Formatting::MatrixHtml)
                .then(String::new),
        }
    }

    /// `plan` with the full title, else the longest title cut to no less
    /// than `min_title` characters that fits.
    fn with_title(
        &self,
        plan: Plan,
        min_title: usize,
        title_len: usize,
        max: usize,
    ) -> Option<Formatted> {
        if let Some(out) = self.attempt(&plan, max) {
            return Some(out);
        }
        if min_title == 0 || title_len <= 1 {
            return None;
        }
        search_max(min_title, title_len - 1, |k| {
            self.attempt(
                &Plan {
                    title: TitlePlan::Cut(k),
                    ..plan
                },
                max,
            )
        })
    }

    /// The message for `plan` if it fits in `max`.
    fn attempt(&self, plan: &Plan, max: usize) -> Option<Formatted> {
        let cut;
        let body: &[Block] = match plan.body {
            BodyPlan::Full => &self.body,
            BodyPlan::Cut(k) => {
                cut = self.index.cut(&self.body, k)?;
                &cut
            }
            BodyPlan::Omit => &[],
        };
        let title = match plan.title {
            TitlePlan::Full => self.parts.title.trim().to_owned(),
            TitlePlan::Cut(k) => truncate::cut_text(self.parts.title.trim(), k)?,
            TitlePlan::Omit => String::new(),
        };
        let out = self.render(plan, &title, body);
        out.fits(max).then_some(out)
    }

    fn render(&self, plan: &Plan, title: &str, body: &[Block]) -> Formatted {
        let nonempty = |s: &str| !s.trim().is_empty();
        let doc = Doc {
            urgent: self.parts.urgent_label.filter(|_| plan.urgent),
            title,
            body,
            event: self
                .parts
                .event
                .map(str::trim)
                .filter(|e| plan.event && nonempty(e)),
            link: Some(self.parts.link.trim()).filter(|l| plan.link && nonempty(l)),
            read_more: Some(self.parts.read_more.trim()).filter(|r| plan.read_more && nonempty(r)),
            footer: Some(self.parts.footer.trim()).filter(|f| plan.footer && nonempty(f)),
        };
        serialize(&doc, self.formatting)
    }
}

/// The result for the largest `k` in `lo..=hi` for which `f` gives one,
/// assuming `f` succeeds for all `k` below a threshold.
fn search_max(lo: usize, hi: usize, f: impl Fn(usize) -> Option<Formatted>) -> Option<Formatted> {
    let (mut lo, mut hi) = (lo, hi);
    let mut best = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match f(mid) {
            Some(out) => {
                best = Some(out);
                lo = mid + 1;
            }
            None if mid == 0 => break,
            None => hi = mid - 1,
        }
    }
    best
}

fn serialize(doc: &Doc<'_>, formatting: Formatting) -> Formatted {
    match formatting {
        Formatting::Plain => Formatted {
            text: plain::render(doc),
            html: None,
        },
        Formatting::Html | Formatting::MatrixHtml => Formatted {
            text: plain::render(doc),
            html: Some(html::render(doc)),
        },
        Formatting::TelegramHtml => Formatted {
            text: telegram::render(doc),
            html: None,
        },
        Formatting::WhatsApp => Formatted {
            text: whatsapp::render(doc),
            html: None,
        },
    }
}
