//! RFC 5545 content lines: value escaping and line folding.
//!
//! Written by hand instead of using the `icalendar` crate's writer (0.17), which
//! passes carriage returns and other control characters through into TEXT values
//! (a `\r\n` typed into a web form yields a raw CR inside the content line),
//! does not escape RFC 7986 `NAME` at all (a newline there injects properties),
//! stamps components without `DTSTAMP`/`UID` with the current time and a random
//! UUID (so output is not reproducible, which breaks ETags), and writes a one-hour
//! refresh interval as `PT3600S`. The format is small and well specified.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

/// Maximum length of a physical line in octets, excluding the CRLF (RFC 5545 3.1).
const MAX_OCTETS: usize = 75;

/// Builds an iCalendar document line by line, with CRLF line endings and folding.
#[derive(Debug, Default)]
pub(super) struct Lines {
    out: String,
}

impl Lines {
    /// Appends `name` (with any parameters) and an already-escaped `value`.
    pub(super) fn raw(&mut self, name: &str, value: &str) {
        let line = format!("{name}:{value}");
        fold_into(&mut self.out, &line);
    }

    /// Appends a TEXT property, escaping `value`.
    pub(super) fn text(&mut self, name: &str, value: &str) {
        self.raw(name, &escape_text(value));
    }

    /// Appends a URI property; control characters are dropped.
    pub(super) fn uri(&mut self, name: &str, value: &str) {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        self.raw(name, &value);
    }

    /// Appends a UTC DATE-TIME property, e.g. `20240506T070809Z`.
    pub(super) fn date_time(&mut self, name: &str, at: DateTime<Utc>) {
        self.raw(name, &at.format("%Y%m%dT%H%M%SZ").to_string());
    }

    /// Appends a DATE property (`;VALUE=DATE`), e.g. `20240506`.
    pub(super) fn date(&mut self, name: &str, day: NaiveDate) {
        let name = format!("{name};VALUE=DATE");
        self.raw(&name, &day.format("%Y%m%d").to_string());
    }

    /// The finished document.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// Escapes a TEXT value (RFC 5545 3.3.11): `\`, `;`, `,` and line breaks (LF,
/// CRLF or a lone CR, each written as `\n`). Other control characters, which TEXT
/// cannot contain, are dropped; tabs are kept.
pub(super) fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Formats a DURATION value (RFC 5545 3.3.6) in whole seconds, e.g. `PT1H`,
/// `PT1H30M`, `P1D`. Returns `None` for durations shorter than one second.
pub(super) fn duration(d: Duration) -> Option<String> {
    let secs = d.as_secs();
    if secs == 0 {
        return None;
    }
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        // The grammar allows seconds after hours only via minutes ("PT1H0M5S").
        if m > 0 || (h > 0 && s > 0) {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    Some(out)
}

/// Whether `s` is a plain media type (`type/subtype`, RFC 6838 characters),
/// safe as a parameter value without quoting.
pub(super) fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, sub)) if token(t) && token(sub))
}

/// Appends `line` folded to at most [`MAX_OCTETS`] octets per physical line, each
/// ended by CRLF; continuation lines start with one space (RFC 5545 3.1).
///
/// Folds only between characters, so multi-octet UTF-8 sequences (umlauts, `ß`)
/// are never split. Where possible a physical line does not end in whitespace,
/// because some parsers trim line ends before unfolding and would lose it.
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_OCTETS;
    while rest.len() > limit {
        let cut = fold_point(rest, limit);
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        limit = MAX_OCTETS - 1; // the leading space counts
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Where to fold `s` so that the first part has at most `limit` octets (`limit`
/// is at least 4, so every character fits and the part is never empty).
fn fold_point(s: &str, limit: usize) -> usize {
    let mut hard = limit;
    while !s.is_char_boundary(hard) {
        hard -= 1;
    }
    let soft = s[..hard].trim_end_matches([' ', '\t']).len();
    if soft > 0 {
        soft
    } else {
        hard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_media_type("image/jpeg"));
        assert!(is_media_type("image/svg+xml"));
        for bad in [
            "image",
            "image/",
            "/jpeg",
            "image/jpeg; q=1",
            "a/b:c",
            "a/b,c",
            "\"a\"/b",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }

    fn folded(line: &str) -> String {
        let mut out = String::new();
        fold_into(&mut out, line);
        out
    }

    fn unfold(s: &str) -> String {
        s.trim_end_matches("\r\n").replace("\r\n ", "")
    }

    #[test]
    fn escapes_text() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg\th<&\"'>:"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ng\th<&\"'>:"
        );
        assert_eq!(escape_text("x\u{0}\u{1b}\u{7f}\u{85}y"), "xy");
        assert_eq!(escape_text("\\n"), "\\\\n");
        assert_eq!(escape_text("Grüße aus Weißenfels"), "Grüße aus Weißenfels");
    }

    #[test]
    fn short_lines_are_not_folded() {
        assert_eq!(folded("SUMMARY:x"), "SUMMARY:x\r\n");
        let exact = "X".repeat(MAX_OCTETS);
        assert_eq!(folded(&exact), format!("{exact}\r\n"));
    }

    #[test]
    fn folds_at_75_octets() {
        let line = "X".repeat(75 + 74 + 10);
        let out = folded(&line);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), 75);
        assert_eq!(lines[1].len(), 75);
        assert_eq!(lines[2], format!(" {}", "X".repeat(10)));
        assert_eq!(unfold(&out), line);
    }

    #[test]
    fn never_splits_multibyte_characters() {
        // Shift each character across the fold boundaries octet by octet.
        for ch in ["ä", "ß", "Ü", "€", "😀"] {
            for pad in 60..90 {
                let line = format!("{}{}", "a".repeat(pad), ch.repeat(60));
                let out = folded(&line);
                assert!(out.ends_with("\r\n"));
                for physical in out.split_terminator("\r\n") {
                    assert!(physical.len() <= MAX_OCTETS, "{ch} {pad}: {physical:?}");
                }
                assert_eq!(unfold(&out), line, "{ch} {pad}");
            }
        }
    }

    #[test]
    fn umlaut_straddling_the_boundary_moves_to_the_next_line() {
        // "ä" would occupy octets 75 and 76: the first line stops at 74.
        let line = format!("{}äb", "a".repeat(74));
        assert_eq!(folded(&line), format!("{}\r\n äb\r\n", "a".repeat(74)));
        // "ß" fitting exactly into octets 74 and 75 stays on the first line.
        let line = format!("{}ßb", "a".repeat(73));
        assert_eq!(folded(&line), format!("{}ß\r\n b\r\n", "a".repeat(73)));
    }

    #[test]
    fn avoids_trailing_whitespace_before_a_fold() {
        let line = format!("{} {}", "a".repeat(74), "b".repeat(10));
        let out = folded(&line);
        assert_eq!(
            out,
            format!("{}\r\n  {}\r\n", "a".repeat(74), "b".repeat(10))
        );
        assert_eq!(unfold(&out), line);
        // All whitespace: fold hard.
        let spaces = " ".repeat(80);
        let out = folded(&spaces);
        assert_eq!(unfold(&out), spaces);
    }

    #[test]
    fn durations() {
        let d = |s: u64| duration(Duration::from_secs(s));
        assert_eq!(d(0), None);
        assert_eq!(d(3600).as_deref(), Some("PT1H"));
        assert_eq!(d(1800).as_deref(), Some("PT30M"));
        assert_eq!(d(5400).as_deref(), Some("PT1H30M"));
        assert_eq!(d(3605).as_deref(), Some("PT1H0M5S"));
        assert_eq!(d(45).as_deref(), Some("PT45S"));
        assert_eq!(d(86_400).as_deref(), Some("P1D"));
        assert_eq!(d(86_400 + 7200).as_deref(), Some("P1DT2H"));
        assert_eq!(
            duration(Duration::from_millis(1500)).as_deref(),
            Some("PT1S")
        );
    }
}
