//! Configuration of the WhatsApp channel (`[whatsapp]`) and its validation.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Default for [`WhatsAppConfig::api_url`]: Meta's Graph API.
pub const DEFAULT_API_URL: &str = "https://graph.facebook.com";
/// Default for [`WhatsAppConfig::api_version`].
pub const DEFAULT_API_VERSION: &str = "v23.0";
/// Default for [`WhatsAppConfig::rate_per_second`]: the Cloud API's
/// standard throughput per phone number.
pub const DEFAULT_RATE_PER_SECOND: f64 = 80.0;
/// Highest accepted [`WhatsAppConfig::rate_per_second`] (Meta raises the
/// throughput of a number to 1,000 on request).
const MAX_RATE_PER_SECOND: f64 = 1000.0;
/// Default for [`WhatsAppConfig::pair_spacing_seconds`]: Meta's pair rate,
/// about one message every six seconds to the same number.
pub const DEFAULT_PAIR_SPACING_SECONDS: u32 = 6;

/// What fills one parameter of a message template, in order (`{{1}}`,
/// `{{2}}`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The title (with the urgent label for warnings).
    Title,
    /// The start of the body as one line of plain text.
    Summary,
    /// The link to the announcement's page.
    Link,
    /// The town's name.
    Site,
}

/// One approved message template (WhatsApp Manager → Message templates).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name as approved, e.g. `gemeinde_info`.
    pub name: String,
    /// Its language code as approved, e.g. `de`.
    #[serde(default = "default_language")]
    pub language: String,
    /// What fills its body parameters, in order.
    #[serde(default = "default_parameters")]
    pub parameters: Vec<Field>,
}

fn default_language() -> String {
    "de".to_owned()
}

fn default_parameters() -> Vec<Field> {
    vec![Field::Title, Field::Summary, Field::Link]
}

/// The templates sent outside the 24-hour customer-service window
/// (`[whatsapp.templates]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// For announcements; required.
    pub broadcast: Template,
    /// For urgent warnings; the broadcast template if unset.
    #[serde(default)]
    pub urgent: Option<Template>,
    /// For digests; the broadcast template if unset.
    #[serde(default)]
    pub digest: Option<Template>,
}

/// Settings of the WhatsApp channel (`[whatsapp]` in the Herold
/// configuration).
///
/// `Debug` and serialisation hide the token, the app secret and the verify
/// token.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// A permanent access token of a system user with
    /// `whatsapp_business_messaging`; set this or `access_token_file`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub access_token: Option<String>,
    /// A file holding the access token.
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// The id of the business phone number messages are sent from (not the
    /// number itself). A string; a bare number (as environment variables
    /// give it) is taken too.
    #[serde(deserialize_with = "string_or_number")]
    pub phone_number_id: String,
    /// The Meta app's secret: webhooks are signed with it
    /// (`X-Hub-Signature-256`); set this or `app_secret_file`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub app_secret: Option<String>,
    /// A file holding the app secret.
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    /// The token Meta's webhook verification request must carry
    /// (chosen by you, entered in the app's webhook settings); set this or
    /// `verify_token_file`.
    #[serde(default, serialize_with = "herold_channel_api::config::redacted")]
    pub verify_token: Option<String>,
    /// A file holding the verify token.
    #[serde(default)]
    pub verify_token_file: Option<PathBuf>,
    /// Base URL of the Graph API (a test double in tests).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The Graph API version in every path, e.g. `v23.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Messages per second for this number (80; up to 1,000 when Meta has
    /// raised the number's throughput).
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: f64,
    /// Seconds between two messages to the same resident (Meta's pair
    /// rate, 1–60).
    #[serde(default = "default_pair_spacing_seconds")]
    pub pair_spacing_seconds: u32,
    /// The templates for residents outside the 24-hour window.
    pub templates: Templates,
    /// The business number as residents dial it, in international form
    /// (`+49 171 2345678`): the subscribe page links to
    /// `https://wa.me/<digits>?text=Start` and shows its QR code. Unset,
    /// the page shows no WhatsApp link.
    #[serde(default)]
    pub display_number: Option<String>,
}

/// A string, or an integer read as its digits.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Number(n) => n.to_string(),
    })
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_rate_per_second() -> f64 {
    DEFAULT_RATE_PER_SECOND
}

fn default_pair_spacing_seconds() -> u32 {
    DEFAULT_PAIR_SPACING_SECONDS
}

impl fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("WhatsAppConfig")
            .field("access_token", &hidden(&self.access_token))
            .field("access_token_file", &self.access_token_file)
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &hidden(&self.app_secret))
            .field("app_secret_file", &self.app_secret_file)
            .field("verify_token", &hidden(&self.verify_token))
            .field("verify_token_file", &self.verify_token_file)
            .field("api_url", &self.api_url)
            .field("api_version", &self.api_version)
            .field("rate_per_second", &self.rate_per_second)
            .field("pair_spacing_seconds", &self.pair_spacing_seconds)
            .field("display_number", &self.display_number)
            .field("templates", &self.templates)
            .finish()
    }
}

/// An invalid [`WhatsAppConfig`]; the message names the key and what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is missing, malformed or inconsistent with another key.
    #[error("whatsapp.{field}: expected {expected}")]
    Invalid {
        /// The offending key, e.g. `phone_number_id`.
        field: &'static str,
        /// What a valid value looks like.
        expected: String,
    },
    /// A secret file could not be read.
    #[error("whatsapp.{field}: cannot read {path}: {source}")]
    FileUnreadable {
        /// The key naming the file.
        field: &'static str,
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS backend).
    #[error("whatsapp: cannot build the HTTP client: {0}")]
    Client(String),
}

impl ConfigError {
    fn invalid(field: &'static str, expected: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field,
            expected: expected.into(),
        }
    }
}

/// The three secrets, read once.
pub(crate) struct Secrets {
    pub access_token: Zeroizing<String>,
    pub app_secret: Zeroizing<String>,
    pub verify_token: Zeroizing<String>,
}

impl WhatsAppConfig {
    /// The digits of `display_number` (country code first), if it is one.
    pub fn display_digits(&self) -> Option<String> {
        let n = self.display_number.as_deref()?.trim();
        let rest = n.strip_prefix('+')?;
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        {
            return None;
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        (8..=15).contains(&digits.len()).then_some(digits)
    }

    /// Checks every key and reads the secret files.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.secrets()?;
        if let Some(n) = &self.display_number {
            if self.display_digits().is_none() {
                return Err(ConfigError::invalid(
                    "display_number",
                    format!("an international number such as +49 171 2345678 (8 to 15 digits after +), not {n:?}"),
                ));
            }
        }
        let url = reqwest::Url::parse(&self.api_url).ok();
        if !url.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some()) {
            return Err(ConfigError::invalid(
                "api_url",
                "an http:// or https:// URL such as https://graph.facebook.com",
            ));
        }
        if !valid_version(&self.api_version) {
            return Err(ConfigError::invalid(
                "api_version",
                "a Graph API version such as v23.0",
            ));
        }
        if self.phone_number_id.is_empty()
            || self.phone_number_id.len() > 32
            || !self.phone_number_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ConfigError::invalid(
                "phone_number_id",
                "the numeric id of the business phone number (WhatsApp Manager → Phone numbers), not the number itself",
            ));
        }
        if !(self.rate_per_second.is_finite()
            && self.rate_per_second > 0.0
            && self.rate_per_second <= MAX_RATE_PER_SECOND)
        {
            return Err(ConfigError::invalid(
                "rate_per_second",
                "a number above 0 and at most 1000 (the Cloud API allows 80 messages per second per number unless Meta raised it)",
            ));
        }
        if !(1..=60).contains(&self.pair_spacing_seconds) {
            return Err(ConfigError::invalid(
                "pair_spacing_seconds",
                "a number of seconds from 1 to 60 (Meta allows about one message every 6 seconds to the same number)",
            ));
        }
        let templates = [
            ("templates.broadcast", Some(&self.templates.broadcast)),
            ("templates.urgent", self.templates.urgent.as_ref()),
            ("templates.digest", self.templates.digest.as_ref()),
        ];
        for (field, template) in templates {
            if let Some(t) = template {
                check_template(field, t)?;
            }
        }
        Ok(())
    }

    /// The access token, app secret and verify token, each from its key or
    /// its file (surrounding whitespace trimmed).
    pub(crate) fn secrets(&self) -> Result<Secrets, ConfigError> {
        let access_token = secret(
            ("access_token", &self.access_token),
            ("access_token_file", self.access_token_file.as_deref()),
            "a permanent access token of a system user (or access_token_file naming a file that holds it)",
        )?;
        if !access_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'|'))
        {
            return Err(ConfigError::invalid(
                "access_token",
                "an access token of letters, digits and _ - . | only",
            ));
        }
        let app_secret = secret(
            ("app_secret", &self.app_secret),
            ("app_secret_file", self.app_secret_file.as_deref()),
            "the Meta app's secret (App settings → Basic), or app_secret_file",
        )?;
        let verify_token = secret(
            ("verify_token", &self.verify_token),
            ("verify_token_file", self.verify_token_file.as_deref()),
            "the verify token entered in the app's webhook settings, or verify_token_file",
        )?;
        Ok(Secrets {
            access_token,
            app_secret,
            verify_token,
        })
    }

    /// The webhook checking requests with this configuration's app secret
    /// and verify token.
    pub fn webhook(&self) -> Result<crate::WhatsAppWebhook, ConfigError> {
        let s = self.secrets()?;
        Ok(
            crate::WhatsAppWebhook::new(s.app_secret.as_str(), s.verify_token.as_str())
                .with_pair_spacing(std::time::Duration::from_secs(u64::from(
                    self.pair_spacing_seconds,
                ))),
        )
    }

    /// The template for an announcement: urgent and digest fall back to
    /// the broadcast template.
    pub fn template(&self, urgent: bool, digest: bool) -> &Template {
        let t = &self.templates;
        let chosen = if urgent {
            t.urgent.as_ref()
        } else if digest {
            t.digest.as_ref()
        } else {
            None
        };
        chosen.unwrap_or(&t.broadcast)
    }

    /// `{api_url}/{api_version}/`, the prefix of every request.
    pub(crate) fn base(&self) -> String {
        format!(
            "{}/{}/",
            self.api_url.trim_end_matches('/'),
            self.api_version
        )
    }
}

/// A secret given inline or by file — exactly one of them, non-empty.
fn secret(
    inline: (&'static str, &Option<String>),
    file: (&'static str, Option<&Path>),
    expected: &str,
) -> Result<Zeroizing<String>, ConfigError> {
    let value = match (inline.1, file.1) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                file.0,
                format!(
                    "to be unset when {} is set (give it one way only)",
                    inline.0
                ),
            ))
        }
        (None, None) => return Err(ConfigError::invalid(inline.0, expected)),
        (Some(v), None) => Zeroizing::new(v.trim().to_owned()),
        (None, Some(path)) => {
            let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                ConfigError::FileUnreadable {
                    field: file.0,
                    path: path.display().to_string(),
                    source,
                }
            })?);
            Zeroizing::new(raw.trim().to_owned())
        }
    };
    if value.is_empty() {
        let field = if inline.1.is_some() { inline.0 } else { file.0 };
        return Err(ConfigError::invalid(field, expected));
    }
    Ok(value)
}

fn valid_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Template names are lower-case letters, digits and `_` (Meta's rule);
/// language codes like `de` or `en_US`.
fn check_template(field: &'static str, t: &Template) -> Result<(), ConfigError> {
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 512
        && t.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(ConfigError::invalid(
            field,
            format!(
                "a template name of lower-case letters, digits and _ as approved by Meta, not {:?}",
                t.name
            ),
        ));
    }
    let lang_ok = (2..=8).contains(&t.language.len())
        && t.language
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_');
    if !lang_ok {
        return Err(ConfigError::invalid(
            field,
            format!(
                "a template language code such as de or en_US, not {:?}",
                t.language
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<WhatsAppConfig, String> {
        toml::from_str::<WhatsAppConfig>(toml_text).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = r#"
        access_token = "EAAtoken"
        phone_number_id = "1234567890"
        app_secret = "app-secret"
        verify_token = "verify-me"
        [templates.broadcast]
        name = "gemeinde_info"
    "#;

    #[test]
    fn defaults_and_minimal_config() {
        let c = parse(MINIMAL).unwrap();
        c.validate().unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.api_version, DEFAULT_API_VERSION);
        assert_eq!(c.rate_per_second, 80.0);
        assert_eq!(c.pair_spacing_seconds, 6);
        let t = c.template(true, false);
        assert_eq!(t.name, "gemeinde_info");
        assert_eq!(t.language, "de");
        assert_eq!(
            t.parameters,
            vec![Field::Title, Field::Summary, Field::Link]
        );
        assert_eq!(c.base(), "https://graph.facebook.com/v23.0/");
    }

    #[test]
    fn urgent_and_digest_templates_are_chosen() {
        let c = parse(&format!(
            "{MINIMAL}\n[templates.urgent]\nname = \"warnung\"\nparameters = [\"title\", \"link\"]\n[templates.digest]\nname = \"ueberblick\"\nlanguage = \"en_US\"\n"
        ))
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.template(true, false).name, "warnung");
        assert_eq!(c.template(true, true).name, "warnung");
        assert_eq!(c.template(false, true).name, "ueberblick");
        assert_eq!(c.template(false, false).name, "gemeinde_info");
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = parse(MINIMAL).unwrap();
        type Change = Box<dyn Fn(&mut WhatsAppConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "whatsapp.phone_number_id",
                Box::new(|c| c.phone_number_id = "+49 151".into()),
            ),
            (
                "whatsapp.api_url",
                Box::new(|c| c.api_url = "ftp://x".into()),
            ),
            (
                "whatsapp.api_version",
                Box::new(|c| c.api_version = "23".into()),
            ),
            (
                "whatsapp.rate_per_second",
                Box::new(|c| c.rate_per_second = 5000.0),
            ),
            (
                "whatsapp.pair_spacing_seconds",
                Box::new(|c| c.pair_spacing_seconds = 0),
            ),
            ("whatsapp.access_token", Box::new(|c| c.access_token = None)),
            (
                "whatsapp.app_secret",
                Box::new(|c| c.app_secret = Some("  ".into())),
            ),
            (
                "whatsapp.verify_token_file",
                Box::new(|c| c.verify_token_file = Some("/x".into())),
            ),
            (
                "whatsapp.templates.broadcast",
                Box::new(|c| c.templates.broadcast.name = "Gemeinde Info".into()),
            ),
            (
                "whatsapp.templates.broadcast",
                Box::new(|c| c.templates.broadcast.language = "deutsch!".into()),
            ),
        ];
        for (key, change) in cases {
            let mut c = base.clone();
            change(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.starts_with(&format!("{key}:")), "{key}: {err}");
        }
    }

    #[test]
    fn a_numeric_phone_number_id_is_taken() {
        let c = parse(&MINIMAL.replace("\"1234567890\"", "1234567890")).unwrap();
        assert_eq!(c.phone_number_id, "1234567890");
    }

    #[test]
    fn unknown_keys_and_missing_templates_are_refused() {
        assert!(parse(&format!("{MINIMAL}\ntoken = \"x\"")).is_err());
        let no_templates = MINIMAL.split("[templates").next().unwrap();
        let err = parse(no_templates).unwrap_err();
        assert!(err.contains("templates"), "{err}");
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("herold-wa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "EAAfromfile\n").unwrap();
        let mut c = parse(MINIMAL).unwrap();
        c.access_token = None;
        c.access_token_file = Some(file);
        assert_eq!(c.secrets().unwrap().access_token.as_str(), "EAAfromfile");
        c.access_token_file = Some(dir.join("missing"));
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("whatsapp.access_token_file: cannot read"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn secrets_are_redacted() {
        let c = parse(MINIMAL).unwrap();
        let shown = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
        for secret in ["EAAtoken", "app-secret", "verify-me"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
