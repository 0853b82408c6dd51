//! Configuration of the Telegram channel (`[telegram]`) and its validation.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Default for [`TelegramConfig::api_url`].
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Default for [`TelegramConfig::rate_per_second`]: Telegram's broadcast limit.
pub const DEFAULT_RATE_PER_SECOND: f64 = 30.0;
/// Highest accepted [`TelegramConfig::rate_per_second`] (paid broadcasts).
const MAX_RATE_PER_SECOND: f64 = 1000.0;
/// Default for [`TelegramConfig::poll_timeout_seconds`].
pub const DEFAULT_POLL_TIMEOUT_SECONDS: u32 = 25;
/// Longest long poll Telegram honours.
const MAX_POLL_TIMEOUT_SECONDS: u32 = 50;

/// How Herold receives residents' messages (`telegram.mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A webhook when `public_url` is https and `webhook_secret` is set,
    /// else long polling.
    #[default]
    Auto,
    /// Telegram calls `{public_url}webhooks/telegram` (register it with
    /// `herold channels setup telegram`); needs `webhook_secret`.
    Webhook,
    /// Herold asks Telegram with `getUpdates`; no public address needed.
    Polling,
}

/// Settings of the Telegram channel (`[telegram]` in the Herold configuration).
///
/// `Debug` and serialisation hide the token and the webhook secret.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather (`123456789:AA…`); set this or `token_file`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub token: Option<String>,
    /// A file holding the bot token; set this or `token`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Base URL of the Bot API (a local Bot API server or a test double).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (set it
    /// with `setWebhook … secret_token`); without it Herold has no webhook.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub webhook_secret: Option<String>,
    /// Public channel for follow mode, e.g. `@musterstadt_info` (or its
    /// numeric id); the bot must be an administrator allowed to post.
    #[serde(default)]
    pub channel: Option<String>,
    /// The category slugs posted to `channel`; empty (the default) posts
    /// every announcement.
    #[serde(default)]
    pub channel_categories: Vec<String>,
    /// The bot's public username without `@`, e.g. `musterstadt_bot`: the
    /// subscribe page links to `https://t.me/<name>` and shows
    /// its QR code. Unset, the page shows no link to the bot.
    #[serde(default)]
    pub bot_username: Option<String>,
    /// Telegram's limit of messages per second for this bot (30; more with
    /// paid broadcasts): the engine sends at most that many in any second,
    /// evenly at one below it.
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: f64,
    /// How updates arrive: `auto` (default), `webhook` or `polling`.
    #[serde(default)]
    pub mode: Mode,
    /// How long one `getUpdates` long poll waits for news (seconds, 1–50).
    #[serde(default = "default_poll_timeout_seconds")]
    pub poll_timeout_seconds: u32,
}

fn default_poll_timeout_seconds() -> u32 {
    DEFAULT_POLL_TIMEOUT_SECONDS
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_rate_per_second() -> f64 {
    DEFAULT_RATE_PER_SECOND
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("api_url", &self.api_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("channel", &self.channel)
            .field("channel_categories", &self.channel_categories)
            .field("bot_username", &self.bot_username)
            .field("rate_per_second", &self.rate_per_second)
            .field("mode", &self.mode)
            .field("poll_timeout_seconds", &self.poll_timeout_seconds)
            .finish()
    }
}

/// An invalid [`TelegramConfig`]; the message names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is missing, malformed or inconsistent with another key.
    #[error("telegram.{field}: expected {expected}")]
    Invalid {
        /// The offending key, e.g. `webhook_secret`.
        field: &'static str,
        /// What a valid value looks like.
        expected: String,
    },
    /// The token file could not be read.
    #[error("telegram.token_file: cannot read {path}: {source}")]
    TokenFileUnreadable {
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS backend).
    #[error("telegram: cannot build the HTTP client: {0}")]
    Client(String),
}

impl ConfigError {
    /// The configuration key the error is about (without the `telegram.` prefix).
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::TokenFileUnreadable { .. } => "token_file",
            ConfigError::Client(_) => "api_url",
        }
    }

    fn invalid(field: &'static str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field,
            expected: expected.into(),
        }
    }
}

impl TelegramConfig {
    /// A configuration with the given token and defaults for everything else.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            token_file: None,
            api_url: default_api_url(),
            webhook_secret: None,
            channel: None,
            channel_categories: Vec::new(),
            bot_username: None,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            mode: Mode::Auto,
            poll_timeout_seconds: DEFAULT_POLL_TIMEOUT_SECONDS,
        }
    }

    /// Whether updates arrive by long polling rather than the webhook:
    /// `polling`, or `auto` unless `public_url` is https (`public_https`)
    /// and `webhook_secret` is set.
    pub fn receives_by_polling(&self, public_https: bool) -> bool {
        match self.mode {
            Mode::Polling => true,
            Mode::Webhook => false,
            Mode::Auto => !(public_https && self.webhook_secret.is_some()),
        }
    }

    /// `{api_url}/bot{token}/`, the prefix of every method's URL (it holds
    /// the token: never shown).
    pub(crate) fn method_base(&self) -> Result<Zeroizing<String>, ConfigError> {
        let token = self.resolve_token()?;
        Ok(Zeroizing::new(format!(
            "{}/bot{}/",
            self.api_url.trim_end_matches('/'),
            token.as_str()
        )))
    }

    /// `{api_url}/file/bot{token}/`: where files are downloaded from
    /// (holds the token).
    pub(crate) fn file_base(&self) -> Result<Zeroizing<String>, ConfigError> {
        let token = self.resolve_token()?;
        Ok(Zeroizing::new(format!(
            "{}/file/bot{}/",
            self.api_url.trim_end_matches('/'),
            token.as_str()
        )))
    }

    /// Checks every key; reads `token_file` to check the token in it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve_token()?;
        let url = reqwest::Url::parse(&self.api_url).map_err(|_| {
            ConfigError::invalid(
                "api_url",
                "an http:// or https:// URL such as https://api.telegram.org",
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::invalid(
                "api_url",
                "an http:// or https:// URL such as https://api.telegram.org",
            ));
        }
        if let Some(secret) = &self.webhook_secret {
            let valid = (1..=256).contains(&secret.len())
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(ConfigError::invalid(
                    "webhook_secret",
                    "1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's secret_token)",
                ));
            }
        }
        if let Some(channel) = &self.channel {
            if !valid_channel(channel) {
                return Err(ConfigError::invalid(
                    "channel",
                    "a public channel name such as @musterstadt_info (5 to 32 letters, digits or _) or a numeric chat id",
                ));
            }
        }
        if let Some(name) = &self.bot_username {
            let n = name.len();
            let valid = (5..=32).contains(&n)
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && name.to_ascii_lowercase().ends_with("bot");
            if !valid {
                return Err(ConfigError::invalid(
                    "bot_username",
                    "the bot's username without @, 5 to 32 letters, digits or _, ending in \"bot\" (e.g. musterstadt_bot)",
                ));
            }
        }
        if !self.channel_categories.is_empty() && self.channel.is_none() {
            return Err(ConfigError::invalid(
                "channel_categories",
                "to be set only together with telegram.channel (the public channel they are posted to)",
            ));
        }
        if let Some(bad) = self
            .channel_categories
            .iter()
            .find(|c| !herold_channel_api::config::is_category_slug(c))
        {
            return Err(ConfigError::invalid(
                "channel_categories",
                format!("category slugs such as \"abfall\" (lower-case letters, digits and -, starting with a letter), not {bad:?}"),
            ));
        }
        if !(self.rate_per_second.is_finite()
            && self.rate_per_second > 0.0
            && self.rate_per_second <= MAX_RATE_PER_SECOND)
        {
            return Err(ConfigError::invalid(
                "rate_per_second",
                "a number above 0 and at most 1000 (Telegram allows about 30 messages per second)",
            ));
        }
        if self.mode == Mode::Webhook && self.webhook_secret.is_none() {
            return Err(ConfigError::invalid(
                "mode",
                "auto or polling when webhook_secret is not set (a webhook needs the secret to tell Telegram's requests from anyone's)",
            ));
        }
        if !(1..=MAX_POLL_TIMEOUT_SECONDS).contains(&self.poll_timeout_seconds) {
            return Err(ConfigError::invalid(
                "poll_timeout_seconds",
                "a number of seconds from 1 to 50 (Telegram's longest long poll)",
            ));
        }
        Ok(())
    }

    /// The bot token, from `token` or `token_file` (surrounding whitespace
    /// trimmed), checked for the form `<bot id>:<secret>`.
    pub fn resolve_token(&self) -> Result<Zeroizing<String>, ConfigError> {
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "token_file",
                    "to be unset when token is set (give the bot token one way only)",
                ))
            }
            (None, None) => {
                return Err(ConfigError::invalid(
                    "token",
                    "the bot token from @BotFather (or token_file naming a file that holds it)",
                ))
            }
            (Some(token), None) => Zeroizing::new(token.trim().to_owned()),
            (None, Some(path)) => {
                let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::TokenFileUnreadable {
                        path: path.display().to_string(),
                        source,
                    }
                })?);
                Zeroizing::new(raw.trim().to_owned())
            }
        };
        if !valid_token(&token) {
            let field = if self.token.is_some() {
                "token"
            } else {
                "token_file"
            };
            return Err(ConfigError::invalid(
                field,
                "a bot token of the form 123456789:AA… (digits, a colon, then letters, digits, _ or -)",
            ));
        }
        Ok(token)
    }
}

/// `<digits>:<A-Za-z0-9_->`, which also keeps the token safe inside a URL path.
fn valid_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

/// `@name` (5–32 of `A-Za-z0-9_`) or a numeric chat id such as `-1001234567890`.
fn valid_channel(channel: &str) -> bool {
    if let Some(name) = channel.strip_prefix('@') {
        (5..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    } else {
        channel.parse::<i64>().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:ABC-def_ghi";

    fn parse(toml_text: &str) -> Result<TelegramConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn defaults_and_minimal_config() {
        let c = parse(&format!("token = \"{TOKEN}\"")).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.rate_per_second, 30.0);
        assert!(c.webhook_secret.is_none() && c.channel.is_none());
        assert_eq!(c.mode, Mode::Auto);
        assert_eq!(c.poll_timeout_seconds, 25);
        c.validate().unwrap();
        assert_eq!(c.resolve_token().unwrap().as_str(), TOKEN);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse(&format!("token = \"{TOKEN}\"\npassword = \"x\"")).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn exactly_one_token_source() {
        let mut c = TelegramConfig::new(TOKEN);
        c.token_file = Some("/nonexistent".into());
        assert_eq!(c.validate().unwrap_err().field(), "token_file");
        c.token = None;
        c.token_file = None;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field(), "token");
        assert!(
            err.to_string().starts_with("telegram.token: expected"),
            "{err}"
        );
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("herold-tg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
        let c = TelegramConfig {
            token: None,
            token_file: Some(path.clone()),
            ..TelegramConfig::new("")
        };
        assert_eq!(c.resolve_token().unwrap().as_str(), TOKEN);
        std::fs::write(&path, "not a token").unwrap();
        let err = c.validate().unwrap_err();
        assert_eq!(err.field(), "token_file");
        assert!(!err.to_string().contains("not a token"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            c.validate().unwrap_err(),
            ConfigError::TokenFileUnreadable { .. }
        ));
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = TelegramConfig::new(TOKEN);
        let cases: Vec<(TelegramConfig, &str)> = vec![
            (TelegramConfig::new("no-colon"), "token"),
            (TelegramConfig::new("12:with/slash"), "token"),
            (
                TelegramConfig {
                    api_url: "ftp://x".into(),
                    ..base.clone()
                },
                "api_url",
            ),
            (
                TelegramConfig {
                    webhook_secret: Some(String::new()),
                    ..base.clone()
                },
                "webhook_secret",
            ),
            (
                TelegramConfig {
                    webhook_secret: Some("has space".into()),
                    ..base.clone()
                },
                "webhook_secret",
            ),
            (
                TelegramConfig {
                    webhook_secret: Some("a".repeat(257)),
                    ..base.clone()
                },
                "webhook_secret",
            ),
            (
                TelegramConfig {
                    channel: Some("musterstadt".into()),
                    ..base.clone()
                },
                "channel",
            ),
            (
                TelegramConfig {
                    rate_per_second: 0.0,
                    ..base.clone()
                },
                "rate_per_second",
            ),
        ];
        for (c, field) in cases {
            let err = c.validate().unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().contains(&format!("telegram.{field}")));
        }
        let good = TelegramConfig {
            webhook_secret: Some("a".repeat(256)),
            channel: Some("@musterstadt_info".into()),
            ..base.clone()
        };
        good.validate().unwrap();
        TelegramConfig {
            channel: Some("-1001234567890".into()),
            ..base
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn mode_picks_webhook_or_polling() {
        let with_secret = TelegramConfig {
            webhook_secret: Some("s3cret".into()),
            ..TelegramConfig::new(TOKEN)
        };
        assert!(!with_secret.receives_by_polling(true));
        assert!(with_secret.receives_by_polling(false), "no https: polling");
        assert!(
            TelegramConfig::new(TOKEN).receives_by_polling(true),
            "no secret: polling"
        );
        let polling = TelegramConfig {
            mode: Mode::Polling,
            ..with_secret.clone()
        };
        assert!(polling.receives_by_polling(true));
        let webhook = TelegramConfig {
            mode: Mode::Webhook,
            ..with_secret
        };
        assert!(!webhook.receives_by_polling(false));
        webhook.validate().unwrap();
        let parsed = parse(&format!("token = \"{TOKEN}\"\nmode = \"polling\"")).unwrap();
        assert_eq!(parsed.mode, Mode::Polling);
        assert!(parse(&format!("token = \"{TOKEN}\"\nmode = \"push\"")).is_err());
        let bad = TelegramConfig {
            mode: Mode::Webhook,
            ..TelegramConfig::new(TOKEN)
        };
        assert_eq!(bad.validate().unwrap_err().field(), "mode");
        for secs in [0, 51] {
            let bad = TelegramConfig {
                poll_timeout_seconds: secs,
                ..TelegramConfig::new(TOKEN)
            };
            assert_eq!(bad.validate().unwrap_err().field(), "poll_timeout_seconds");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let c = TelegramConfig {
            webhook_secret: Some("hook-secret".into()),
            ..TelegramConfig::new(TOKEN)
        };
        let dbg = format!("{c:?}");
        let shown = toml::to_string(&c).unwrap();
        for out in [dbg, shown] {
            assert!(
                !out.contains("ABC-def") && !out.contains("hook-secret"),
                "{out}"
            );
            assert!(out.contains("<redacted>"));
        }
    }
}
