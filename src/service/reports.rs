//! Reports for the data-protection officer, built from the ledger and the
//! subscriber records.

use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;
use std::collections::BTreeMap;

use super::{Herold, ServiceError};
use crate::domain::{
    evidence_gap, flag_gaps, AnnouncementParity, ChannelConsent, ConsentCounts, ConsentReport,
    IncompleteEvidence, ParityChannel, ParityKind, ParityReport,
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
        let active = self.db.subscribers_active_at(to)?;
        let ids: Vec<i64> = active.iter().map(|(id, _, _)| *id).collect();
        let mut ledger = self.db.consent_events_of_many(&ids)?;
        for (id, channel, pseudonym) in active {
            let Ok(kind) = channel.parse::<ChannelKind>() else {
                continue;
            };
            *end.entry(kind).or_default() += 1;
            total += 1;
            let events = ledger.remove(&id).unwrap_or_default();
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

impl Herold {
    /// The parity report for announcements published in `from <= t < to`:
    /// for each, every channel — push, follow and manual — with how many
    /// messages were handed over, failed or are pending, and when the
    /// first and last went out; a configured channel that did not carry
    /// it, a manual channel not posted, or one whose first hand-over came
    /// more than `gap_minutes` after the fastest channel's is flagged.
    pub fn parity_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        gap_minutes: u32,
    ) -> Result<ParityReport, ServiceError> {
        let mut announcements = Vec::new();
        for a in self.db.published_between(from, to, Utc::now())? {
            let broadcast = self.db.broadcast_channels_of(a.id)?;
            let in_digest = broadcast.is_empty() && self.db.digest_of(a.category_id)?.is_some();
            let mut channels: BTreeMap<(String, Option<String>), ParityChannel> = BTreeMap::new();
            if !in_digest {
                let configured = self
                    .config
                    .delivery
                    .channels
                    .iter()
                    .map(|k| k.as_str().to_owned());
                let carried: Vec<String> = broadcast.iter().map(|(c, _)| c.clone()).collect();
                for channel in carried.iter().cloned().chain(configured) {
                    let state = broadcast
                        .iter()
                        .find(|(c, _)| *c == channel)
                        .map(|(_, s)| s.as_str());
                    let gap = match state {
                        None => Some("did not carry it".to_owned()),
                        Some("cancelled") => Some("cancelled".to_owned()),
                        Some("paused") => Some("paused".to_owned()),
                        _ => None,
                    };
                    channels
                        .entry((channel.clone(), None))
                        .or_insert_with(|| ParityChannel {
                            channel: channel.clone(),
                            kind: ParityKind::Push,
                            handed_over: 0,
                            failed: 0,
                            pending: 0,
                            first: None,
                            last: None,
                            gap,
                        });
                }
            }
            for h in self.db.handovers_of(a.id)? {
                let label = match &h.target {
                    Some(place) => format!("{} → {place}", h.channel),
                    None => h.channel.clone(),
                };
                let row = channels
                    .entry((h.channel.clone(), h.target.clone()))
                    .or_insert_with(|| ParityChannel {
                        channel: label,
                        kind: if h.target.is_some() {
                            ParityKind::Follow
                        } else {
                            ParityKind::Push
                        },
                        handed_over: 0,
                        failed: 0,
                        pending: 0,
                        first: None,
                        last: None,
                        gap: None,
                    });
                match h.state.as_str() {
                    "sent" | "delivered" | "read" => {
                        row.handed_over += h.count;
                        row.first = row.first.into_iter().chain(h.first).min();
                        row.last = row.last.into_iter().chain(h.last).max();
                    }
                    "failed" => row.failed += h.count,
                    "queued" | "sending" => row.pending += h.count,
                    _ => {}
                }
            }
            let mut rows: Vec<ParityChannel> = channels.into_values().collect();
            for p in self.db.manual_posts_of(a.id)? {
                rows.push(ParityChannel {
                    channel: p.channel,
                    kind: ParityKind::Manual,
                    handed_over: u64::from(p.posted_at.is_some()),
                    failed: 0,
                    pending: 0,
                    first: p.posted_at,
                    last: p.posted_at,
                    gap: None,
                });
            }
            flag_gaps(&mut rows, gap_minutes);
            announcements.push(AnnouncementParity {
                id: a.id,
                title: a.title,
                published_at: a.publish_at,
                in_digest,
                channels: rows,
            });
        }
        Ok(ParityReport {
            from,
            to,
            gap_minutes,
            announcements,
        })
    }
}
