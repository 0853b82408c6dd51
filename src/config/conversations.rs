use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Residents' reports and staff answers (`[conversations]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// When staff answer, as residents should read it in the automatic
    /// first reply, e.g. `Mo–Fr 8–12 Uhr`; unset, the reply names no hours.
    pub office_hours: Option<String>,
    /// Days a closed conversation is kept (its messages included) before it
    /// is deleted: the data is needed only until the case is done.
    pub retention_days: u32,
}

impl Default for ConversationsConfig {
    fn default() -> Self {
        Self {
            office_hours: None,
            retention_days: 30,
        }
    }
}

impl ConversationsConfig {
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
        if self.retention_days == 0 || self.retention_days > 3650 {
            return Err(ConfigError::Invalid {
                key: "conversations.retention_days",
                value: self.retention_days.to_string(),
                expected: "a number of days from 1 to 3650".into(),
            });
        }
        Ok(())
    }
}
