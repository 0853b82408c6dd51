//! The record of processing activities (Art. 30(1) GDPR), as Herold's
//! configuration describes it: one activity per purpose, with the data,
//! the people concerned, the recipients, transfers and retention, and the
//! technical and organisational measures in force.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The record, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessingRecord {
    pub generated_at: DateTime<Utc>,
    pub locale: String,
    /// The controller with address (Art. 30(1)(a)).
    pub controller: String,
    /// How to reach the data-protection officer; `None`: not configured.
    pub dpo_contact: Option<String>,
    pub activities: Vec<ProcessingActivity>,
    /// Technical and organisational measures in force (Art. 30(1)(g)).
    pub measures: Vec<String>,
    /// Settings that weaken protection and should be looked at.
    pub warnings: Vec<String>,
}

/// One processing activity.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessingActivity {
    /// A stable identifier, e.g. `channel.email`.
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub legal_basis: String,
    pub data_subjects: String,
    pub data_categories: Vec<String>,
    pub recipients: Vec<Recipient>,
    pub third_countries: String,
    /// When the data is deleted, with the configured periods.
    pub retention: Vec<String>,
}

/// Someone data is disclosed to.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub name: String,
    /// Processor, independent controller, or the public.
    pub role: String,
}
