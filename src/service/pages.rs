//! What the public web pages show.

use chrono::{DateTime, Utc};

use super::{Herold, ServiceError};
use crate::domain::{Announcement, Category, Id};

/// An announcement as residents see it, with its correction links.
#[derive(Debug, Clone)]
pub struct PublicAnnouncement {
    pub announcement: Announcement,
    pub category: Category,
    /// The announcement this one corrects.
    pub corrects: Option<Announcement>,
    /// Later corrections of this one.
    pub corrected_by: Vec<Announcement>,
}

impl Herold {
    /// A published announcement; `None` if it does not exist or is not
    /// (yet) public, so scheduled content never leaks.
    pub fn public_announcement(
        &self,
        id: Id,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicAnnouncement>, ServiceError> {
        let (announcement, category) = match self.db.get_announcement(id) {
            Ok(found) => found,
            Err(crate::storage::StorageError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if announcement.status(now) != crate::domain::AnnouncementStatus::Published {
            return Ok(None);
        }
        let corrects = match announcement.corrects_id {
            Some(orig) => Some(self.db.get_announcement(orig)?.0),
            None => None,
        };
        let corrected_by = self.db.corrections_of(id, now)?;
        Ok(Some(PublicAnnouncement {
            announcement,
            category,
            corrects,
            corrected_by,
        }))
    }
}
