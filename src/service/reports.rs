//! Reports for the data-protection officer, built from the ledger and the
//! subscriber records.

use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;
use std::collections::BTreeMap;

use super::{Herold, ServiceError};
use crate::domain::{
    evidence_gap, ChannelConsent, ConsentCounts, ConsentReport, IncompleteEvidence,
};

impl Herold {
    /// The per-channel consent report for `from <= t < to`: the period's
    /// opt-ins, confirmations, withdrawals and erasures per channel and
    /// category, the subscribers active at its start and end, the consent
    /// wordings in use, and every subscriber in force at the end whose
    /// consent cannot be proven in full, by pseudonym.
    pub fn consent_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ConsentReport, ServiceError> {
        let mut by_category: BTreeMap<(ChannelKind, String), ConsentCounts> = BTreeMap::new();
        let mut wordings: BTreeMap<String, u64> = BTreeMap::new();
        let mut events_of: BTreeMap<ChannelKind, ConsentCounts> = BTreeMap::new();
        for e in self.db.consent_events_between(from, to)? {
            events_of.entry(e.channel).or_default().add(e.kind);
            for c in &e.categories {
                by_category
                    .entry((e.channel, c.clone()))
                    .or_default()
                    .add(e.kind);
            }
            *wordings.entry(e.wording_version.clone()).or_default() += 1;
        }
        let mut start: BTreeMap<ChannelKind, u64> = BTreeMap::new();
        for (_, channel, _) in self.db.subscribers_active_at(from)? {
            if let Ok(kind) = channel.parse::<ChannelKind>() {
                *start.entry(kind).or_default() += 1;
            }
        }
        let mut end: BTreeMap<ChannelKind, u64> = BTreeMap::new();
        let mut incomplete = Vec::new();
        let mut total = 0;
        for (id, channel, pseudonym) in self.db.subscribers_active_at(to)? {
            let Ok(kind) = channel.parse::<ChannelKind>() else {
                continue;
            };
            *end.entry(kind).or_default() += 1;
            total += 1;
            let events = self.db.consent_events_of(id)?;
            if let Some(missing) = evidence_gap(&events, kind == ChannelKind::Email) {
                incomplete.push(IncompleteEvidence {
                    pseudonym: pseudonym.unwrap_or_default(),
                    channel: kind,
                    missing: missing.to_owned(),
                });
            }
        }
        let kinds: std::collections::BTreeSet<ChannelKind> = events_of
            .keys()
            .chain(start.keys())
            .chain(end.keys())
            .copied()
            .collect();
        let channels: Vec<ChannelConsent> = kinds
            .into_iter()
            .map(|kind| ChannelConsent {
                channel: kind,
                events: events_of.get(&kind).cloned().unwrap_or_default(),
                by_category: by_category
                    .iter()
                    .filter(|((k, _), _)| *k == kind)
                    .map(|((_, c), counts)| (c.clone(), counts.clone()))
                    .collect(),
                active_at_start: start.get(&kind).copied().unwrap_or(0),
                active_at_end: end.get(&kind).copied().unwrap_or(0),
            })
            .collect();
        Ok(ConsentReport {
            from,
            to,
            channels,
            wording_versions: wordings.into_iter().collect(),
            evidence_complete: total - incomplete.len() as u64,
            evidence_total: total,
            incomplete,
        })
    }
}
