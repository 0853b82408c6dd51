use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Images of announcements (`[media]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Largest image file accepted, in bytes (before metadata is stripped).
    pub max_image_bytes: u64,
}

/// 5 MiB: a good phone photo; feeds and messengers carry it without trouble.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// 50 MiB: above this an image is no longer fit for residents' phones (and
/// each one is read into memory whole).
const MAX_MAX_IMAGE_BYTES: u64 = 50 * 1024 * 1024;

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
        }
    }
}

impl MediaConfig {
    /// Checks the range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1024..=MAX_MAX_IMAGE_BYTES).contains(&self.max_image_bytes) {
            return Err(ConfigError::Invalid {
                key: "media.max_image_bytes",
                value: self.max_image_bytes.to_string(),
                expected: format!("a number of bytes from 1024 to {MAX_MAX_IMAGE_BYTES}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        assert!(MediaConfig::default().validate().is_ok());
        for bad in [0, 1023, MAX_MAX_IMAGE_BYTES + 1] {
            let err = MediaConfig {
                max_image_bytes: bad,
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(err.contains("media.max_image_bytes"), "{err}");
        }
    }
}
