//! Helpers every channel's configuration section uses.

/// Serialises a secret as `<redacted>` (e.g. in `herold config check`):
/// `#[serde(serialize_with = "herold_channel_api::config::redacted")]`.
pub fn redacted<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}

/// Longest category slug.
pub const CATEGORY_SLUG_MAX_LEN: usize = 40;

/// Whether `s` has the shape of a category slug (as channel sections name
/// categories, e.g. follow routes): lowercase letters a-z, digits and `-`,
/// starting with a letter, not ending with `-`, at most
/// [`CATEGORY_SLUG_MAX_LEN`] characters. The core's `Slug` checks the same.
pub fn is_category_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= CATEGORY_SLUG_MAX_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["abfall", "kultur-2", "a"] {
            assert!(is_category_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "Abfall",
            "2abfall",
            "abfall-",
            "ab fall",
            "müll",
            &"a".repeat(41),
        ] {
            assert!(!is_category_slug(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_serialise_redacted() {
        #[derive(serde::Serialize)]
        struct S {
            #[serde(serialize_with = "redacted")]
            token: Option<String>,
        }
        let json = serde_json::to_string(&S {
            token: Some("geheim".into()),
        })
        .unwrap();
        assert_eq!(json, r#"{"token":"<redacted>"}"#);
    }
}
