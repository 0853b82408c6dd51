//! Configuration: one typed struct read from `herold.toml` and `HEROLD_*`
//! environment variables (nested keys with `__`, e.g.
//! `HEROLD_LIMITS__BODY_MAX_CHARS`). Secrets may come from files.

mod conversations;
mod credentials;
mod delivery;
mod inbound;
mod manual;
mod media;
mod privacy;
mod retention;
mod secret;
mod signup;
mod websub;

pub use conversations::ConversationsConfig;
pub use credentials::{CREDENTIAL_KEYS, SECRET_FILE_KEYS};
pub use delivery::{DeliveryConfig, RateConfig};
pub use inbound::InboundConfig;
pub use manual::{ManualChannelConfig, ManualFormat};
pub use media::{MediaConfig, DEFAULT_MAX_IMAGE_BYTES};
pub use privacy::PrivacyConfig;
pub use retention::RetentionConfig;
pub use secret::Secret;
pub use signup::{SignupConfig, TrustedProxy};
pub use websub::WebsubConfig;

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use thiserror::Error;
use url::Url;

use crate::{
    domain::Limits,
    storage::{DatabaseUrl, DatabaseUrlError, KeySource},
};

/// The file read when no `--config` is given (optional).
pub const DEFAULT_FILE: &str = "herold.toml";

/// Everything Herold can be configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://PATH`, a bare file path, or `postgres://…`.
    pub database_url: String,
    /// Address the web server binds to.
    pub listen: SocketAddr,
    /// The public base URL, used for links in feeds and messages.
    pub public_url: Url,
    /// Name shown as feed title and sender, e.g. "Gemeinde Musterstadt".
    pub site_name: String,
    /// Language of resident-facing text: `de` or `en`.
    pub default_locale: String,
    /// Time zone for dates shown to residents (IANA name).
    pub timezone: String,
    /// Master key (32 bytes, base64 or hex) encrypting personal data.
    pub secret_key: Option<Secret>,
    /// File holding the master key; default `herold.key` next to the SQLite
    /// database (or in the working directory for PostgreSQL).
    pub secret_key_file: Option<PathBuf>,
    /// Database connections kept open per process.
    pub pool_size: u32,
    /// How often (milliseconds) a server asks the database whether the
    /// public feeds and pages changed, e.g. by a publication of another
    /// process; 0 asks before every request (src/web/public_cache.rs).
    pub public_refresh_ms: u64,
    /// Limits on announcement text.
    pub limits: Limits,
    /// The delivery engine.
    pub delivery: DeliveryConfig,
    /// The processor of inbound events (webhooks).
    pub inbound: InboundConfig,
    /// The WebSub hub of Herold's feeds.
    pub websub: WebsubConfig,
    /// The e-mail channel's SMTP server (`[email]`); needed when
    /// `delivery.channels` lists `email`.
    pub email: Option<herold_channel_email::EmailConfig>,
    /// The Telegram channel's bot (`[telegram]`); needed when
    /// `delivery.channels` lists `telegram`.
    pub telegram: Option<herold_channel_telegram::TelegramConfig>,
    /// The Matrix channel's bot (`[matrix]`); needed when
    /// `delivery.channels` lists `matrix`.
    pub matrix: Option<herold_channel_matrix::MatrixConfig>,
    /// The WhatsApp Cloud API number (`[whatsapp]`); needed when
    /// `delivery.channels` lists `whatsapp`.
    pub whatsapp: Option<herold_channel_whatsapp::WhatsAppConfig>,
    /// Places staff post announcements to by hand (`[[manual]]`), such as
    /// the WhatsApp Channel: Herold offers the copy and records the post.
    pub manual: Vec<ManualChannelConfig>,
    /// E-mail sign-up: confirmation link lifetime, resend throttling.
    pub signup: SignupConfig,
    /// Images of announcements: size limit.
    pub media: MediaConfig,
    /// Residents' reports: office hours named in the automatic reply.
    pub conversations: ConversationsConfig,
    /// How long each kind of personal data is kept.
    pub retention: RetentionConfig,
    /// What the data-protection officer decides about records.
    pub privacy: PrivacyConfig,
    /// Bearer token `/metrics` requires (`Authorization: Bearer …`); unset,
    /// `/metrics` answers only to clients on this host (loopback).
    pub metrics_token: Option<Secret>,
    /// Logging.
    pub log: LogConfig,
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `herold=debug,actix_web=info`.
    pub filter: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "herold.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: Url::parse("http://127.0.0.1:8080/").unwrap_or_else(|_| unreachable!()),
            site_name: "Herold".into(),
            default_locale: "de".into(),
            timezone: "Europe/Berlin".into(),
            secret_key: None,
            secret_key_file: None,
            pool_size: 8,
            public_refresh_ms: 250,
            limits: Limits::default(),
            delivery: DeliveryConfig::default(),
            inbound: InboundConfig::default(),
            websub: WebsubConfig::default(),
            email: None,
            telegram: None,
            matrix: None,
            whatsapp: None,
            manual: Vec::new(),
            signup: SignupConfig::default(),
            media: MediaConfig::default(),
            conversations: ConversationsConfig::default(),
            retention: RetentionConfig::default(),
            privacy: PrivacyConfig::default(),
            metrics_token: None,
            log: LogConfig::default(),
        }
    }
}

/// A configuration that cannot be used. Messages name the key and what was
/// expected.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `--config` named a file that does not exist.
    #[error("configuration file {0} does not exist")]
    FileMissing(PathBuf),
    /// A value could not be read into its type.
    #[error("{0}")]
    Parse(String),
    /// A value was read but breaks a rule.
    #[error("configuration key `{key}` has the invalid value {value:?}: expected {expected}")]
    Invalid {
        key: &'static str,
        value: String,
        expected: String,
    },
}

impl Config {
    /// Reads defaults, then the file (`path`, or `herold.toml` if present),
    /// then `HEROLD_*` environment variables, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) if !p.exists() => return Err(ConfigError::FileMissing(p.to_owned())),
            Some(p) => p.to_owned(),
            None => PathBuf::from(DEFAULT_FILE),
        };
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            // systemd credentials named after a secret key (config/credentials.rs).
            .merge(credentials::provider(
                std::env::var_os("CREDENTIALS_DIRECTORY")
                    .as_deref()
                    .map(Path::new),
            )?)
            // HEROLD_FAKE_PROVIDER(_SECRET) are not configuration: test builds
            // read them (herold-channel-fake), release builds refuse them.
            .merge(
                Env::prefixed("HEROLD_")
                    .ignore(&["CONFIG", "FAKE_PROVIDER", "FAKE_PROVIDER_SECRET"])
                    .split("__"),
            );
        Self::extract(figment)
    }

    /// Defaults, then the TOML `text` (no file, no environment), validated:
    /// what [`Config::load`] does with a file's contents, for the fuzz
    /// targets (`fuzz/`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    /// The typed configuration from `figment`, validated.
    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks rules a type alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        DatabaseUrl::parse(&self.database_url)?;
        if !matches!(self.public_url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid {
                key: "public_url",
                value: self.public_url.to_string(),
                expected: "an http:// or https:// URL".into(),
            });
        }
        if !matches!(self.default_locale.as_str(), "de" | "en") {
            return Err(ConfigError::Invalid {
                key: "default_locale",
                value: self.default_locale.clone(),
                expected: "de or en".into(),
            });
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Invalid {
                key: "timezone",
                value: self.timezone.clone(),
                expected: "an IANA time zone name such as Europe/Berlin".into(),
            });
        }
        if self.pool_size == 0 || self.pool_size > 256 {
            return Err(ConfigError::Invalid {
                key: "pool_size",
                value: self.pool_size.to_string(),
                expected: "a number from 1 to 256".into(),
            });
        }
        if self.public_refresh_ms > 1000 {
            return Err(ConfigError::Invalid {
                key: "public_refresh_ms",
                value: self.public_refresh_ms.to_string(),
                expected: "a number from 0 to 1000 (milliseconds)".into(),
            });
        }
        for (key, v) in [
            ("limits.title_max_chars", self.limits.title_max_chars),
            ("limits.body_max_chars", self.limits.body_max_chars),
        ] {
            if v == 0 || v > 100_000 {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: "a number from 1 to 100000".into(),
                });
            }
        }
        let d = &self.delivery;
        for (key, v, max) in [
            ("delivery.batch_size", u64::from(d.batch_size), 10_000),
            (
                "delivery.batches_in_flight",
                u64::from(d.batches_in_flight),
                64,
            ),
            ("delivery.lease_seconds", u64::from(d.lease_seconds), 3600),
            ("delivery.max_attempts", u64::from(d.max_attempts), 100),
            ("delivery.concurrency", u64::from(d.concurrency), 10_000),
            ("delivery.poll_interval_ms", d.poll_interval_ms, 60_000),
        ] {
            if v == 0 || v > max {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: format!("a number from 1 to {max}"),
                });
            }
        }
        if let Some(ch) = d
            .channels
            .iter()
            .find(|c| **c == herold_channel_api::ChannelKind::Feed)
        {
            return Err(ConfigError::Invalid {
                key: "delivery.channels",
                value: ch.to_string(),
                expected:
                    "push channels only (whatsapp, email, telegram, matrix); feeds are always on"
                        .into(),
            });
        }
        for (ch, r) in &d.rates {
            if !(r.per_second > 0.0 && r.per_second.is_finite()) || r.burst == 0 {
                return Err(ConfigError::Invalid {
                    key: "delivery.rates",
                    value: format!("{ch}: per_second {} burst {}", r.per_second, r.burst),
                    expected: "per_second above 0 and burst of at least 1".into(),
                });
            }
        }
        self.inbound.validate()?;
        self.websub.validate()?;
        self.signup.validate()?;
        self.media.validate()?;
        self.conversations.validate()?;
        self.retention.validate()?;
        self.privacy.validate()?;
        // Each channel's section is checked by its own crate; whether every
        // channel of delivery.channels has one is checked when the
        // registry builds the adapters (crate::registry).
        if let Some(email) = &self.email {
            email
                .validate()
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
        if let Some(telegram) = &self.telegram {
            telegram
                .validate()
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
        if let Some(matrix) = &self.matrix {
            matrix
                .validate()
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
        if let Some(whatsapp) = &self.whatsapp {
            whatsapp
                .validate()
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
        for (i, m) in self.manual.iter().enumerate() {
            m.validate(i)?;
            if self.manual[..i].iter().any(|other| other.id == m.id) {
                return Err(ConfigError::Parse(format!(
                    "manual[{i}].id: expected an id no other manual channel has, not {:?} again",
                    m.id
                )));
            }
        }
        if self.secret_key.is_some() && self.secret_key_file.is_some() {
            return Err(ConfigError::Invalid {
                key: "secret_key_file",
                value: self
                    .secret_key_file
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                expected: "to be unset when secret_key is set (give the key one way only)".into(),
            });
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = DatabaseUrl::redact(&self.database_url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// The configured time zone (validated on load; UTC if unparsable).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The WebSub hub's URL, `{public_url}websub`, if the hub is enabled.
    pub fn websub_hub_url(&self) -> Option<String> {
        self.websub
            .enabled
            .then(|| self.public_url.join("websub").ok())
            .flatten()
            .map(String::from)
    }

    /// Where the master key comes from: `secret_key`, `secret_key_file`, or
    /// else the default file, generated for a new database.
    pub fn key_source(&self) -> KeySource {
        match (&self.secret_key, &self.secret_key_file) {
            (Some(secret), _) => {
                KeySource::Inline(zeroize::Zeroizing::new(secret.expose().to_owned()))
            }
            (None, Some(path)) => KeySource::File {
                path: path.clone(),
                generate: false,
            },
            (None, None) => KeySource::File {
                path: self.default_key_file(),
                generate: true,
            },
        }
    }

    /// Where the master key file is expected when none is configured.
    pub fn default_key_file(&self) -> PathBuf {
        match DatabaseUrl::parse(&self.database_url) {
            Ok(DatabaseUrl::Sqlite(p)) => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(|d| d.join("herold.key"))
                .unwrap_or_else(|| PathBuf::from("herold.key")),
            _ => PathBuf::from("herold.key"),
        }
    }
}

impl From<DatabaseUrlError> for ConfigError {
    fn from(e: DatabaseUrlError) -> Self {
        Self::Invalid {
            key: "database_url",
            value: e.value,
            expected: e.expected,
        }
    }
}

/// Turns figment's errors into sentences naming the key, its source and what
/// was expected.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = match e.metadata.as_ref() {
                Some(m) if m.source.is_some() => format!(
                    " (set in {})",
                    m.source
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                Some(m) if m.name.contains("environment") => format!(
                    " (set by environment variable HEROLD_{})",
                    e.path.join("__").to_uppercase()
                ),
                _ => String::new(),
            };
            if key.is_empty() {
                format!("invalid configuration: {}", e.kind)
            } else {
                format!("configuration key `{key}`{source} is invalid: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn key_source_follows_the_settings() {
        let c = Config::default();
        assert!(matches!(
            c.key_source(),
            KeySource::File { path, generate: true } if path == Path::new("herold.key")
        ));
        let c = Config {
            secret_key_file: Some("/etc/herold/key".into()),
            ..Config::default()
        };
        assert!(matches!(
            c.key_source(),
            KeySource::File { path, generate: false } if path == Path::new("/etc/herold/key")
        ));
        let c = Config {
            secret_key: Some(Secret::new("k".into())),
            ..Config::default()
        };
        assert!(matches!(c.key_source(), KeySource::Inline(k) if k.as_str() == "k"));
    }

    #[test]
    fn redacts_the_telegram_token() {
        let c = Config {
            telegram: Some(herold_channel_telegram::TelegramConfig {
                webhook_secret: Some("geheim-hook".into()),
                ..herold_channel_telegram::TelegramConfig::new("123456:AAsecret-token")
            }),
            ..Config::default()
        };
        c.validate().unwrap();
        let t = c.to_redacted_toml();
        assert!(t.contains("[telegram]"), "{t}");
        assert!(!t.contains("AAsecret") && !t.contains("geheim-hook"), "{t}");
        assert!(!format!("{c:?}").contains("AAsecret"));
    }

    #[test]
    fn redacts_the_matrix_password_and_token() {
        let with_password = herold_channel_matrix::MatrixConfig::with_password(
            "https://matrix.example.org",
            "@herold:example.org",
            "geheimes-passwort",
            "/var/lib/herold/matrix",
        );
        let with_token = herold_channel_matrix::MatrixConfig {
            password: None,
            access_token: Some("syt_geheimer_token".into()),
            ..with_password.clone()
        };
        for matrix in [with_password, with_token] {
            let c = Config {
                matrix: Some(matrix),
                ..Config::default()
            };
            c.validate().unwrap();
            let t = c.to_redacted_toml();
            assert!(t.contains("[matrix]"), "{t}");
            for out in [t, format!("{c:?}")] {
                assert!(
                    !out.contains("geheimes-passwort") && !out.contains("syt_geheimer"),
                    "{out}"
                );
            }
        }
        let bad = Config {
            matrix: Some(herold_channel_matrix::MatrixConfig::with_password(
                "matrix.example.org",
                "@herold:example.org",
                "pw",
                "/tmp/m",
            )),
            ..Config::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("matrix.homeserver"));
    }

    #[test]
    fn redacts() {
        let c = Config {
            secret_key: Some(Secret::new("c2VjcmV0".into())),
            database_url: "postgres://u:pw@h/db".into(),
            ..Config::default()
        };
        let t = c.to_redacted_toml();
        assert!(!t.contains("c2VjcmV0"), "{t}");
        assert!(!t.contains("pw"), "{t}");
        assert!(t.contains("<redacted>"));
    }
}
