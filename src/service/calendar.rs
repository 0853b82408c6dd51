//! The iCalendar feed (RFC 5545): announcements about an event, so the
//! daily event tips land in residents' calendars.

use chrono::{DateTime, Utc};
use herold_channel_rss::{ical_calendar, Attachment, CalendarEvent, CalendarMeta, EventStatus};
use std::collections::{HashMap, HashSet};

use super::{FeedDocument, FeedFormat, Herold, ServiceError};
use crate::{
    domain::{Announcement, Category},
    render,
};

/// How many events a calendar carries.
pub const CALENDAR_LENGTH: i64 = 500;

impl Herold {
    /// The calendar of `category` (`None`: all), named `name` in its URL.
    pub(super) fn calendar(
        &self,
        category: Option<&Category>,
        name: &str,
        title: String,
        now: DateTime<Utc>,
    ) -> Result<FeedDocument, ServiceError> {
        let rows = self
            .db
            .calendar_announcements(category.map(|c| c.id), now, CALENDAR_LENGTH)?;
        // A correction replaces what it corrects: one event per chain, with
        // the original's UID and a higher SEQUENCE, so calendars update it.
        let superseded: HashSet<i64> = rows.iter().filter_map(|(a, _)| a.corrects_id).collect();
        let by_id: HashMap<i64, &Announcement> = rows.iter().map(|(a, _)| (a.id, a)).collect();
        let events: Vec<CalendarEvent> = rows
            .iter()
            .filter(|(a, _)| !superseded.contains(&a.id))
            .filter_map(|(a, c)| self.calendar_event(a, c, &by_id))
            .collect();
        let last_modified = super::feeds::last_modified(&rows, category);
        let mut meta = CalendarMeta::new(
            format!(
                "-//{}//Herold {}//{}",
                self.config.site_name,
                env!("CARGO_PKG_VERSION"),
                self.config.default_locale.to_uppercase()
            ),
            title,
        );
        meta.timezone = Some(self.config.timezone.clone());
        meta.source_url =
            Some(self.public_url(&format!("feeds/{name}.{}", FeedFormat::Ical.extension())));
        let body = ical_calendar(&meta, &events);
        Ok(FeedDocument {
            body,
            content_type: FeedFormat::Ical.content_type(),
            last_modified,
        })
    }

    fn calendar_event(
        &self,
        a: &Announcement,
        c: &Category,
        by_id: &HashMap<i64, &Announcement>,
    ) -> Option<CalendarEvent> {
        let event = a.event.as_ref()?;
        // Walk back to the original announcement of a correction chain.
        let mut root = a.id;
        let mut sequence = 0u32;
        let mut next = a.corrects_id;
        while let Some(id) = next {
            root = id;
            sequence += 1;
            next = by_id.get(&id).and_then(|o| o.corrects_id);
            if sequence > 100 {
                break;
            }
        }
        let host = self.config.public_url.host_str().unwrap_or("herold");
        let mut e = CalendarEvent::new(
            format!("announcement-{root}@{host}"),
            a.title.clone(),
            event.time,
            a.publish_at,
        );
        e.description = render::to_plain(&a.body);
        e.url = self.announcement_url(a.id);
        e.location = event.location.clone();
        e.published = by_id.get(&root).map_or(a.publish_at, |o| o.publish_at);
        e.categories = vec![c.name.clone()];
        e.status = EventStatus::Confirmed;
        e.sequence = sequence;
        e.attachments = a
            .image
            .iter()
            .map(|i| Attachment {
                url: self.image_url(i),
                mime_type: i.format.mime_type().to_owned(),
            })
            .collect();
        Some(e)
    }
}
