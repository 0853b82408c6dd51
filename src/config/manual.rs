//! Manual channels (`[[manual]]`): places staff post announcements to by
//! hand because they have no sending API — the WhatsApp Channel, a notice
//! board. Herold offers the text ready to paste and records who posted it
//! when, so the parity record counts them like every other channel.

use serde::{Deserialize, Serialize};

/// How the copy for a manual channel is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManualFormat {
    /// Plain text (a notice board, a website without markup).
    #[default]
    Plain,
    /// WhatsApp markup (`*bold*`, `_italic_`), e.g. for a WhatsApp Channel.
    WhatsApp,
}

/// One manual channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualChannelConfig {
    /// Its id in commands and records, e.g. `whatsapp-channel`: lower-case
    /// letters, digits and `-`.
    pub id: String,
    /// Its name for staff, e.g. `WhatsApp-Kanal der Gemeinde`.
    pub name: String,
    /// How its copy is written.
    #[serde(default)]
    pub format: ManualFormat,
    /// The category slugs posted there; empty (the default): every one.
    #[serde(default)]
    pub categories: Vec<String>,
}

impl ManualChannelConfig {
    /// Whether announcements of `category` (a slug) are posted here.
    pub fn carries(&self, category: &str) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category)
    }

    /// Checks the entry at `index` of `manual`: the message names the key.
    pub(super) fn validate(&self, index: usize) -> Result<(), super::ConfigError> {
        let key = |k: &str| format!("manual[{index}].{k}");
        if !herold_channel_api::config::is_category_slug(&self.id) {
            return Err(super::ConfigError::Parse(format!(
                "{}: expected an id of lower-case letters, digits and - such as whatsapp-channel, not {:?}",
                key("id"),
                self.id
            )));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(super::ConfigError::Parse(format!(
                "{}: expected a name of 1 to 100 characters",
                key("name")
            )));
        }
        if let Some(bad) = self
            .categories
            .iter()
            .find(|c| !herold_channel_api::config::is_category_slug(c))
        {
            return Err(super::ConfigError::Parse(format!(
                "{}: expected category slugs such as \"abfall\", not {bad:?}",
                key("categories")
            )));
        }
        Ok(())
    }
}
