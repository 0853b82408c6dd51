//! The Markdown subset and every renderer: an announcement's parts (title,
//! body, event line, link, labels, footer) from the input, rendered for
//! each channel's formatting with and without a length limit, as service
//! messages, and as page/feed HTML, plain text and summaries.
//!
//! Rules: Telegram HTML and Matrix/e-mail HTML hold only Herold's tags,
//! balanced, with safe links and no bare `&`/`<`/`>`; WhatsApp markers
//! come in pairs per line; a limited message fits its limit in UTF-16
//! units; page HTML holds no raw tag or unsafe link from the source.
#![no_main]

use herold::render::format::{format, html_lines, plain_message, Formatted, Parts};
use herold::render::{summary, to_html, to_plain};
use herold_channel_api::Formatting;
use herold_fuzz::{check_markup, fields, MATRIX, TELEGRAM};
use libfuzzer_sys::fuzz_target;

const ALL: [Formatting; 5] = [
    Formatting::Plain,
    Formatting::Html,
    Formatting::TelegramHtml,
    Formatting::MatrixHtml,
    Formatting::WhatsApp,
];

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn check(out: &Formatted, f: Formatting, what: &str) {
    let result = match f {
        Formatting::TelegramHtml => check_markup(&out.text, &TELEGRAM),
        Formatting::Html | Formatting::MatrixHtml => match out.html.as_deref() {
            Some(h) => check_markup(h, &MATRIX),
            None => Err("no html".into()),
        },
        Formatting::WhatsApp => {
            for line in out.text.lines() {
                for m in ['*', '_', '~', '`'] {
                    assert!(
                        line.matches(m).count() % 2 == 0,
                        "{what} {f:?}: unpaired {m} in {line:?}"
                    );
                }
            }
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        panic!("{what} {f:?}: {e}\n{out:?}");
    }
}

/// Tags pulldown-cmark writes for the subset Herold enables.
const PAGE_TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];

/// Page HTML: known tags only, and every link target either relative or
/// of a safe scheme.
fn check_page(html: &str) {
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let tail = &rest[i + 1..];
        let end = tail
            .find('>')
            .unwrap_or_else(|| panic!("unclosed < in {html}"));
        let inner = tail[..end].trim_end_matches('/').trim_end();
        let inner = inner.strip_prefix('/').unwrap_or(inner);
        let name = inner.split(' ').next().unwrap_or("");
        assert!(PAGE_TAGS.contains(&name), "tag <{name}> in {html}");
        if let Some(at) = inner.find("href=\"") {
            let href = &inner[at + 6..];
            let href = href.trim_start_matches(|c: char| c <= ' ');
            let scheme_end = href.find(':');
            let has_scheme = scheme_end.is_some_and(|e| {
                let s = &href[..e];
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
            if has_scheme {
                let lower = href.to_ascii_lowercase();
                assert!(
                    ["https:", "http:", "mailto:", "tel:"]
                        .iter()
                        .any(|p| lower.starts_with(p)),
                    "unsafe href {href} in {html}"
                );
            }
        }
        rest = &tail[end + 1..];
    }
}

fuzz_target!(|data: &[u8]| {
    let (max, data) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (100, data),
    };
    let f = fields(data, 7);
    let parts = Parts {
        title: &f[0],
        body_markdown: &f[1],
        urgent_label: Some(f[2].as_str()).filter(|u| !u.is_empty()),
        event: Some(f[3].as_str()).filter(|e| !e.is_empty()),
        link: if f[4].is_empty() {
            "https://stadt.example/a/42-sperrung"
        } else {
            &f[4]
        },
        read_more: if f[5].is_empty() {
            "Weiterlesen"
        } else {
            &f[5]
        },
        footer: &f[6],
    };
    for formatting in ALL {
        let full = format(&parts, formatting, None);
        check(&full, formatting, "full");
        let cut = format(&parts, formatting, Some(max));
        check(&cut, formatting, "limited");
        assert!(utf16(&cut.text) <= max, "{formatting:?} {max}: {cut:?}");
        if let Some(h) = &cut.html {
            assert!(utf16(h) <= max, "{formatting:?} {max}: {cut:?}");
        }
        check(&plain_message(&f[1], formatting), formatting, "service");
    }
    check_markup(&html_lines(&f[1]), &MATRIX).unwrap_or_else(|e| panic!("html_lines: {e}"));
    check_page(&to_html(&f[1]));
    let _ = to_plain(&f[1]);
    let short = summary(&f[1], max % 400);
    assert!(
        short.chars().count() <= max % 400 + 1,
        "summary too long: {short:?}"
    );
});
