//! Secrets as systemd credentials: with `$CREDENTIALS_DIRECTORY` set (by
//! `LoadCredential=` in the unit, see `deploy/herold.service`), a file there
//! named after a secret key, e.g. `email.password`, sets that key. Only the
//! keys in [`CREDENTIAL_KEYS`] are read; other files are ignored. Secrets
//! Herold reads from a file path anyway (`secret_key_file`,
//! `telegram.token_file`, …) are pointed at the directory with
//! `Environment=HEROLD_TELEGRAM__TOKEN_FILE=%d/telegram.token` instead.

use figment::providers::Serialized;
use std::path::Path;

use super::ConfigError;

/// The secret keys that a credential file of the same name sets.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "secret_key",
    "metrics_token",
    "email.password",
    "telegram.token",
    "telegram.webhook_secret",
    "matrix.password",
    "matrix.access_token",
    "whatsapp.access_token",
    "whatsapp.app_secret",
    "whatsapp.verify_token",
];

/// The keys holding the path of a file with a secret; under systemd they
/// point into `$CREDENTIALS_DIRECTORY` (`%d/…`).
pub const SECRET_FILE_KEYS: &[&str] = &[
    "secret_key_file",
    "email.dkim_private_key_file",
    "telegram.token_file",
    "matrix.password_file",
    "matrix.access_token_file",
    "whatsapp.access_token_file",
    "whatsapp.app_secret_file",
    "whatsapp.verify_token_file",
];

/// The settings found in `dir` (the credentials directory), as a provider
/// to merge over the configuration file.
pub(super) fn provider(dir: Option<&Path>) -> Result<Serialized<serde_json::Value>, ConfigError> {
    let mut root = serde_json::Map::new();
    if let Some(dir) = dir {
        for key in CREDENTIAL_KEYS {
            let path = dir.join(key);
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::Parse(format!(
                    "credential {key} ({}) cannot be read: {e}",
                    path.display()
                ))
            })?;
            let value = serde_json::Value::String(text.trim_end_matches(['\n', '\r']).to_owned());
            match key.split_once('.') {
                Some((section, field)) => {
                    let entry = root
                        .entry(section.to_owned())
                        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                    if let serde_json::Value::Object(m) = entry {
                        m.insert(field.to_owned(), value);
                    }
                }
                None => {
                    root.insert((*key).to_owned(), value);
                }
            }
        }
    }
    Ok(Serialized::defaults(serde_json::Value::Object(root)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use figment::{providers::Format, Figment};

    #[test]
    fn credential_files_set_their_keys_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics_token"), "scrape-me\n").unwrap();
        std::fs::write(dir.path().join("email.password"), "smtp-geheim\n").unwrap();
        std::fs::write(dir.path().join("unrelated"), "x").unwrap();
        let toml = r#"
            [email]
            host = "mail.example.org"
            security = "starttls"
            from = "Gemeinde <info@example.org>"
            username = "herold"
        "#;
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(figment::providers::Toml::string(toml))
            .merge(provider(Some(dir.path())).unwrap())
            .extract()
            .unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.metrics_token.as_ref().map(|s| s.expose()),
            Some("scrape-me")
        );
        let email = config.email.unwrap();
        assert_eq!(email.password.as_deref(), Some("smtp-geheim"));
        assert_eq!(email.host, "mail.example.org");
        // No directory, no settings.
        let none: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(provider(None).unwrap())
            .extract()
            .unwrap();
        assert!(none.metrics_token.is_none() && none.email.is_none());
    }
}
