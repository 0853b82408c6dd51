use chrono::{DateTime, Utc};

use super::{DomainError, Event, Id, Image, NewImage};

/// Limits on announcement text. The body limit keeps one announcement within
/// what the tightest push channel carries in a single message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum characters of a title.
    pub title_max_chars: usize,
    /// Maximum characters of a body (Markdown source).
    pub body_max_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            title_max_chars: 200,
            body_max_chars: 4000,
        }
    }
}

/// An announcement as published. Its content never changes once stored: a
/// mistake is fixed by publishing a correction that references the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub id: Id,
    pub category_id: Id,
    pub title: String,
    /// Markdown source (a small subset: emphasis, links, lists).
    pub body: String,
    pub urgent: bool,
    /// When it becomes visible and is delivered.
    pub publish_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Set when a scheduled announcement was withdrawn before it went out.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The announcement this one corrects.
    pub corrects_id: Option<Id>,
    /// Who published it (staff user name or `cli`).
    pub author: String,
    /// Set when a digest run produced this announcement.
    pub digest_id: Option<Id>,
    /// The event it announces, if any (for calendars).
    pub event: Option<Event>,
    /// The picture shown with it, if any (feeds carry it as an enclosure).
    pub image: Option<Image>,
}

/// Where an announcement stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnouncementStatus {
    Scheduled,
    Published,
    Cancelled,
}

impl AnnouncementStatus {
    /// Lowercase name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Published => "published",
            Self::Cancelled => "cancelled",
        }
    }
}

impl Announcement {
    /// The status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> AnnouncementStatus {
        if self.cancelled_at.is_some() {
            AnnouncementStatus::Cancelled
        } else if self.publish_at <= now {
            AnnouncementStatus::Published
        } else {
            AnnouncementStatus::Scheduled
        }
    }
}

/// A checked announcement ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnnouncement {
    pub category_id: Id,
    pub title: String,
    pub body: String,
    pub urgent: bool,
    pub publish_at: DateTime<Utc>,
    pub corrects_id: Option<Id>,
    pub author: String,
    /// Set for announcements a digest run produces.
    pub digest_id: Option<Id>,
    /// The event it announces, if any.
    pub event: Option<Event>,
    /// Its picture, if any; stored with it in one transaction.
    pub image: Option<NewImage>,
}

impl NewAnnouncement {
    /// Checks title, body and publication time. `at` of `None` means now;
    /// a time in the past is refused so nothing appears back-dated in feeds.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        category_id: Id,
        title: &str,
        body: &str,
        urgent: bool,
        at: Option<DateTime<Utc>>,
        corrects_id: Option<Id>,
        author: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(DomainError::Empty { field: "title" });
        }
        let tlen = title.chars().count();
        if tlen > limits.title_max_chars {
            return Err(DomainError::TooLong {
                field: "title",
                max: limits.title_max_chars,
                actual: tlen,
            });
        }
        if title.contains(['\n', '\r']) {
            return Err(DomainError::Invalid {
                field: "title",
                value: title.to_owned(),
                expected: "a single line of text",
            });
        }
        let body = body.trim();
        if body.is_empty() {
            return Err(DomainError::Empty { field: "body" });
        }
        let blen = body.chars().count();
        if blen > limits.body_max_chars {
            return Err(DomainError::TooLong {
                field: "body",
                max: limits.body_max_chars,
                actual: blen,
            });
        }
        let publish_at = match at {
            None => now,
            Some(t) if t < now - chrono::Duration::seconds(5) => {
                return Err(DomainError::Invalid {
                    field: "publication time (--at)",
                    value: t.to_rfc3339(),
                    expected: "a time in the future, or no time to publish now",
                })
            }
            Some(t) => t.max(now),
        };
        Ok(Self {
            category_id,
            title: title.to_owned(),
            body: body.to_owned(),
            urgent,
            publish_at,
            corrects_id,
            author: author.to_owned(),
            digest_id: None,
            event: None,
            image: None,
        })
    }

    /// The same announcement about `event` (already checked by [`Event::new`]).
    pub fn with_event(mut self, event: Option<Event>) -> Self {
        self.event = event;
        self
    }

    /// The same announcement with `image` (checked by [`NewImage::new`]).
    /// A correction does not inherit the corrected announcement's image.
    pub fn with_image(mut self, image: Option<NewImage>) -> Self {
        self.image = image;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(
        title: &str,
        body: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<NewAnnouncement, DomainError> {
        NewAnnouncement::new(
            1,
            title,
            body,
            false,
            at,
            None,
            "cli",
            &Limits::default(),
            Utc::now(),
        )
    }

    #[test]
    fn validation() {
        assert!(new("Titel", "Text", None).is_ok());
        assert_eq!(
            new(" ", "Text", None),
            Err(DomainError::Empty { field: "title" })
        );
        assert!(matches!(
            new("T", &"x".repeat(4001), None),
            Err(DomainError::TooLong { field: "body", .. })
        ));
        let past = Utc::now() - chrono::Duration::hours(1);
        assert!(matches!(
            new("T", "B", Some(past)),
            Err(DomainError::Invalid { .. })
        ));
        let future = Utc::now() + chrono::Duration::hours(1);
        assert_eq!(
            new("T", "B", Some(future)).map(|a| a.publish_at),
            Ok(future)
        );
    }

    #[test]
    fn status() {
        let now = Utc::now();
        let mut a = Announcement {
            id: 1,
            category_id: 1,
            title: "t".into(),
            body: "b".into(),
            urgent: false,
            publish_at: now + chrono::Duration::minutes(1),
            created_at: now,
            cancelled_at: None,
            corrects_id: None,
            author: "cli".into(),
            digest_id: None,
            event: None,
            image: None,
        };
        assert_eq!(a.status(now), AnnouncementStatus::Scheduled);
        a.publish_at = now;
        assert_eq!(a.status(now), AnnouncementStatus::Published);
        a.cancelled_at = Some(now);
        assert_eq!(a.status(now), AnnouncementStatus::Cancelled);
    }
}
