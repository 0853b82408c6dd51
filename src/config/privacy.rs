use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::ErasureRecord;

/// The data-protection officer's settings (`[privacy]`): who is
/// responsible, as the record of processing activities names them, and
/// what the consent ledger keeps of an erased resident.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// The controller (Art. 4(7) GDPR) with postal address, e.g.
    /// "Gemeinde Musterstadt, Rathausplatz 1, 12345 Musterstadt"; unset:
    /// `site_name`.
    pub controller: Option<String>,
    /// How to reach the data-protection officer (name, e-mail or address).
    pub dpo_contact: Option<String>,
    /// Who runs the server Herold and its database are on (a processor when
    /// it is not the municipality itself), e.g. "Kommunales Rechenzentrum".
    pub hosting: Option<String>,
    /// The company behind the SMTP server, if it is a processor, e.g.
    /// "Beispiel Mail GmbH, Berlin"; unset: the SMTP host is named.
    pub email_provider: Option<String>,
    /// What the consent ledger keeps of an erased resident.
    pub erasure_record: ErasureRecord,
    /// The town's own privacy notice (https URL); unset, the public pages
    /// link to `/privacy`, generated from the record of processing
    /// activities.
    pub notice_url: Option<String>,
    /// The town's imprint (Impressum, https URL), linked from every public
    /// page.
    pub imprint_url: Option<String>,
}

impl PrivacyConfig {
    /// Each text is one line of reasonable length; links are http(s) URLs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("privacy.notice_url", &self.notice_url),
            ("privacy.imprint_url", &self.imprint_url),
        ] {
            if let Some(v) = v {
                let ok = url::Url::parse(v).is_ok_and(|u| {
                    matches!(u.scheme(), "https" | "http") && u.host_str().is_some()
                });
                if !ok {
                    return Err(ConfigError::Invalid {
                        key,
                        value: v.chars().take(60).collect(),
                        expected: "an http(s) URL such as https://www.musterstadt.de/impressum"
                            .into(),
                    });
                }
            }
        }
        for (key, v) in [
            ("privacy.controller", &self.controller),
            ("privacy.dpo_contact", &self.dpo_contact),
            ("privacy.hosting", &self.hosting),
            ("privacy.email_provider", &self.email_provider),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() || v.chars().count() > 300 || v.contains(['\n', '\r']) {
                    return Err(ConfigError::Invalid {
                        key,
                        value: v.chars().take(40).collect(),
                        expected: "one line of at most 300 characters".into(),
                    });
                }
            }
        }
        Ok(())
    }
}
