use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;

use super::{DomainError, Id};

/// What happened to a resident's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    /// Consent given (e.g. START, sign-up form).
    Given,
    /// Consent confirmed (double opt-in completed).
    Confirmed,
    /// Consent withdrawn (STOP, unsubscribe link).
    Withdrawn,
    /// The subscriber asked to be erased; earlier events were anonymised.
    Erased,
}

impl ConsentKind {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Confirmed => "confirmed",
            Self::Withdrawn => "withdrawn",
            Self::Erased => "erased",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "given" => Self::Given,
            "confirmed" => Self::Confirmed,
            "withdrawn" => Self::Withdrawn,
            "erased" => Self::Erased,
            _ => {
                return Err(DomainError::Invalid {
                    field: "consent kind",
                    value: s.to_owned(),
                    expected: "given, confirmed, withdrawn or erased",
                })
            }
        })
    }
}

/// One entry of the append-only consent ledger. After erasure the
/// subscriber reference, pseudonym and evidence are gone but the event
/// remains, so per-channel consent counts stay provable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub id: Id,
    pub subscriber_id: Option<Id>,
    pub pseudonym: Option<String>,
    pub channel: ChannelKind,
    pub kind: ConsentKind,
    /// Category slugs the consent covers.
    pub categories: Vec<String>,
    /// Version of the consent text shown to the resident.
    pub wording_version: String,
    pub occurred_at: DateTime<Utc>,
    /// Where the proof is, e.g. `inbound:1234` or `form:2026-11-23T10:00Z`.
    pub evidence: Option<String>,
}

/// A consent event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsentEvent {
    pub subscriber_id: Id,
    pub channel: ChannelKind,
    pub kind: ConsentKind,
    pub categories: Vec<String>,
    pub wording_version: String,
    pub occurred_at: DateTime<Utc>,
    pub evidence: Option<String>,
}

/// The form of an erased resident's entries in the consent ledger. Either
/// way the address, its keyed hash and the evidence (message references,
/// confirmation) are gone; the kinds, dates, channel, topics and wording
/// versions stay, so the counts of the consent report remain right.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ErasureRecord {
    /// Nothing links the entries to each other or to a person.
    #[default]
    Anonymous,
    /// The entries keep the resident's pseudonym, so the sequence (given,
    /// confirmed, withdrawn, erased) of one former subscriber can still be
    /// shown; the pseudonym is random and the link to the address is gone.
    Pseudonymous,
}

impl ErasureRecord {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Pseudonymous => "pseudonymous",
        }
    }
}
