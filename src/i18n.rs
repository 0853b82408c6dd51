//! Message catalogues for resident- and staff-facing text (`locales/*.toml`),
//! German by default with English. Keys missing in a locale fall back to
//! German, then to the key itself, so a gap shows up instead of failing.

use std::{collections::HashMap, sync::OnceLock};

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static HashMap<&'static str, Catalogue> {
    static CATALOGUES: OnceLock<HashMap<&'static str, Catalogue>> = OnceLock::new();
    CATALOGUES.get_or_init(|| {
        [
            ("de", include_str!("../locales/de.toml")),
            ("en", include_str!("../locales/en.toml")),
        ]
        .into_iter()
        // The catalogues are compiled in and checked by a unit test.
        .map(|(loc, src)| (loc, toml::from_str(src).unwrap_or_default()))
        .collect()
    })
}

/// The text for `key` in `locale` with `{name}` placeholders filled in.
pub fn t(locale: &str, key: &str, args: &[(&str, &str)]) -> String {
    let all = catalogues();
    let template = all
        .get(locale)
        .and_then(|c| c.get(key))
        .or_else(|| all.get("de").and_then(|c| c.get(key)))
        .map(String::as_str)
        .unwrap_or(key);
    args.iter().fold(template.to_owned(), |acc, (name, value)| {
        acc.replace(&format!("{{{name}}}"), value)
    })
}

/// Catalogue lookups in one locale, for templates (`t.get("key")`).
#[derive(Debug, Clone)]
pub struct Tr {
    locale: String,
}

impl Tr {
    /// Lookups in `locale` (falling back to German).
    pub fn new(locale: &str) -> Self {
        Self {
            locale: locale.to_owned(),
        }
    }

    /// The locale looked up in.
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// The text for `key`.
    pub fn get(&self, key: &str) -> String {
        t(&self.locale, key, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_parse_and_match() {
        let de: Catalogue = toml::from_str(include_str!("../locales/de.toml")).unwrap();
        let en: Catalogue = toml::from_str(include_str!("../locales/en.toml")).unwrap();
        let mut dk: Vec<_> = de.keys().collect();
        let mut ek: Vec<_> = en.keys().collect();
        dk.sort();
        ek.sort();
        assert_eq!(dk, ek, "de and en catalogues must have the same keys");
        assert_eq!(
            t(
                "de",
                "feed.title.category",
                &[("site", "Ort"), ("category", "Abfall")]
            ),
            "Ort: Abfall"
        );
        assert_eq!(
            t("en", "feed.title.all", &[("site", "X")]),
            "X: all announcements"
        );
        assert_eq!(
            t("fr", "feed.title.all", &[("site", "X")]),
            "X: alle Bekanntmachungen"
        );
    }
}
