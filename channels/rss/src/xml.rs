//! Small helpers shared by the Atom and RSS writers.

use std::borrow::Cow;

/// Whether `c` may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Removes characters XML 1.0 cannot represent (control characters, U+FFFE/U+FFFF),
/// which would otherwise make the whole feed unparsable. Escaping is left to the writer.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// Owned [`clean`] result.
pub(crate) fn cleaned(s: &str) -> String {
    clean(s).into_owned()
}

/// Whether `id` is an absolute http(s) URL that can be used as a link target.
pub(crate) fn is_web_url(id: &str) -> bool {
    let lower = id.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Converts writer output to a `String`.
///
/// Writing into a `Vec` cannot fail with I/O errors and the writers emit UTF-8,
/// so the fallbacks are never expected to trigger.
pub(crate) fn into_string<E>(result: Result<Vec<u8>, E>) -> String {
    match result {
        Ok(buf) => String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_only_invalid_chars() {
        assert!(matches!(clean("Straße <a> & \"b\"\t\n"), Cow::Borrowed(_)));
        assert_eq!(clean("a\u{0}b\u{1b}c\u{fffe}d😀"), "abcd😀");
    }

    #[test]
    fn web_urls() {
        assert!(is_web_url("https://x.de/a"));
        assert!(is_web_url("HTTP://x.de/a"));
        assert!(!is_web_url("urn:herold:announcement:1"));
        assert!(!is_web_url("tag:musterdorf.de,2024:1"));
        assert!(!is_web_url("http"));
        assert!(!is_web_url("ftp://x"));
    }
}
