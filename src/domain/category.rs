use chrono::{DateTime, Utc};
use std::fmt;

use super::{DomainError, Id};

/// A topic residents can subscribe to, e.g. `abfall` (waste collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: Id,
    pub slug: Slug,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// The stable, URL-safe name of a category: lowercase ASCII letters, digits
/// and `-`, 1–40 characters, starting with a letter. Used in feed URLs and in
/// commands, so it never changes once created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    /// Longest slug accepted.
    pub const MAX_LEN: usize = herold_channel_api::config::CATEGORY_SLUG_MAX_LEN;
    /// The reserved slug of the feed with every category.
    pub const ALL: &'static str = "all";

    /// Checks and wraps a slug.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let expected = "lowercase letters a-z, digits and '-', starting with a letter, at most 40 characters (e.g. \"abfall\")";
        if !herold_channel_api::config::is_category_slug(s) {
            return Err(DomainError::Invalid {
                field: "category slug",
                value: raw.to_owned(),
                expected,
            });
        }
        if s == Self::ALL {
            return Err(DomainError::Invalid {
                field: "category slug",
                value: raw.to_owned(),
                expected: "any name but \"all\", which is reserved for the feed of all categories",
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// Wraps a slug read back from storage, which was checked when stored.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a category's display name.
pub(crate) fn check_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::Empty {
            field: "category name",
        });
    }
    let len = name.chars().count();
    if len > 80 {
        return Err(DomainError::TooLong {
            field: "category name",
            max: 80,
            actual: len,
        });
    }
    Ok(name.to_owned())
}

impl Category {
    /// Validates the display name of a new category.
    pub fn validate_name(name: &str) -> Result<String, DomainError> {
        check_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("abfall").is_ok());
        assert!(Slug::parse("bau-2026").is_ok());
        for bad in ["", "Abfall", "2abc", "ab_c", "ab-", "all", "straße"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert!(Category::validate_name("  ").is_err());
    }
}
