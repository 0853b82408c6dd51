use chrono::{DateTime, Utc};

use super::Id;

/// A record of something staff or the system did, for accountability.
/// Never contains addresses or message text; subjects are ids or pseudonyms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Id,
    /// `cli`, `system` or a staff user name.
    pub actor: String,
    /// Dotted verb, e.g. `announcement.publish`.
    pub action: String,
    /// What it was done to, e.g. `announcement:12`.
    pub subject: String,
    /// Short structured detail (JSON).
    pub details: String,
    pub occurred_at: DateTime<Utc>,
}

/// An audit event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
}

impl NewAuditEvent {
    /// An event with structured details.
    pub fn new(
        actor: &str,
        action: &str,
        subject: impl Into<String>,
        details: &serde_json::Value,
    ) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.into(),
            details: details.to_string(),
        }
    }
}
