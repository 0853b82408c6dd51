//! Use cases shared by the CLI and the web layer: they check input against
//! the model, call storage and record an audit trail.

mod calendar;
mod compose;
mod control;
mod conversations;
mod digests;
mod erasure;
mod export;
mod feeds;
mod inbound;
mod manual;
mod media;
mod pages;
pub mod period;
mod photos;
mod processing;
mod progress;
mod receipts;
mod reply_templates;
mod reports;
mod residents;
mod retention;
mod signup;
mod staff;
mod statistics;
mod stop;
mod test_send;

pub use compose::{DraftOutcome, ImageUpload, SavedDraft};
pub use conversations::{ConversationView, InboxEntry};
pub use export::SubscriberExport;
pub use feeds::{last_modified, FeedDocument, FeedFormat, FeedName, FeedScope};
pub use inbound::InboundOutcome;
pub use media::image_path;
pub use pages::PublicAnnouncement;
pub use photos::PhotoFetch;
pub use progress::{ChannelProgress, Progress};
pub use receipts::ReceiptSummary;
pub use residents::{CommandOutcome, ResidentCommand};
pub use retention::RetentionCounts;
pub use signup::{
    ConfirmOutcome, ManageLinks, ManageView, SignupError, SignupOutcome, UnsubscribeOutcome,
    EVIDENCE_ONE_CLICK, EVIDENCE_WEB_FORM,
};
pub use staff::{SignInAttempt, SignInError, SignedIn, StaffError};
pub use statistics::{Reach, Span, Statistics};
pub use test_send::TestMessage;

use chrono::{DateTime, Utc};
use herold_channel_api::{ChannelKind, FollowRoute};
use std::sync::Arc;
use thiserror::Error;

use crate::{
    config::Config,
    domain::{
        Announcement, Category, ChannelPlan, DomainError, Id, NewAnnouncement, NewAuditEvent,
        NewImage, Slug,
    },
    storage::{Database, Removed, StorageError},
};

/// Version of the consent wording residents are shown; recorded with every
/// consent event.
pub const CONSENT_WORDING_VERSION: &str = "2026-11-de-1";

/// Why a use case could not be carried out.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The named category does not exist.
    #[error("unknown category \"{slug}\": expected one of {known}")]
    UnknownCategory { slug: String, known: String },
    /// The input breaks a rule of the model.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Storage failed or refused.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// No manual channel has this id.
    #[error("unknown manual channel \"{id}\": expected one of {known}")]
    UnknownManualChannel { id: String, known: String },
    /// A draft cannot be published as it is.
    #[error("the draft has {} problem(s)", .0.len())]
    Draft(Vec<crate::domain::Problem>),
    /// The action does not fit the current state (the message says why).
    #[error("{0}")]
    Refused(String),
    /// Four eyes: the author or submitter of a draft cannot release it.
    #[error("a second editor must approve this draft: its author or submitter cannot")]
    OwnApproval,
    /// A template failed to render.
    #[error("rendering failed: {0}")]
    Render(String),
}

/// What staff want to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub category: String,
    pub title: String,
    pub body: String,
    pub urgent: bool,
    /// `None` publishes now.
    pub at: Option<DateTime<Utc>>,
    /// The announcement this corrects.
    pub corrects: Option<Id>,
    /// Who publishes (`cli` or a staff user name).
    pub author: String,
    /// The event it announces (for residents' calendars).
    pub event: Option<crate::domain::Event>,
}

/// The application: configuration plus database. Staff actions that
/// change state go through its methods, which record their audit event in
/// the same transaction; the database handle is open for reading.
#[derive(Debug, Clone)]
pub struct Herold {
    config: Config,
    db: Database,
    follow: Arc<FollowRoutes>,
    /// Woken when this process stores inbound events, so its processor
    /// starts on them at once; events stored by another process are
    /// found by the processor's poll (`inbound.poll_interval_ms`).
    inbound_stored: Arc<tokio::sync::Notify>,
    /// The statistics last computed, per span (see service/statistics.rs).
    statistics: Arc<statistics::Cache>,
}

/// Each channel's public follow routes, from its adapter (set by the
/// composition root; none without it).
pub type FollowRoutes = std::collections::BTreeMap<ChannelKind, Vec<FollowRoute>>;

impl Herold {
    /// Opens the configured database (migrating it) and returns the app.
    pub fn open(config: Config) -> Result<Self, StorageError> {
        let url = crate::storage::DatabaseUrl::parse(&config.database_url)?;
        let db = Database::open(&url, config.pool_size, config.key_source())?;
        Ok(Self {
            config,
            db,
            follow: Arc::default(),
            inbound_stored: Arc::default(),
            statistics: Arc::default(),
        })
    }

    /// The same application, posting announcements also to `routes`
    /// (follow mode).
    pub fn with_follow_routes(mut self, routes: FollowRoutes) -> Self {
        self.follow = Arc::new(routes);
        self
    }

    /// How announcements go out: a broadcast on every channel of
    /// `delivery.channels`, with that channel's follow routes.
    pub(crate) fn channel_plans(&self) -> Vec<ChannelPlan> {
        self.config
            .delivery
            .channels
            .iter()
            .map(|kind| ChannelPlan {
                channel: *kind,
                follow: self.follow.get(kind).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    pub(crate) fn category(&self, slug: &str) -> Result<Category, ServiceError> {
        match self.db.find_category(slug)? {
            Some(c) => Ok(c),
            None => {
                let known: Vec<String> = self
                    .db
                    .list_categories()?
                    .into_iter()
                    .map(|c| c.slug.to_string())
                    .collect();
                Err(ServiceError::UnknownCategory {
                    slug: slug.to_owned(),
                    known: if known.is_empty() {
                        "none yet (add one with `herold category add SLUG --name NAME`)".into()
                    } else {
                        known.join(", ")
                    },
                })
            }
        }
    }

    /// Creates a category.
    pub fn add_category(
        &self,
        slug: &str,
        name: &str,
        actor: &str,
    ) -> Result<Category, ServiceError> {
        let slug = Slug::parse(slug)?;
        let audit = |cat: &Category| {
            NewAuditEvent::new(
                actor,
                "category.add",
                format!("category:{}", cat.slug),
                &serde_json::json!({ "name": cat.name }),
            )
        };
        Ok(self.db.add_category(&slug, name, &audit)?)
    }

    /// Removes an unused category, ending its subscriptions.
    pub fn remove_category(&self, slug: &str, actor: &str) -> Result<usize, ServiceError> {
        self.category(slug)?;
        let audit = |removed: &Removed| {
            NewAuditEvent::new(
                actor,
                "category.remove",
                format!("category:{slug}"),
                &serde_json::json!({ "subscriptions_ended": removed.subscriptions_ended }),
            )
        };
        let removed = self
            .db
            .remove_category(slug, CONSENT_WORDING_VERSION, &audit)?;
        Ok(removed.subscriptions_ended)
    }

    /// Publishes (or schedules) an announcement.
    pub fn publish(&self, req: &PublishRequest) -> Result<Announcement, ServiceError> {
        self.publish_with_image(req, None)
    }

    /// Publishes (or schedules) an announcement with an image, checked and
    /// stripped of metadata by [`crate::media::prepare`]. The image is
    /// stored in the same transaction as the announcement.
    pub fn publish_with_image(
        &self,
        req: &PublishRequest,
        image: Option<NewImage>,
    ) -> Result<Announcement, ServiceError> {
        let category = self.category(&req.category)?;
        let new = NewAnnouncement::new(
            category.id,
            &req.title,
            &req.body,
            req.urgent,
            req.at,
            req.corrects,
            &req.author,
            &self.config.limits,
            Utc::now(),
        )?
        .with_event(req.event.clone())
        .with_image(image);
        // Announcements of a digest category wait for the digest, unless urgent.
        let waits_for_digest = !new.urgent && self.db.digest_of(category.id)?.is_some();
        let plans = if waits_for_digest {
            Vec::new()
        } else {
            self.channel_plans()
        };
        let channels: Vec<ChannelKind> = plans.iter().map(|p| p.channel).collect();
        let follow: std::collections::BTreeMap<ChannelKind, Vec<&str>> = plans
            .iter()
            .map(|p| (p.channel, p.follow_targets(category.slug.as_str())))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        let audit = |a: &Announcement| {
            NewAuditEvent::new(
                &req.author,
                "announcement.publish",
                format!("announcement:{}", a.id),
                &serde_json::json!({
                    "category": category.slug.as_str(),
                    "urgent": a.urgent,
                    "publish_at": a.publish_at,
                    "corrects": a.corrects_id,
                    "channels": channels,
                    "follow": follow,
                    "waits_for_digest": waits_for_digest,
                    "image": a.image.as_ref().map(|i| serde_json::json!({
                        "id": i.id, "mime_type": i.format.mime_type(), "bytes": i.byte_length, "sha256": i.sha256,
                    })),
                }),
            )
        };
        let a = self.db.insert_announcement(&new, &plans, &audit)?;
        if !waits_for_digest {
            self.due_on_manual_channels(&a, category.slug.as_str())?;
        }
        tracing::info!(announcement = a.id, category = %category.slug, urgent = a.urgent, publish_at = %a.publish_at, "announcement stored");
        Ok(a)
    }
}
