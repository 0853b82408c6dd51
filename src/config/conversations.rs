use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Residents' reports and staff answers (`[conversations]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// When staff answer, as residents should read it in the automatic
    /// first reply, e.g. `Mo–Fr 8–12 Uhr`; unset, the reply names no hours.
    pub office_hours: Option<String>,
    /// The same hours as a schedule Herold can read, e.g. `Mo-Fr
    /// 08:00-12:00; Do 14:00-18:00` (town time zone): a report outside them
    /// gets a reply naming the next opening, and the inbox shows whether
    /// the office is open.
    pub office_schedule: Option<String>,
    /// Largest photo a resident may send, in bytes (as the provider serves
    /// it, before metadata is stripped); larger ones are refused politely
    /// and never downloaded whole.
    pub max_photo_bytes: u64,
}

/// 10 MiB: more than any messenger's compressed photo.
pub const DEFAULT_MAX_PHOTO_BYTES: u64 = 10 * 1024 * 1024;

/// 50 MiB: each photo is held in memory whole while it is checked.
const MAX_MAX_PHOTO_BYTES: u64 = 50 * 1024 * 1024;

impl Default for ConversationsConfig {
    fn default() -> Self {
        Self {
            office_hours: None,
            office_schedule: None,
            max_photo_bytes: DEFAULT_MAX_PHOTO_BYTES,
        }
    }
}

impl ConversationsConfig {
    /// The office schedule, if one is configured (checked at start).
    pub fn schedule(&self) -> Option<crate::domain::OfficeHours> {
        self.office_schedule
            .as_deref()
            .and_then(|s| crate::domain::OfficeHours::parse(s).ok())
    }

    /// One short line, if set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(h) = &self.office_hours {
            if h.trim().is_empty() || h.chars().count() > 200 || h.contains(['\n', '\r']) {
                return Err(ConfigError::Invalid {
                    key: "conversations.office_hours",
                    value: h.chars().take(40).collect(),
                    expected: "one line of at most 200 characters, e.g. \"Mo–Fr 8–12 Uhr\"".into(),
                });
            }
        }
        if let Some(s) = &self.office_schedule {
            crate::domain::OfficeHours::parse(s).map_err(|e| ConfigError::Invalid {
                key: "conversations.office_schedule",
                value: s.chars().take(60).collect(),
                expected: e.to_string(),
            })?;
        }
        if !(1024..=MAX_MAX_PHOTO_BYTES).contains(&self.max_photo_bytes) {
            return Err(ConfigError::Invalid {
                key: "conversations.max_photo_bytes",
                value: self.max_photo_bytes.to_string(),
                expected: format!("a number of bytes from 1024 to {MAX_MAX_PHOTO_BYTES}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_limit_range() {
        assert!(ConversationsConfig::default().validate().is_ok());
        for bad in [0, 1023, MAX_MAX_PHOTO_BYTES + 1] {
            let err = ConversationsConfig {
                max_photo_bytes: bad,
                ..ConversationsConfig::default()
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(err.contains("conversations.max_photo_bytes"), "{err}");
        }
    }
}
