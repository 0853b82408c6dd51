//! Small helpers shared by the Atom and RSS writers.

use std::borrow::Cow;

use crate::CORRECTION_NOTE;

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

/// The entry's HTML content, preceded by the visible correction note
/// ([`CORRECTION_NOTE`]) if it corrects an earlier entry. The corrected entry's id
/// is linked if it is a web URL and shown as text otherwise.
pub(crate) fn content_with_note(content_html: &str, corrects: Option<&str>) -> String {
    let Some(corrected) = corrects else {
        return cleaned(content_html);
    };
    let id = herold_channel_api::text::escape_html(&clean(corrected));
    let target = if is_web_url(corrected) {
        format!("<a href=\"{id}\">{id}</a>")
    } else {
        id
    };
    let note = herold_channel_api::text::escape_html(CORRECTION_NOTE);
    format!(
        "<p class=\"herold-correction\">{note} {target}</p>\n{}",
        clean(content_html)
    )
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
    fn correction_note() {
        assert_eq!(content_with_note("<p>x</p>", None), "<p>x</p>");
        assert_eq!(
            content_with_note("<p>x</p>", Some("https://x.de/a?b=1&c=\"2\"")),
            "<p class=\"herold-correction\">Diese Meldung berichtigt eine frühere Meldung: \
             <a href=\"https://x.de/a?b=1&amp;c=&quot;2&quot;\">https://x.de/a?b=1&amp;c=&quot;2&quot;</a></p>\n<p>x</p>"
        );
        assert_eq!(
            content_with_note("<p>x\u{1}</p>", Some("urn:<x>")),
            "<p class=\"herold-correction\">Diese Meldung berichtigt eine frühere Meldung: \
             urn:&lt;x&gt;</p>\n<p>x</p>"
        );
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
