//! Everything Herold holds about one resident, as one JSON document
//! (Art. 15 and 20 GDPR): the subscription with the address in clear, the
//! topics, the consent history, every delivery, and the conversations with
//! their messages and photos' metadata.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Herold, SignupError};
use crate::{
    domain::{Id, NewAuditEvent, SubscriberStatus, TokenPurpose},
    storage::StorageError,
};

/// The export.
#[derive(Debug, Serialize)]
pub struct SubscriberExport {
    pub exported_at: DateTime<Utc>,
    pub service: String,
    pub subscription: ExportedSubscription,
    pub topics: Vec<ExportedTopic>,
    pub consent: Vec<ExportedConsent>,
    pub deliveries: Vec<ExportedDelivery>,
    pub conversations: Vec<ExportedConversation>,
}

#[derive(Debug, Serialize)]
pub struct ExportedSubscription {
    pub channel: String,
    pub address: Option<String>,
    pub pseudonym: String,
    pub language: String,
    pub status: String,
    pub subscribed_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub last_wrote_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct ExportedTopic {
    pub slug: String,
    pub name: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ExportedConsent {
    pub kind: String,
    pub topics: Vec<String>,
    pub wording_version: String,
    pub at: DateTime<Utc>,
    pub evidence: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportedDelivery {
    pub announcement: Id,
    pub title: String,
    pub state: String,
    pub attempts: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ExportedConversation {
    pub number: Id,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub messages: Vec<ExportedMessage>,
}

#[derive(Debug, Serialize)]
pub struct ExportedMessage {
    /// `in` from the resident, `out` to them.
    pub direction: String,
    pub text: Option<String>,
    pub at: DateTime<Utc>,
    pub photos: Vec<ExportedPhoto>,
}

#[derive(Debug, Serialize)]
pub struct ExportedPhoto {
    pub number: Id,
    pub mime_type: String,
    pub bytes: u64,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl Herold {
    /// Everything held about subscriber `id`, recorded in the audit log as
    /// exported by `actor` (the subject is the pseudonym, never the address).
    pub fn export_subscriber(&self, id: Id, actor: &str) -> Result<SubscriberExport, StorageError> {
        let s = self.db.get_subscriber(id)?;
        let address = self.db.subscriber_address(id)?;
        let last_wrote = self.db.last_inbound_of(&[id])?.remove(&id);
        let categories = self.db.list_categories()?;
        let topics = self
            .db
            .subscriptions_of(id)?
            .into_iter()
            .filter_map(|sub| {
                categories
                    .iter()
                    .find(|c| c.id == sub.category_id)
                    .map(|c| ExportedTopic {
                        slug: c.slug.as_str().to_owned(),
                        name: c.name.clone(),
                        since: sub.created_at,
                    })
            })
            .collect();
        let consent = self
            .db
            .consent_events_of(id)?
            .into_iter()
            .map(|e| ExportedConsent {
                kind: e.kind.as_str().to_owned(),
                topics: e.categories,
                wording_version: e.wording_version,
                at: e.occurred_at,
                evidence: e.evidence,
            })
            .collect();
        let mut deliveries = Vec::new();
        for d in self.db.deliveries_to(id)? {
            let title = match self.db.get_announcement(d.announcement_id) {
                Ok((a, _)) => a.title,
                Err(StorageError::NotFound { .. }) => String::new(),
                Err(e) => return Err(e),
            };
            deliveries.push(ExportedDelivery {
                announcement: d.announcement_id,
                title,
                state: d.state.as_str().to_owned(),
                attempts: d.attempts,
                updated_at: d.updated_at,
            });
        }
        let mut conversations = Vec::new();
        for c in self.db.conversations_of(id)? {
            let photos = self.db.photos_of(c.id)?;
            let messages = self
                .db
                .messages_of(c.id)?
                .into_iter()
                .map(|m| ExportedMessage {
                    direction: m.direction.as_str().to_owned(),
                    photos: photos
                        .iter()
                        .filter(|p| p.message_id == m.id)
                        .map(|p| ExportedPhoto {
                            number: p.id,
                            mime_type: p.format.mime_type().to_owned(),
                            bytes: p.byte_length,
                            sha256: p.sha256.clone(),
                            width: p.width,
                            height: p.height,
                        })
                        .collect(),
                    text: m.text,
                    at: m.created_at,
                })
                .collect();
            conversations.push(ExportedConversation {
                number: c.id,
                status: c.status.as_str().to_owned(),
                opened_at: c.created_at,
                messages,
            });
        }
        self.db.record_audit(&NewAuditEvent::new(
            actor,
            "subscriber.export",
            format!("subscriber:{}", s.pseudonym.as_str()),
            &serde_json::json!({"channel": s.channel.as_str()}),
        ))?;
        Ok(SubscriberExport {
            exported_at: Utc::now(),
            service: self.config.site_name.clone(),
            subscription: ExportedSubscription {
                channel: s.channel.as_str().to_owned(),
                address,
                pseudonym: s.pseudonym.as_str().to_owned(),
                language: s.locale,
                status: s.status.as_str().to_owned(),
                subscribed_at: s.created_at,
                confirmed_at: s.confirmed_at,
                ended_at: s.ended_at,
                last_wrote_at: last_wrote,
            },
            topics,
            consent,
            deliveries,
            conversations,
        })
    }
}

/// How long a download link sent in reply to "Daten" works.
pub const DATA_LINK_TTL_MINUTES: i64 = 60;

impl Herold {
    /// The resident's own export, through their manage link (recorded in
    /// the audit log as exported by `resident`).
    pub fn export_by_manage_token(&self, token: &str) -> Result<SubscriberExport, SignupError> {
        let t = self.manage_token_row(token)?;
        self.own_export(t.subscriber_id)
    }

    /// A single-use link, valid for [`DATA_LINK_TTL_MINUTES`], to download
    /// the data of subscriber `id` (the reply to "Daten").
    pub fn data_link(&self, id: Id) -> Result<String, StorageError> {
        let now = Utc::now();
        let token = self.db.issue_export_token(
            id,
            now,
            now + chrono::Duration::minutes(DATA_LINK_TTL_MINUTES),
        )?;
        Ok(self.public_url(&format!("data/{token}")))
    }

    /// Whether the download link `token` can still be used.
    pub fn data_link_valid(&self, token: &str, now: DateTime<Utc>) -> Result<bool, SignupError> {
        Ok(self
            .stored_token(TokenPurpose::Export, token)?
            .is_some_and(|t| t.used_at.is_none() && t.expires_at.is_some_and(|e| e > now)))
    }

    /// Uses the download link `token` (once, before it expires): the export.
    pub fn export_by_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<SubscriberExport, SignupError> {
        let t = self
            .stored_token(TokenPurpose::Export, token)?
            .filter(|t| t.expires_at.is_some_and(|e| e > now))
            .ok_or(SignupError::UnknownToken)?;
        if !self.db.use_confirm_token(t.id, now)? {
            return Err(SignupError::UnknownToken);
        }
        self.own_export(t.subscriber_id)
    }

    fn own_export(&self, id: Id) -> Result<SubscriberExport, SignupError> {
        if self.db.get_subscriber(id)?.status == SubscriberStatus::Erased {
            return Err(SignupError::UnknownToken);
        }
        Ok(self.export_subscriber(id, "resident")?)
    }
}
