//! Configuration of the Matrix channel (`[matrix]`) and its validation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use herold_channel_api::{FollowRoute, FollowTarget};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Default for [`MatrixConfig::rate_per_second`]. Synapse's own default for
/// one sender is 0.2 messages a second (`rc_message`); a homeserver that
/// carries a town's bot lifts that for the bot (see docs/channels.md), and
/// Synapse then takes about 35 sequential messages a second on a small
/// machine. Ten a second keeps well below that and leaves room for the
/// key-sharing requests encrypted rooms add.
pub const DEFAULT_RATE_PER_SECOND: f64 = 10.0;
/// Highest accepted [`MatrixConfig::rate_per_second`].
const MAX_RATE_PER_SECOND: f64 = 1000.0;

/// Settings of the Matrix channel (`[matrix]` in the Herold configuration).
///
/// `Debug` and serialisation hide the access token and the password.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's client-server API, e.g. `https://matrix.musterstadt.de`.
    pub homeserver: String,
    /// The bot's account, e.g. `@herold:musterstadt.de`.
    pub user_id: String,
    /// An access token of the bot's account (its device then is the token's
    /// device); set exactly one of `access_token`, `access_token_file`,
    /// `password` and `password_file`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub access_token: Option<String>,
    /// A file holding the access token.
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// The bot account's password: Herold logs in once, creating its
    /// device, and keeps that session in `store_path`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub password: Option<String>,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Directory of the bot's session and of its SQLite state and crypto
    /// store (its device keys): created if missing; back it up.
    pub store_path: PathBuf,
    /// Public rooms per category (follow mode): category slug → room alias
    /// (`#abfall:musterstadt.de`) or room id (`!abc:musterstadt.de`).
    #[serde(default)]
    pub follow_rooms: BTreeMap<String, String>,
    /// A public room that gets every announcement.
    #[serde(default)]
    pub follow_all_room: Option<String>,
    /// Messages per second the bot sends at most (all rooms together).
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: f64,
    /// Seconds one sync waits for news (1–60). Residents' messages arrive
    /// at once either way; after a crash, another process takes over
    /// receiving within about twice this.
    #[serde(default = "default_sync_wait_seconds")]
    pub sync_wait_seconds: u32,
}

fn default_sync_wait_seconds() -> u32 {
    DEFAULT_SYNC_WAIT_SECONDS
}

/// Default for [`MatrixConfig::sync_wait_seconds`].
pub const DEFAULT_SYNC_WAIT_SECONDS: u32 = 30;

fn default_rate_per_second() -> f64 {
    DEFAULT_RATE_PER_SECOND
}

impl fmt::Debug for MatrixConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixConfig")
            .field("homeserver", &self.homeserver)
            .field("user_id", &self.user_id)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("access_token_file", &self.access_token_file)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("store_path", &self.store_path)
            .field("follow_rooms", &self.follow_rooms)
            .field("follow_all_room", &self.follow_all_room)
            .field("rate_per_second", &self.rate_per_second)
            .field("sync_wait_seconds", &self.sync_wait_seconds)
            .finish()
    }
}

/// An invalid [`MatrixConfig`]; the message names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is missing, malformed or inconsistent with another key.
    #[error("matrix.{field}: expected {expected}")]
    Invalid {
        /// The offending key, e.g. `user_id`.
        field: &'static str,
        /// What a valid value looks like.
        expected: String,
    },
    /// A `*_file` could not be read.
    #[error("matrix.{field}: cannot read {path}: {source}")]
    FileUnreadable {
        /// The key naming the file.
        field: &'static str,
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The configuration key the error is about (without the `matrix.` prefix).
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Invalid { field, .. } | ConfigError::FileUnreadable { field, .. } => field,
        }
    }

    fn invalid(field: &'static str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field,
            expected: expected.into(),
        }
    }
}

/// How the bot authenticates, resolved from the configuration.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// An access token (its device is the bot's device).
    AccessToken(Zeroizing<String>),
    /// A password for the one login that creates the bot's device.
    Password(Zeroizing<String>),
}

impl MatrixConfig {
    /// A configuration for `user_id` on `homeserver` logging in with
    /// `password`, storing in `store_path`, with defaults for everything else.
    pub fn with_password(
        homeserver: impl Into<String>,
        user_id: impl Into<String>,
        password: impl Into<String>,
        store_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            homeserver: homeserver.into(),
            user_id: user_id.into(),
            access_token: None,
            access_token_file: None,
            password: Some(password.into()),
            password_file: None,
            store_path: store_path.into(),
            follow_rooms: BTreeMap::new(),
            follow_all_room: None,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            sync_wait_seconds: DEFAULT_SYNC_WAIT_SECONDS,
        }
    }

    /// Checks every key; reads a `*_file` to check the secret in it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !valid_url(&self.homeserver) {
            return Err(ConfigError::invalid(
                "homeserver",
                "an http:// or https:// URL such as https://matrix.musterstadt.de",
            ));
        }
        if !valid_user_id(&self.user_id) {
            return Err(ConfigError::invalid(
                "user_id",
                "a Matrix user id such as @herold:musterstadt.de",
            ));
        }
        self.credentials()?;
        if self.store_path.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "store_path",
                "a directory for the bot's session and keys, e.g. /var/lib/herold/matrix",
            ));
        }
        for (slug, room) in &self.follow_rooms {
            if !herold_channel_api::config::is_category_slug(slug) {
                return Err(ConfigError::invalid(
                    "follow_rooms",
                    format!(
                        "category slugs such as \"abfall\" (lower-case letters, digits and -) as keys, not {slug:?}"
                    ),
                ));
            }
            if !valid_room(room) {
                return Err(ConfigError::invalid(
                    "follow_rooms",
                    format!("a room alias (#name:server) or room id (!id:server) for {slug:?}"),
                ));
            }
        }
        if let Some(room) = &self.follow_all_room {
            if !valid_room(room) {
                return Err(ConfigError::invalid(
                    "follow_all_room",
                    "a room alias (#name:server) or room id (!id:server)",
                ));
            }
            if self.follow_rooms.values().any(|r| r == room) {
                return Err(ConfigError::invalid(
                    "follow_all_room",
                    "a room not also listed in follow_rooms (it would get those announcements twice)",
                ));
            }
        }
        if !(self.rate_per_second.is_finite()
            && self.rate_per_second > 0.0
            && self.rate_per_second <= MAX_RATE_PER_SECOND)
        {
            return Err(ConfigError::invalid(
                "rate_per_second",
                "a number above 0 and at most 1000 (messages per second to the homeserver)",
            ));
        }
        if !(1..=60).contains(&self.sync_wait_seconds) {
            return Err(ConfigError::invalid(
                "sync_wait_seconds",
                "whole seconds from 1 to 60",
            ));
        }
        Ok(())
    }

    /// The bot's credentials, from exactly one of the four keys (a file's
    /// surrounding whitespace trimmed).
    pub(crate) fn credentials(&self) -> Result<Credentials, ConfigError> {
        let given = [
            self.access_token.is_some(),
            self.access_token_file.is_some(),
            self.password.is_some(),
            self.password_file.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given == 0 {
            return Err(ConfigError::invalid(
                "access_token",
                "one of access_token, access_token_file, password or password_file (how the bot logs in)",
            ));
        }
        if given > 1 {
            let field = if self.access_token.is_some() || self.access_token_file.is_some() {
                "password"
            } else {
                "password_file"
            };
            return Err(ConfigError::invalid(
                field,
                "to be unset: give exactly one of access_token, access_token_file, password or password_file",
            ));
        }
        let non_empty = |field: &'static str, s: Zeroizing<String>| {
            if s.is_empty() || s.chars().any(char::is_control) {
                Err(ConfigError::invalid(field, "a non-empty value on one line"))
            } else {
                Ok(s)
            }
        };
        if let Some(t) = &self.access_token {
            return non_empty("access_token", Zeroizing::new(t.trim().to_owned()))
                .map(Credentials::AccessToken);
        }
        if let Some(p) = &self.access_token_file {
            return non_empty("access_token_file", read_secret("access_token_file", p)?)
                .map(Credentials::AccessToken);
        }
        if let Some(p) = &self.password {
            return non_empty("password", Zeroizing::new(p.clone())).map(Credentials::Password);
        }
        match &self.password_file {
            Some(p) => non_empty("password_file", read_secret("password_file", p)?)
                .map(Credentials::Password),
            None => Err(ConfigError::invalid("password_file", "a file")),
        }
    }

    /// The follow routes: one per room of `follow_rooms` (carrying the
    /// categories mapped to it) and `follow_all_room` (carrying all).
    pub fn follow_routes(&self) -> Vec<FollowRoute> {
        let mut by_room: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (slug, room) in &self.follow_rooms {
            by_room.entry(room.as_str()).or_default().push(slug.clone());
        }
        let mut routes: Vec<FollowRoute> = by_room
            .into_iter()
            .map(|(room, categories)| FollowRoute {
                target: FollowTarget::new(room),
                categories,
            })
            .collect();
        if let Some(room) = &self.follow_all_room {
            routes.push(FollowRoute {
                target: FollowTarget::new(room.clone()),
                categories: Vec::new(),
            });
        }
        routes
    }

    /// The subscribe page's links: a direct chat with the bot, and each
    /// follow room given by alias (a room id is no address residents can
    /// use), through matrix.to.
    pub fn join_links(&self) -> Vec<herold_channel_api::JoinLink> {
        use herold_channel_api::JoinLink;
        let mut links = vec![JoinLink::chat(
            format!("https://matrix.to/#/{}", self.user_id),
            self.user_id.clone(),
        )];
        for route in self.follow_routes() {
            let room = route.target.as_str();
            if room.starts_with('#') {
                links.push(JoinLink::follow(
                    format!("https://matrix.to/#/{room}"),
                    room,
                    route.categories,
                ));
            }
        }
        links
    }
}

fn read_secret(field: &'static str, path: &Path) -> Result<Zeroizing<String>, ConfigError> {
    let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        ConfigError::FileUnreadable {
            field,
            path: path.display().to_string(),
            source,
        }
    })?);
    Ok(Zeroizing::new(raw.trim().to_owned()))
}

/// `http(s)://host…` (matrix-sdk parses it fully when it connects).
fn valid_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    matches!(host, Some(h) if !h.is_empty()) && !s.contains(char::is_whitespace)
}

/// `@localpart:server`.
fn valid_user_id(s: &str) -> bool {
    matches!(s.strip_prefix('@').and_then(|r| r.split_once(':')),
        Some((local, server)) if !local.is_empty() && !server.is_empty()
            && !s.contains(char::is_whitespace))
}

/// `#alias:server` or `!id:server`.
fn valid_room(s: &str) -> bool {
    matches!(s.strip_prefix('#').or_else(|| s.strip_prefix('!')).and_then(|r| r.split_once(':')),
        Some((local, server)) if !local.is_empty() && !server.is_empty()
            && !s.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {

    #[test]
    fn join_links_for_the_bot_and_rooms_with_an_alias() {
        let mut c = MatrixConfig::with_password(
            "https://matrix.example.org",
            "@herold:example.org",
            "pw",
            "/tmp/store",
        );
        c.follow_rooms
            .insert("abfall".into(), "#abfall:example.org".into());
        c.follow_rooms
            .insert("kultur".into(), "!xyz:example.org".into());
        c.follow_all_room = Some("#alles:example.org".into());
        let links = c.join_links();
        let urls: Vec<&str> = links.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://matrix.to/#/@herold:example.org",
                "https://matrix.to/#/#abfall:example.org",
                "https://matrix.to/#/#alles:example.org",
            ]
        );
        assert_eq!(links[1].categories, ["abfall"]);
        assert!(links[2].categories.is_empty());
        assert_eq!(links[0].kind, herold_channel_api::JoinKind::Chat);
    }

    use super::*;

    fn parse(toml_text: &str) -> Result<MatrixConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    const MINIMAL: &str = r#"
homeserver = "https://matrix.example.org"
user_id = "@herold:example.org"
password = "s3cret-pass"
store_path = "/var/lib/herold/matrix"
"#;

    fn base() -> MatrixConfig {
        MatrixConfig::with_password(
            "https://matrix.example.org",
            "@herold:example.org",
            "s3cret-pass",
            "/var/lib/herold/matrix",
        )
    }

    #[test]
    fn defaults_and_minimal_config() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c, base());
        assert_eq!(c.rate_per_second, DEFAULT_RATE_PER_SECOND);
        assert!(c.follow_rooms.is_empty() && c.follow_all_room.is_none());
        c.validate().unwrap();
        assert!(matches!(c.credentials().unwrap(), Credentials::Password(_)));
        assert!(c.follow_routes().is_empty());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse(&format!("{MINIMAL}\ntoken = \"x\"")).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
    }

    #[test]
    fn exactly_one_credential() {
        let none = MatrixConfig {
            password: None,
            ..base()
        };
        assert_eq!(none.validate().unwrap_err().field(), "access_token");
        let two = MatrixConfig {
            access_token: Some("syt_abc".into()),
            ..base()
        };
        let err = two.validate().unwrap_err();
        assert_eq!(err.field(), "password");
        assert!(
            err.to_string().starts_with("matrix.password: expected"),
            "{err}"
        );
        let token = MatrixConfig {
            access_token: Some("syt_abc".into()),
            password: None,
            ..base()
        };
        token.validate().unwrap();
        assert!(matches!(
            token.credentials().unwrap(),
            Credentials::AccessToken(t) if t.as_str() == "syt_abc"
        ));
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "syt_from_file\n").unwrap();
        let c = MatrixConfig {
            password: None,
            access_token_file: Some(path.clone()),
            ..base()
        };
        assert!(matches!(
            c.credentials().unwrap(),
            Credentials::AccessToken(t) if t.as_str() == "syt_from_file"
        ));
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(c.validate().unwrap_err().field(), "access_token_file");
        let missing = MatrixConfig {
            password: None,
            password_file: Some(dir.path().join("absent")),
            ..base()
        };
        let err = missing.validate().unwrap_err();
        assert_eq!(err.field(), "password_file");
        assert!(matches!(err, ConfigError::FileUnreadable { .. }));
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut rooms = BTreeMap::new();
        rooms.insert("Abfall".to_owned(), "#abfall:example.org".to_owned());
        let mut bad_room = BTreeMap::new();
        bad_room.insert("abfall".to_owned(), "abfall".to_owned());
        let cases: Vec<(MatrixConfig, &str)> = vec![
            (
                MatrixConfig {
                    homeserver: "matrix.example.org".into(),
                    ..base()
                },
                "homeserver",
            ),
            (
                MatrixConfig {
                    user_id: "herold".into(),
                    ..base()
                },
                "user_id",
            ),
            (
                MatrixConfig {
                    store_path: PathBuf::new(),
                    ..base()
                },
                "store_path",
            ),
            (
                MatrixConfig {
                    follow_rooms: rooms,
                    ..base()
                },
                "follow_rooms",
            ),
            (
                MatrixConfig {
                    follow_rooms: bad_room,
                    ..base()
                },
                "follow_rooms",
            ),
            (
                MatrixConfig {
                    follow_all_room: Some("all".into()),
                    ..base()
                },
                "follow_all_room",
            ),
            (
                MatrixConfig {
                    rate_per_second: 0.0,
                    ..base()
                },
                "rate_per_second",
            ),
            (
                MatrixConfig {
                    password: Some(String::new()),
                    ..base()
                },
                "password",
            ),
        ];
        for (c, field) in cases {
            let err = c.validate().unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(
                err.to_string().contains(&format!("matrix.{field}")),
                "{err}"
            );
        }
    }

    #[test]
    fn follow_routes_group_categories_by_room() {
        let c = parse(&format!(
            "{MINIMAL}\nfollow_all_room = \"!all:example.org\"\n[follow_rooms]\nabfall = \"#umwelt:example.org\"\nwasser = \"#umwelt:example.org\"\nverkehr = \"#verkehr:example.org\"\n"
        ))
        .unwrap();
        c.validate().unwrap();
        let routes = c.follow_routes();
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[0].target.as_str(), "#umwelt:example.org");
        assert_eq!(routes[0].categories, ["abfall", "wasser"]);
        assert_eq!(routes[1].categories, ["verkehr"]);
        assert!(routes[2].categories.is_empty() && routes[2].carries("anything"));
        let twice = MatrixConfig {
            follow_all_room: Some("#verkehr:example.org".into()),
            ..c
        };
        assert_eq!(twice.validate().unwrap_err().field(), "follow_all_room");
    }

    #[test]
    fn secrets_are_redacted() {
        let c = MatrixConfig {
            password: None,
            access_token: Some("syt_very_secret".into()),
            ..base()
        };
        let p = base();
        for out in [
            format!("{c:?}"),
            toml::to_string(&c).unwrap(),
            format!("{p:?}"),
            toml::to_string(&p).unwrap(),
        ] {
            assert!(
                !out.contains("very_secret") && !out.contains("s3cret-pass"),
                "{out}"
            );
            assert!(out.contains("<redacted>"), "{out}");
        }
    }
}
