//! The benchmark's subscribers, imported in bulk with their consent records.

use anyhow::Result;
use herold_channel_api::ChannelKind;

use crate::{domain::Id, service::CONSENT_WORDING_VERSION, storage::Database};

/// Imports `n` active subscribers of `category` on each of `channels`.
pub fn subscribers(db: &Database, channels: &[ChannelKind], n: usize, category: Id) -> Result<()> {
    for (i, ch) in channels.iter().enumerate() {
        let addresses: Vec<String> = (0..n)
            .map(|n| match ch {
                ChannelKind::Telegram => format!("{}", 100_000_000 + n),
                ChannelKind::Matrix => format!("!bench{n}:example.org"),
                ChannelKind::WhatsApp => format!("+49151{:08}", n),
                _ => format!("bench{n}.{i}@example.org"),
            })
            .collect();
        for chunk in addresses.chunks(50_000) {
            db.import_subscribers(*ch, chunk, category, CONSENT_WORDING_VERSION, "bench")?;
        }
    }
    Ok(())
}
