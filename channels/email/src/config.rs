//! Configuration of the email channel and its validation.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::build::Sender;
use crate::dkim;

/// Default for [`EmailConfig::pool_max_size`].
pub const DEFAULT_POOL_MAX_SIZE: u32 = 8;
/// Default for [`EmailConfig::timeout_seconds`].
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
/// Default for [`EmailConfig::rate_per_second`].
pub const DEFAULT_RATE_PER_SECOND: f64 = 20.0;
/// Default for [`EmailConfig::rate_burst`].
pub const DEFAULT_RATE_BURST: u32 = 20;
/// Default for [`EmailConfig::max_bounces`].
pub const DEFAULT_MAX_BOUNCES: u32 = 3;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// Plain connection upgraded with a mandatory `STARTTLS` (usually port 587).
    Starttls,
    /// No encryption at all. Only sensible for a relay on the same host or a
    /// trusted local network; credentials are refused unless the host is loopback.
    #[serde(rename = "none")]
    Plain,
}

impl Security {
    /// The conventional port for this security mode: 465, 587 or 25.
    pub const fn default_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::Plain => 25,
        }
    }
}

/// Settings of the email channel (`[email]` in the Herold configuration).
///
/// `Debug` and serialisation hide the password.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name or IP address.
    pub host: String,
    /// SMTP server port; defaults to [`Security::default_port`].
    #[serde(default)]
    pub port: Option<u16>,
    /// `"tls"`, `"starttls"` or `"none"`.
    pub security: Security,
    /// SMTP AUTH user name; must be set together with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP AUTH password; must be set together with `username`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub password: Option<String>,
    /// Sender mailbox, e.g. `Gemeinde Musterstadt <info@musterstadt.de>`.
    pub from: String,
    /// Optional `Reply-To` mailbox.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Most SMTP connections open at once, kept open for reuse; further
    /// sends wait for a free one.
    #[serde(default = "default_pool_max_size")]
    pub pool_max_size: u32,
    /// Timeout for connecting and for each SMTP command, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Sustained send rate the engine allows for this channel.
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: f64,
    /// Burst size of the channel's token bucket.
    #[serde(default = "default_rate_burst")]
    pub rate_burst: u32,
    /// Permanent failures (5xx bounces) in a row after which an address is
    /// no longer sent to: its subscription ends. Policy refusals (`5.7.x`)
    /// do not count; a delivery that gets through starts the count anew.
    #[serde(default = "default_max_bounces")]
    pub max_bounces: u32,
    /// Name sent in `EHLO`; defaults to this machine's host name.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// DKIM selector (`s=`); set all three DKIM keys or none.
    #[serde(default)]
    pub dkim_selector: Option<String>,
    /// DKIM signing domain (`d=`), normally the domain of `from`.
    #[serde(default)]
    pub dkim_domain: Option<String>,
    /// PEM file with the DKIM private key: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
    #[serde(default)]
    pub dkim_private_key_file: Option<PathBuf>,
}

fn default_pool_max_size() -> u32 {
    DEFAULT_POOL_MAX_SIZE
}
fn default_timeout_seconds() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}
fn default_rate_per_second() -> f64 {
    DEFAULT_RATE_PER_SECOND
}
fn default_rate_burst() -> u32 {
    DEFAULT_RATE_BURST
}
fn default_max_bounces() -> u32 {
    DEFAULT_MAX_BOUNCES
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("pool_max_size", &self.pool_max_size)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("rate_per_second", &self.rate_per_second)
            .field("rate_burst", &self.rate_burst)
            .field("max_bounces", &self.max_bounces)
            .field("hello_name", &self.hello_name)
            .field("dkim_selector", &self.dkim_selector)
            .field("dkim_domain", &self.dkim_domain)
            .field("dkim_private_key_file", &self.dkim_private_key_file)
            .finish()
    }
}

/// An invalid [`EmailConfig`]; the message names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is missing, malformed or inconsistent with another key.
    #[error("email.{field}: expected {expected}")]
    Invalid {
        /// The offending key, e.g. `from`.
        field: &'static str,
        /// What a valid value looks like.
        expected: String,
    },
    /// The DKIM key file could not be read.
    #[error("email.dkim_private_key_file: cannot read {path}: {source}")]
    KeyFileUnreadable {
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The configuration key the error is about (without the `email.` prefix).
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Invalid { field, .. } => field,
            ConfigError::KeyFileUnreadable { .. } => "dkim_private_key_file",
        }
    }

    fn invalid(field: &'static str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field,
            expected: expected.into(),
        }
    }
}

impl EmailConfig {
    /// A configuration with the given server and sender and defaults for everything else.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        security: Security,
        from: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: Some(port),
            security,
            username: None,
            password: None,
            from: from.into(),
            reply_to: None,
            pool_max_size: DEFAULT_POOL_MAX_SIZE,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            rate_burst: DEFAULT_RATE_BURST,
            max_bounces: DEFAULT_MAX_BOUNCES,
            hello_name: None,
            dkim_selector: None,
            dkim_domain: None,
            dkim_private_key_file: None,
        }
    }

    /// The port to connect to: the configured one or the default for `security`.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.security.default_port())
    }

    /// Checks every key, including that the DKIM key file can be read and parsed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.sender().map(|_| ())
    }

    /// Validates the configuration and prepares the sender identity (From,
    /// Reply-To, DKIM key) used to build messages.
    pub fn sender(&self) -> Result<Sender, ConfigError> {
        self.check_server()?;
        self.check_credentials()?;
        self.check_limits()?;
        let from = parse_mailbox(&self.from)
            .ok_or_else(|| ConfigError::invalid("from", r#"a mailbox like "Name <addr@host>""#))?;
        let reply_to = match &self.reply_to {
            Some(raw) => Some(parse_mailbox(raw).ok_or_else(|| {
                ConfigError::invalid("reply_to", r#"a mailbox like "Name <addr@host>""#)
            })?),
            None => None,
        };
        let dkim = self.dkim_config()?;
        Ok(Sender::new(from, reply_to, dkim))
    }

    fn check_server(&self) -> Result<(), ConfigError> {
        let host = self.host.trim();
        if host.is_empty()
            || host != self.host
            || host.contains("://")
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(ConfigError::invalid(
                "host",
                r#"a host name or IP address like "smtp.example.org""#,
            ));
        }
        if self.port == Some(0) {
            return Err(ConfigError::invalid(
                "port",
                "a TCP port between 1 and 65535",
            ));
        }
        if let Some(name) = &self.hello_name {
            if !is_domain_like(name) {
                return Err(ConfigError::invalid(
                    "hello_name",
                    r#"a fully qualified host name like "herold.example.org""#,
                ));
            }
        }
        Ok(())
    }

    fn check_credentials(&self) -> Result<(), ConfigError> {
        match (&self.username, &self.password) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(ConfigError::invalid(
                "password",
                "a password, since email.username is set",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                "username",
                "a user name, since email.password is set",
            )),
            (Some(user), Some(_)) if user.trim().is_empty() => {
                Err(ConfigError::invalid("username", "a non-empty user name"))
            }
            (Some(_), Some(_)) => {
                if self.security == Security::Plain && !is_loopback(&self.host) {
                    Err(ConfigError::invalid(
                        "security",
                        r#""tls" or "starttls" when credentials are set ("none" sends them in clear text; it is only allowed for a relay on localhost)"#,
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn check_limits(&self) -> Result<(), ConfigError> {
        if self.pool_max_size == 0 {
            return Err(ConfigError::invalid("pool_max_size", "at least 1"));
        }
        if !(1..=100).contains(&self.max_bounces) {
            return Err(ConfigError::invalid("max_bounces", "between 1 and 100"));
        }
        if !(1..=3600).contains(&self.timeout_seconds) {
            return Err(ConfigError::invalid(
                "timeout_seconds",
                "between 1 and 3600 seconds",
            ));
        }
        if !(self.rate_per_second.is_finite() && self.rate_per_second > 0.0) {
            return Err(ConfigError::invalid(
                "rate_per_second",
                "a positive number of mails per second",
            ));
        }
        if self.rate_burst == 0 {
            return Err(ConfigError::invalid("rate_burst", "at least 1"));
        }
        Ok(())
    }

    fn dkim_config(&self) -> Result<Option<lettre::message::dkim::DkimConfig>, ConfigError> {
        let (selector, domain, key_file) = match (
            &self.dkim_selector,
            &self.dkim_domain,
            &self.dkim_private_key_file,
        ) {
            (None, None, None) => return Ok(None),
            (Some(s), Some(d), Some(k)) => (s, d, k),
            (s, d, _) => {
                let missing = if s.is_none() {
                    "dkim_selector"
                } else if d.is_none() {
                    "dkim_domain"
                } else {
                    "dkim_private_key_file"
                };
                return Err(ConfigError::invalid(
                    missing,
                    "dkim_selector, dkim_domain and dkim_private_key_file to be set together (or none of them)",
                ));
            }
        };
        if !is_selector(selector) {
            return Err(ConfigError::invalid(
                "dkim_selector",
                r#"a DNS label like "herold2024" (letters, digits, '-', '_', dots between labels)"#,
            ));
        }
        if !is_domain_like(domain) {
            return Err(ConfigError::invalid(
                "dkim_domain",
                r#"a domain name like "musterstadt.de""#,
            ));
        }
        let pem = std::fs::read_to_string(key_file)
            .map(zeroize::Zeroizing::new)
            .map_err(|source| ConfigError::KeyFileUnreadable {
                path: key_file.display().to_string(),
                source,
            })?;
        let key = dkim::signing_key_from_pem(&pem).map_err(|reason| {
            ConfigError::invalid(
                "dkim_private_key_file",
                format!(
                    "an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key in PEM format ({reason})"
                ),
            )
        })?;
        Ok(Some(dkim::dkim_config(
            selector.clone(),
            domain.to_ascii_lowercase(),
            key,
        )))
    }
}

/// Parses `Name <addr@host>` or a bare address; `None` if it is not exactly one mailbox.
fn parse_mailbox(raw: &str) -> Option<Mailbox> {
    if raw.chars().any(char::is_control) {
        return None;
    }
    raw.trim().parse::<Mailbox>().ok()
}

/// Whether `host` is `localhost` or a loopback IP address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A DNS name with at least two labels of letters, digits and inner hyphens.
fn is_domain_like(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A DKIM selector: dot-separated labels of letters, digits, `-` and `_`.
fn is_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> EmailConfig {
        EmailConfig::new(
            "smtp.musterstadt.de",
            587,
            Security::Starttls,
            "Gemeinde Musterstadt <info@musterstadt.de>",
        )
    }

    fn err(cfg: &EmailConfig) -> ConfigError {
        match cfg.validate() {
            Ok(()) => panic!("expected {cfg:?} to be rejected"),
            Err(e) => e,
        }
    }

    #[test]
    fn valid_base_config() {
        base().validate().unwrap();
        let mut c = base();
        c.username = Some("herold".into());
        c.password = Some("geheim".into());
        c.reply_to = Some("Bürgerbüro <buergerbuero@musterstadt.de>".into());
        c.hello_name = Some("herold.musterstadt.de".into());
        c.validate().unwrap();
    }

    #[test]
    fn deserialize_with_defaults_and_reject_unknown_keys() {
        let c: EmailConfig = toml::from_str(
            r#"
                host = "mail.example.org"
                security = "tls"
                from = "a@example.org"
            "#,
        )
        .unwrap();
        assert_eq!(c.effective_port(), 465);
        assert_eq!(c.pool_max_size, DEFAULT_POOL_MAX_SIZE);
        assert_eq!(c.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
        c.validate().unwrap();
        let plain: EmailConfig = toml::from_str(
            r#"
                host = "127.0.0.1"
                port = 2525
                security = "none"
                from = "a@example.org"
            "#,
        )
        .unwrap();
        assert_eq!(plain.security, Security::Plain);
        assert_eq!(plain.effective_port(), 2525);

        let typo = toml::from_str::<EmailConfig>(
            "host = \"h.example\"\nsecurity = \"tls\"\nfrom = \"a@example.org\"\npasword = \"x\"",
        );
        assert!(typo.unwrap_err().to_string().contains("pasword"));
        let ssl = toml::from_str::<EmailConfig>(
            "host = \"h.example\"\nsecurity = \"ssl\"\nfrom = \"a@example.org\"",
        );
        assert!(ssl.is_err());
    }

    #[test]
    fn host_errors() {
        for bad in [
            "",
            " smtp.example.org",
            "smtp://example.org",
            "a b",
            "x\r\n",
        ] {
            let mut c = base();
            c.host = bad.into();
            let e = err(&c);
            assert_eq!(e.field(), "host", "{bad:?}");
            assert!(e.to_string().starts_with("email.host: expected"), "{e}");
        }
    }

    #[test]
    fn port_zero() {
        let mut c = base();
        c.port = Some(0);
        assert_eq!(
            err(&c).to_string(),
            "email.port: expected a TCP port between 1 and 65535"
        );
    }

    #[test]
    fn from_and_reply_to() {
        for bad in [
            "",
            "Gemeinde",
            "a@b@c",
            "Name <no-at-sign>",
            "x@y.de\r\nBcc: z@y.de",
        ] {
            let mut c = base();
            c.from = bad.into();
            assert_eq!(
                err(&c).to_string(),
                r#"email.from: expected a mailbox like "Name <addr@host>""#,
                "{bad:?}"
            );
        }
        let mut c = base();
        c.reply_to = Some("nicht gültig".into());
        assert_eq!(err(&c).field(), "reply_to");
    }

    #[test]
    fn credentials() {
        let mut c = base();
        c.username = Some("herold".into());
        assert_eq!(err(&c).field(), "password");
        let mut c = base();
        c.password = Some("x".into());
        assert_eq!(err(&c).field(), "username");
        let mut c = base();
        c.username = Some(" ".into());
        c.password = Some("x".into());
        assert_eq!(err(&c).field(), "username");

        let mut c = base();
        c.security = Security::Plain;
        c.username = Some("herold".into());
        c.password = Some("x".into());
        assert_eq!(err(&c).field(), "security");
        c.host = "localhost".into();
        c.validate().unwrap();
        c.host = "127.0.0.1".into();
        c.validate().unwrap();
        c.host = "::1".into();
        c.validate().unwrap();
    }

    #[test]
    fn password_is_redacted_in_debug() {
        let mut c = base();
        c.username = Some("herold".into());
        c.password = Some("streng-geheim".into());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("streng-geheim"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn limits() {
        let mut c = base();
        c.pool_max_size = 0;
        assert_eq!(err(&c).field(), "pool_max_size");
        let mut c = base();
        c.timeout_seconds = 0;
        assert_eq!(err(&c).field(), "timeout_seconds");
        let mut c = base();
        c.rate_per_second = f64::NAN;
        assert_eq!(err(&c).field(), "rate_per_second");
        c.rate_per_second = 0.0;
        assert_eq!(err(&c).field(), "rate_per_second");
        let mut c = base();
        c.rate_burst = 0;
        assert_eq!(err(&c).field(), "rate_burst");
        let mut c = base();
        c.hello_name = Some("localhost".into());
        assert_eq!(err(&c).field(), "hello_name");
    }

    #[test]
    fn dkim_half_configured() {
        let mut c = base();
        c.dkim_selector = Some("herold".into());
        let e = err(&c);
        assert_eq!(e.field(), "dkim_domain");
        assert!(e.to_string().contains("set together"), "{e}");
        c.dkim_domain = Some("musterstadt.de".into());
        assert_eq!(err(&c).field(), "dkim_private_key_file");
        let mut c = base();
        c.dkim_private_key_file = Some("/nonexistent".into());
        assert_eq!(err(&c).field(), "dkim_selector");
    }

    #[test]
    fn dkim_key_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = base();
        c.dkim_selector = Some("herold".into());
        c.dkim_domain = Some("musterstadt.de".into());
        c.dkim_private_key_file = Some(dir.path().join("missing.pem"));
        let e = err(&c);
        assert!(matches!(e, ConfigError::KeyFileUnreadable { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("email.dkim_private_key_file: cannot read"),
            "{e}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        c.dkim_private_key_file = Some(garbage);
        let e = err(&c);
        assert_eq!(e.field(), "dkim_private_key_file");
        assert!(e.to_string().contains("PEM"), "{e}");

        let good = dir.path().join("ed25519.pem");
        std::fs::write(&good, crate::dkim::tests::ed25519_pem()).unwrap();
        c.dkim_private_key_file = Some(good);
        c.validate().unwrap();
        c.dkim_selector = Some("bad selector".into());
        assert_eq!(err(&c).field(), "dkim_selector");
        c.dkim_selector = Some("herold".into());
        c.dkim_domain = Some("musterstadt".into());
        assert_eq!(err(&c).field(), "dkim_domain");
    }
}
