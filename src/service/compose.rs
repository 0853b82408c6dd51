//! Composing in the staff application: drafts that keep what an editor
//! typed, their preview on every channel (the engine's own renderer), and
//! publishing — at once, scheduled, after a second editor's approval
//! where the category asks for it, or in place of a scheduled
//! announcement that was edited.

use super::{manual::manual_capabilities, Herold, PublishRequest, ServiceError};
use crate::{
    domain::{
        local_time_value, parse_event, parse_local_datetime, Announcement, Draft, DraftFields,
        DraftImage, DraftState, Id, Image, NewAnnouncement, NewAuditEvent, NewImage, Problem,
    },
    media::ImageError,
    registry::Registry,
    render::{
        message::Context,
        preview::{self, ChannelPreview, Target},
    },
    storage::ImageUpdate,
};
use chrono::{DateTime, Utc};

/// A draft as the announcement it would become, and its previews.
pub type Previewed = (Announcement, Vec<ChannelPreview>);

/// A picture sent with the compose form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageUpload {
    /// Keep the draft's picture.
    Keep,
    /// Remove it.
    Remove,
    /// Replace it with this file.
    New { name: String, bytes: Vec<u8> },
}

/// What saving a draft did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedDraft {
    pub id: Id,
    /// Why the uploaded picture was not taken (the rest was saved).
    pub image_problem: Option<Problem>,
}

/// What publishing a draft did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftOutcome {
    /// Published (or scheduled).
    Published(Box<Announcement>),
    /// Waits for a second editor (the category asks for four eyes).
    AwaitingApproval,
}

impl Herold {
    /// Saves a new draft (`id` `None`) or changes one, by `actor`. The
    /// fields are kept as typed; only a picture is checked at once (and
    /// stripped of metadata), and a picture that is refused leaves the
    /// draft's old one in place.
    pub fn save_draft(
        &self,
        id: Option<Id>,
        actor: &str,
        fields: &DraftFields,
        image: ImageUpload,
    ) -> Result<SavedDraft, ServiceError> {
        let mut image_problem = None;
        let update = match image {
            ImageUpload::Keep => ImageUpdate::Keep,
            ImageUpload::Remove => ImageUpdate::Remove,
            ImageUpload::New { name, bytes } => {
                // The alt text is checked at publication; a draft may get
                // its picture first.
                match crate::media::prepare(&name, bytes, "-", &self.config.media) {
                    Ok(i) => ImageUpdate::Set(DraftImage {
                        format: i.format,
                        bytes: i.bytes,
                    }),
                    Err(e) => {
                        image_problem = Some(image_problem_of(&e));
                        ImageUpdate::Keep
                    }
                }
            }
        };
        let id = self.db.save_draft(id, actor, fields, None, &update)?;
        Ok(SavedDraft { id, image_problem })
    }

    /// What `draft` would publish, or every problem with its fields.
    pub fn draft_request(
        &self,
        draft: &Draft,
        now: DateTime<Utc>,
    ) -> Result<(NewAnnouncement, Option<NewImage>), Vec<Problem>> {
        let f = &draft.fields;
        let tz = self.config.tz();
        let mut problems = Vec::new();
        let category = match self.db.find_category(&f.category) {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                problems.push(
                    Problem::new("category", "compose.error.category").with("value", &f.category),
                );
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "category lookup failed");
                problems.push(Problem::new("category", "compose.error.storage"));
                None
            }
        };
        let at = match f.schedule.trim() {
            "" => None,
            raw => match parse_local_datetime(raw, tz) {
                Some(t) if t > now => Some(t),
                Some(_) => {
                    problems.push(Problem::new("schedule", "compose.error.past"));
                    None
                }
                None => {
                    problems
                        .push(Problem::new("schedule", "compose.error.time").with("value", raw));
                    None
                }
            },
        };
        let event = parse_event(f, tz).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        let image = draft.image.as_ref().and_then(|i| {
            NewImage::new(i.format, i.bytes.clone(), &f.image_alt)
                .map_err(|e| problems.push(Problem::from_domain("image_alt", &e)))
                .ok()
        });
        if draft.image.is_none() && !f.image_alt.trim().is_empty() {
            problems.push(Problem::new("image", "compose.error.alt_without_image"));
        }
        // Title and body, each reported on its own field.
        for (field, check) in [
            (
                "title",
                NewAnnouncement::new(
                    0,
                    &f.title,
                    "x",
                    false,
                    None,
                    None,
                    "",
                    &self.config.limits,
                    now,
                ),
            ),
            (
                "body",
                NewAnnouncement::new(
                    0,
                    "x",
                    &f.body,
                    false,
                    None,
                    None,
                    "",
                    &self.config.limits,
                    now,
                ),
            ),
        ] {
            if let Err(e) = check {
                problems.push(Problem::from_domain(field, &e));
            }
        }
        let (Some(category), true) = (category, problems.is_empty()) else {
            return Err(problems);
        };
        NewAnnouncement::new(
            category.id,
            &f.title,
            &f.body,
            f.urgent,
            at,
            f.corrects_id,
            &draft.author,
            &self.config.limits,
            now,
        )
        .map(|a| (a.with_event(event), image))
        .map_err(|e| vec![Problem::from_domain("body", &e)])
    }

    /// The channels a preview shows: every delivering channel (with its
    /// adapter's capabilities) and every manual channel.
    pub fn preview_targets(&self, registry: &Registry) -> Vec<Target> {
        let mut targets: Vec<Target> = self
            .config
            .delivery
            .channels
            .iter()
            .filter_map(|kind| registry.get(*kind))
            .map(|ch| Target {
                id: ch.kind().as_str().to_owned(),
                capabilities: ch.capabilities().clone(),
                has_window: ch.conversation_window().is_some(),
            })
            .collect();
        targets.extend(self.config.manual.iter().map(|m| Target {
            id: format!("manual:{}", m.id),
            capabilities: manual_capabilities(m.format),
            has_window: false,
        }));
        targets
    }

    /// The draft as it will appear on each target, or its problems.
    /// `image_url` is where the page shows the draft's picture.
    pub fn preview_draft(
        &self,
        draft: &Draft,
        targets: &[Target],
        image_url: &str,
    ) -> Result<Result<Previewed, Vec<Problem>>, ServiceError> {
        let now = Utc::now();
        let (new, image) = match self.draft_request(draft, now) {
            Ok(r) => r,
            Err(p) => return Ok(Err(p)),
        };
        let a = Announcement {
            id: draft.id,
            category_id: new.category_id,
            title: new.title,
            body: new.body,
            urgent: new.urgent,
            publish_at: new.publish_at,
            created_at: now,
            cancelled_at: None,
            corrects_id: new.corrects_id,
            author: new.author,
            digest_id: None,
            event: new.event,
            image: image.map(|i| Image {
                id: 0,
                format: i.format,
                byte_length: u64::try_from(i.bytes.len()).unwrap_or(u64::MAX),
                sha256: i.sha256,
                alt: i.alt,
            }),
        };
        // The number is the draft's; the announcement gets its own when
        // published (of the same length, give or take a digit).
        let url = self.announcement_url(draft.id);
        let cx = Context {
            url: &url,
            image_url: a.image.as_ref().map(|_| image_url),
            site: &self.config.site_name,
            locale: &self.config.default_locale,
            tz: self.config.tz(),
        };
        let previews =
            preview::previews(&a, targets, &cx).map_err(|e| ServiceError::Render(e.to_string()))?;
        Ok(Ok((a, previews)))
    }

    /// Publishes draft `id` as last saved at `seen`, by `actor`: at once
    /// (or at its scheduled time), or — where its category asks for four
    /// eyes — marks it for a second editor's approval.
    pub fn publish_draft(
        &self,
        id: Id,
        actor: &str,
        seen: DateTime<Utc>,
    ) -> Result<DraftOutcome, ServiceError> {
        let draft = self.fresh_draft(id, seen)?;
        self.draft_request(&draft, Utc::now())
            .map_err(ServiceError::Draft)?;
        if self.db.category_requires_approval(&draft.fields.category)? {
            let audit = |id: &Id| {
                NewAuditEvent::new(
                    actor,
                    "draft.submit",
                    format!("draft:{id}"),
                    &serde_json::json!({ "category": draft.fields.category, "title": draft.fields.title }),
                )
            };
            self.db.submit_draft(id, actor, seen, &audit)?;
            return Ok(DraftOutcome::AwaitingApproval);
        }
        self.publish_checked(&draft, actor, None)
            .map(|a| DraftOutcome::Published(Box::new(a)))
    }

    /// Releases a draft awaiting approval, as last saved at `seen`: only
    /// an editor other than its author and its submitter may.
    pub fn approve_draft(
        &self,
        id: Id,
        actor: &str,
        seen: DateTime<Utc>,
    ) -> Result<Announcement, ServiceError> {
        let draft = self.fresh_draft(id, seen)?;
        if draft.state != DraftState::AwaitingApproval {
            return Err(ServiceError::Refused(
                "this draft is not waiting for approval".into(),
            ));
        }
        if draft.author == actor || draft.submitted_by.as_deref() == Some(actor) {
            return Err(ServiceError::OwnApproval);
        }
        self.publish_checked(&draft, &draft.author.clone(), Some(actor))
    }

    /// Discards a draft.
    pub fn discard_draft(&self, id: Id, actor: &str) -> Result<(), ServiceError> {
        let draft = self.db.get_draft(id)?;
        let audit = |id: &Id| {
            NewAuditEvent::new(
                actor,
                "draft.discard",
                format!("draft:{id}"),
                &serde_json::json!({ "title": draft.fields.title, "author": draft.author }),
            )
        };
        Ok(self.db.delete_draft(id, Some(&audit))?)
    }

    /// A draft for changing scheduled announcement `id`: publishing it
    /// withdraws the scheduled one and schedules the changed one (a
    /// published announcement never changes; it gets a correction).
    pub fn edit_scheduled(&self, id: Id, actor: &str) -> Result<Id, ServiceError> {
        let (a, category) = self.db.get_announcement(id)?;
        if a.status(Utc::now()) != crate::domain::AnnouncementStatus::Scheduled {
            return Err(ServiceError::Refused(format!(
                "announcement {id} is not scheduled any more: publish a correction instead"
            )));
        }
        let tz = self.config.tz();
        let (event_start, event_end) = match a.event.as_ref().map(|e| e.time) {
            None => (String::new(), String::new()),
            Some(crate::domain::EventTime::At { start, end }) => (
                local_time_value(start, tz),
                end.map(|e| local_time_value(e, tz)).unwrap_or_default(),
            ),
            Some(crate::domain::EventTime::AllDay { start, last }) => (
                start.to_string(),
                last.map(|d| d.to_string()).unwrap_or_default(),
            ),
        };
        let fields = DraftFields {
            category: category.slug.to_string(),
            title: a.title.clone(),
            body: a.body.clone(),
            urgent: a.urgent,
            schedule: local_time_value(a.publish_at, tz),
            event_start,
            event_end,
            event_location: a
                .event
                .as_ref()
                .and_then(|e| e.location.clone())
                .unwrap_or_default(),
            corrects_id: a.corrects_id,
            image_alt: a.image.as_ref().map(|i| i.alt.clone()).unwrap_or_default(),
        };
        let image = match &a.image {
            Some(i) => ImageUpdate::Set(DraftImage {
                format: i.format,
                bytes: self.db.image_bytes(i.id)?,
            }),
            None => ImageUpdate::Keep,
        };
        Ok(self.db.save_draft(None, actor, &fields, Some(id), &image)?)
    }

    /// The draft, if it is still as `seen`.
    fn fresh_draft(&self, id: Id, seen: DateTime<Utc>) -> Result<Draft, ServiceError> {
        let draft = self.db.get_draft(id)?;
        if draft.updated_at.timestamp_micros() != seen.timestamp_micros() {
            return Err(ServiceError::Refused(
                "the draft was changed meanwhile: check the new version and publish again".into(),
            ));
        }
        Ok(draft)
    }

    /// Publishes a checked draft with `author` (approved by `approver`),
    /// withdrawing the scheduled announcement it replaces, and deletes it.
    fn publish_checked(
        &self,
        draft: &Draft,
        author: &str,
        approver: Option<&str>,
    ) -> Result<Announcement, ServiceError> {
        let (new, image) = self
            .draft_request(draft, Utc::now())
            .map_err(ServiceError::Draft)?;
        if let Some(old) = draft.replaces_id {
            self.cancel_announcement(old, approver.unwrap_or(author))?;
        }
        let req = PublishRequest {
            category: draft.fields.category.clone(),
            title: new.title,
            body: new.body,
            urgent: new.urgent,
            at: (new.publish_at > Utc::now()).then_some(new.publish_at),
            corrects: new.corrects_id,
            author: author.to_owned(),
            event: new.event,
        };
        let a = self.publish_with_image(&req, image)?;
        let audit = |_: &Id| {
            NewAuditEvent::new(
                approver.unwrap_or(author),
                if approver.is_some() {
                    "draft.approve"
                } else {
                    "draft.publish"
                },
                format!("announcement:{}", a.id),
                &serde_json::json!({
                    "draft": draft.id,
                    "author": author,
                    "replaces": draft.replaces_id,
                }),
            )
        };
        self.db.delete_draft(draft.id, Some(&audit))?;
        Ok(a)
    }

    /// Sets whether drafts of category `slug` need a second editor.
    pub fn set_category_approval(
        &self,
        slug: &str,
        required: bool,
        actor: &str,
    ) -> Result<(), ServiceError> {
        self.category(slug)?;
        let audit = |r: &bool| {
            NewAuditEvent::new(
                actor,
                "category.approval",
                format!("category:{slug}"),
                &serde_json::json!({ "requires_approval": r }),
            )
        };
        Ok(self.db.set_category_approval(slug, required, &audit)?)
    }
}

/// The compose form's message for a refused picture.
fn image_problem_of(e: &ImageError) -> Problem {
    match e {
        ImageError::TooLarge { max, .. } => {
            Problem::new("image", "compose.error.image_too_large").with("max", max / 1024)
        }
        ImageError::Empty { .. } | ImageError::Read { .. } => {
            Problem::new("image", "compose.error.image_empty")
        }
        ImageError::Unsupported { .. } => Problem::new("image", "compose.error.image_type"),
        ImageError::Damaged { .. } => Problem::new("image", "compose.error.image_damaged"),
        ImageError::Alt(d) => Problem::from_domain("image_alt", d),
    }
}
