//! The per-channel consent report for the data-protection officer: what
//! the ledger says happened in a period, who was subscribed at its start
//! and end, and whether every consent in force can be proven.

use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;
use serde::Serialize;

use super::{ConsentEvent, ConsentKind};

/// Consent events of one kind, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConsentCounts {
    pub given: u64,
    pub confirmed: u64,
    pub withdrawn: u64,
    pub erased: u64,
}

impl ConsentCounts {
    /// Counts one event.
    pub fn add(&mut self, kind: ConsentKind) {
        match kind {
            ConsentKind::Given => self.given += 1,
            ConsentKind::Confirmed => self.confirmed += 1,
            ConsentKind::Withdrawn => self.withdrawn += 1,
            ConsentKind::Erased => self.erased += 1,
        }
    }
}

/// One channel's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelConsent {
    pub channel: ChannelKind,
    /// Events in the period (an event naming several categories counts once).
    pub events: ConsentCounts,
    /// Events in the period by the category they name (an erasure names none).
    pub by_category: Vec<(String, ConsentCounts)>,
    pub active_at_start: u64,
    pub active_at_end: u64,
}

/// A subscriber in force at the period's end whose consent cannot be
/// proven in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncompleteEvidence {
    pub pseudonym: String,
    pub channel: ChannelKind,
    /// What is missing, in words.
    pub missing: String,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub channels: Vec<ChannelConsent>,
    /// The consent wordings the period's events were given under, with
    /// how many events each.
    pub wording_versions: Vec<(String, u64)>,
    /// Subscribers in force at the end whose consent is proven in full.
    pub evidence_complete: u64,
    /// Subscribers in force at the end.
    pub evidence_total: u64,
    pub incomplete: Vec<IncompleteEvidence>,
}

impl ConsentReport {
    /// The share of consents in force with complete evidence, in percent
    /// (100 when nobody is subscribed).
    pub fn evidence_share_pct(&self) -> f64 {
        if self.evidence_total == 0 {
            100.0
        } else {
            100.0 * self.evidence_complete as f64 / self.evidence_total as f64
        }
    }
}

/// What is missing from a subscriber's proof of consent, given their
/// ledger events (oldest first); `None` when it is complete: the latest
/// `given` event says what was agreed (categories, the wording's version),
/// when, and how (its evidence: the inbound message or the form); on a
/// channel with double opt-in (`needs_confirmation`) a `confirmed` event
/// with its evidence follows it.
pub fn evidence_gap(events: &[ConsentEvent], needs_confirmation: bool) -> Option<&'static str> {
    let Some(i) = events.iter().rposition(|e| e.kind == ConsentKind::Given) else {
        return Some("no consent recorded");
    };
    let given = &events[i];
    if given.evidence.as_deref().is_none_or(str::is_empty) {
        return Some("no evidence of how consent was given");
    }
    if given.wording_version.is_empty() {
        return Some("no version of the consent wording");
    }
    if given.categories.is_empty() {
        return Some("no categories agreed to");
    }
    if needs_confirmation
        && !events[i..].iter().any(|e| {
            e.kind == ConsentKind::Confirmed && e.evidence.as_deref().is_some_and(|v| !v.is_empty())
        })
    {
        return Some("no double opt-in confirmation");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: ConsentKind, evidence: Option<&str>, categories: &[&str]) -> ConsentEvent {
        ConsentEvent {
            id: 1,
            subscriber_id: Some(1),
            pseudonym: Some("K7Q2-M4".into()),
            channel: ChannelKind::Email,
            kind,
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            wording_version: "2026-11-de-1".into(),
            occurred_at: Utc::now(),
            evidence: evidence.map(str::to_owned),
        }
    }

    #[test]
    fn evidence_is_complete_only_with_what_how_and_confirmation() {
        let given = event(ConsentKind::Given, Some("form:1"), &["abfall"]);
        let confirmed = event(ConsentKind::Confirmed, Some("token:1"), &["abfall"]);
        assert_eq!(
            evidence_gap(&[given.clone(), confirmed.clone()], true),
            None
        );
        assert_eq!(evidence_gap(std::slice::from_ref(&given), false), None);
        assert_eq!(
            evidence_gap(std::slice::from_ref(&given), true),
            Some("no double opt-in confirmation")
        );
        // A confirmation before a later consent does not confirm it.
        assert_eq!(
            evidence_gap(&[given.clone(), confirmed, given.clone()], true),
            Some("no double opt-in confirmation")
        );
        assert_eq!(
            evidence_gap(&[event(ConsentKind::Given, None, &["abfall"])], false),
            Some("no evidence of how consent was given")
        );
        assert_eq!(
            evidence_gap(&[event(ConsentKind::Given, Some("x"), &[])], false),
            Some("no categories agreed to")
        );
        assert_eq!(evidence_gap(&[], false), Some("no consent recorded"));
    }
}
