//! Which database to open, from the `database_url` setting.

use std::path::PathBuf;
use thiserror::Error;

/// A database URL that cannot be used; `value` has any password redacted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid database URL {value:?}: expected {expected}")]
pub struct DatabaseUrlError {
    /// The URL as given, password redacted.
    pub value: String,
    /// What would have been accepted.
    pub expected: String,
}

/// Which database to use, parsed from `database_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (created if missing, in an existing directory).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

const EXPECTED: &str =
    "sqlite://PATH, a file path such as herold.db, or postgres://USER@HOST:PORT/DATABASE";

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, a bare path, or `postgres://…`/`postgresql://…`.
    /// Any other scheme is an error rather than a file of that name.
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let invalid = |expected: &str| DatabaseUrlError {
            value: Self::redact(raw),
            expected: expected.to_owned(),
        };
        let s = raw.trim();
        if s.is_empty() {
            return Err(invalid(EXPECTED));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let url = url::Url::parse(s).map_err(|_| invalid(EXPECTED))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid(
                    "a host in the PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/herold",
                ));
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err(invalid("a database name in the PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/herold"));
            }
            return Ok(Self::Postgres(s.to_owned()));
        }
        let path = if let Some(rest) = s.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = s.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = s.split_once("://") {
            return Err(invalid(&format!(
                "{EXPECTED} (the scheme {scheme}:// is not supported)"
            )));
        } else {
            s
        };
        if path.is_empty() || path.ends_with('/') {
            return Err(invalid(
                "a path to an SQLite database file, e.g. sqlite://herold.db",
            ));
        }
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(invalid(&format!(
                    "a file in an existing directory ({} does not exist)",
                    dir.display()
                )));
            }
        }
        Ok(Self::Sqlite(path))
    }

    /// The URL with any password replaced by `<redacted>`, for messages.
    pub fn redact(raw: &str) -> String {
        match url::Url::parse(raw) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("<redacted>"));
                u.to_string().replace("%3Credacted%3E", "<redacted>")
            }
            _ => raw.to_owned(),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            DatabaseUrl::parse("herold.db").ok(),
            Some(DatabaseUrl::Sqlite("herold.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://herold.db").ok(),
            Some(DatabaseUrl::Sqlite("herold.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").ok(),
            Some(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/test"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in [
            "mysql://x/y",
            "",
            "postgres://",
            "postgres://h",
            "/no/such/dir/x.db",
            "sqlite://",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
        let e = DatabaseUrl::parse("mysql://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mysql://") && !e.contains("pw"), "{e}");
    }
}
