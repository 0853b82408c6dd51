//! Announcements: append-only; scheduled ones may be cancelled.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    audit::audit_tx,
    categories::CategoryRow,
    error::OrNotFound,
    media::ImageRow,
    schema::{announcements, broadcasts, categories, media},
    time, with_conn, with_write_tx, AuditWith, Database, StorageError,
};
use crate::domain::{
    Announcement, BroadcastState, Category, Event, EventTime, Id, NewAnnouncement,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = announcements)]
pub(super) struct Row {
    pub(super) id: i64,
    category_id: i64,
    title: String,
    body: String,
    urgent: bool,
    publish_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
    cancelled_at: Option<chrono::NaiveDateTime>,
    corrects_id: Option<i64>,
    author: String,
    digest_id: Option<i64>,
    event_start: Option<chrono::NaiveDateTime>,
    event_end: Option<chrono::NaiveDateTime>,
    event_all_day: bool,
    event_location: Option<String>,
    image_id: Option<i64>,
}

/// Event columns from a domain event: all-day events at midnight.
pub(super) fn event_columns(
    e: Option<&Event>,
) -> (
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    bool,
    Option<&str>,
) {
    let midnight = |d: chrono::NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    match e {
        None => (None, None, false, None),
        Some(e) => {
            let loc = e.location.as_deref();
            match e.time {
                EventTime::At { start, end } => {
                    (Some(time::to_db(start)), end.map(time::to_db), false, loc)
                }
                EventTime::AllDay { start, last } => {
                    (Some(midnight(start)), last.map(midnight), true, loc)
                }
            }
        }
    }
}

fn event_from_columns(r: &Row) -> Option<Event> {
    let start = r.event_start?;
    let time = if r.event_all_day {
        EventTime::AllDay {
            start: start.date(),
            last: r.event_end.map(|e| e.date()),
        }
    } else {
        EventTime::At {
            start: time::from_db(start),
            end: time::from_db_opt(r.event_end),
        }
    };
    Some(Event {
        time,
        location: r.event_location.clone(),
    })
}

impl Row {
    /// The announcement, with its image's row (from a left join on
    /// `media`, or the row just inserted).
    pub(super) fn into_announcement(
        self,
        image: Option<ImageRow>,
    ) -> Result<Announcement, StorageError> {
        let event = event_from_columns(&self);
        let image = match (self.image_id, image) {
            (None, _) => None,
            (Some(_), Some(row)) => Some(row.try_into()?),
            (Some(id), None) => {
                return Err(StorageError::NotFound {
                    what: format!("image {id} of announcement {}", self.id),
                })
            }
        };
        Ok(Announcement {
            id: self.id,
            category_id: self.category_id,
            title: self.title,
            body: self.body,
            urgent: self.urgent,
            publish_at: time::from_db(self.publish_at),
            created_at: time::from_db(self.created_at),
            cancelled_at: time::from_db_opt(self.cancelled_at),
            corrects_id: self.corrects_id,
            author: self.author,
            digest_id: self.digest_id,
            event,
            image,
        })
    }
}

/// Announcement rows joined with their category and image.
type Joined = (Row, CategoryRow, Option<ImageRow>);

fn from_joined(rows: Vec<Joined>) -> Result<Vec<(Announcement, Category)>, StorageError> {
    rows.into_iter()
        .map(|(a, c, i)| Ok((a.into_announcement(i)?, c.into())))
        .collect()
}

/// Which announcements a feed shows.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// Only this category; `None` for all.
    pub category_id: Option<Id>,
    /// Visible at this moment (published, not cancelled).
    pub now: DateTime<Utc>,
    /// Newest first, at most this many.
    pub limit: i64,
}

/// Inserts an announcement and its broadcasts inside an open transaction;
/// a macro so it compiles for both connection types (see `with_conn!`).
macro_rules! insert_announcement_tx {
    ($c:expr, $new:expr, $channels:expr, $now:expr) => {{
        let c = $c;
        let new: &$crate::domain::NewAnnouncement = $new;
        let channels: &[$crate::domain::ChannelPlan] = $channels;
        let now = $now;
        let Some(category_slug): Option<String> = $crate::storage::schema::categories::table
            .filter($crate::storage::schema::categories::id.eq(new.category_id))
            .select($crate::storage::schema::categories::slug)
            .first(c)
            .optional()?
        else {
            return Err($crate::storage::StorageError::NotFound {
                what: format!("category {}", new.category_id),
            });
        };
        if let Some(orig) = new.corrects_id {
            let exists: i64 = $crate::storage::schema::announcements::table
                .filter($crate::storage::schema::announcements::id.eq(orig))
                .count()
                .get_result(c)?;
            if exists == 0 {
                return Err($crate::storage::StorageError::NotFound {
                    what: format!("announcement {orig} (to be corrected)"),
                });
            }
        }
        let (event_start, event_end, event_all_day, event_location) =
            $crate::storage::announcements::event_columns(new.event.as_ref());
        let image: Option<$crate::storage::media::ImageRow> = match &new.image {
            Some(image) => Some($crate::storage::media::insert_image_tx!(
                &mut *c, image, now
            )),
            None => None,
        };
        let row: $crate::storage::announcements::Row =
            diesel::insert_into($crate::storage::schema::announcements::table)
                .values((
                    $crate::storage::schema::announcements::event_start.eq(event_start),
                    $crate::storage::schema::announcements::event_end.eq(event_end),
                    $crate::storage::schema::announcements::event_all_day.eq(event_all_day),
                    $crate::storage::schema::announcements::event_location.eq(event_location),
                    $crate::storage::schema::announcements::category_id.eq(new.category_id),
                    $crate::storage::schema::announcements::title.eq(&new.title),
                    $crate::storage::schema::announcements::body.eq(&new.body),
                    $crate::storage::schema::announcements::urgent.eq(new.urgent),
                    $crate::storage::schema::announcements::publish_at
                        .eq($crate::storage::time::to_db(new.publish_at)),
                    $crate::storage::schema::announcements::created_at.eq(now),
                    $crate::storage::schema::announcements::corrects_id.eq(new.corrects_id),
                    $crate::storage::schema::announcements::author.eq(&new.author),
                    $crate::storage::schema::announcements::digest_id.eq(new.digest_id),
                    $crate::storage::schema::announcements::image_id
                        .eq(image.as_ref().map(|i| i.id)),
                ))
                .returning($crate::storage::announcements::Row::as_returning())
                .get_result(c)?;
        for plan in channels {
            let broadcast: i64 = diesel::insert_into($crate::storage::schema::broadcasts::table)
                .values((
                    $crate::storage::schema::broadcasts::announcement_id.eq(row.id),
                    $crate::storage::schema::broadcasts::category_id.eq(new.category_id),
                    $crate::storage::schema::broadcasts::channel.eq(plan.channel.as_str()),
                    $crate::storage::schema::broadcasts::priority
                        .eq($crate::domain::priority(new.urgent)),
                    $crate::storage::schema::broadcasts::state
                        .eq($crate::domain::BroadcastState::Active.as_str()),
                    $crate::storage::schema::broadcasts::not_before
                        .eq($crate::storage::time::to_db(new.publish_at)),
                    $crate::storage::schema::broadcasts::created_at.eq(now),
                    $crate::storage::schema::broadcasts::updated_at.eq(now),
                ))
                .returning($crate::storage::schema::broadcasts::id)
                .get_result(c)?;
            // One queued post per follow target, claimed ahead of the
            // subscribers (`claim_deliveries`); it names no subscriber.
            for target in plan.follow_targets(&category_slug) {
                use $crate::storage::schema::deliveries as d;
                diesel::insert_into(d::table)
                    .values((
                        d::announcement_id.eq(row.id),
                        d::channel.eq(plan.channel.as_str()),
                        d::target.eq(target),
                        d::state.eq($crate::domain::DeliveryState::Queued.as_str()),
                        d::attempts.eq(0),
                        d::created_at.eq(now),
                        d::updated_at.eq(now),
                        d::broadcast_id.eq(broadcast),
                        d::priority.eq($crate::domain::priority(new.urgent)),
                        d::next_attempt_at.eq($crate::storage::time::to_db(new.publish_at)),
                    ))
                    .execute(c)?;
            }
        }
        Ok::<
            (
                $crate::storage::announcements::Row,
                Option<$crate::storage::media::ImageRow>,
            ),
            $crate::storage::StorageError,
        >((row, image))
    }};
}
pub(super) use insert_announcement_tx;

impl Database {
    /// Stores a checked announcement and, in the same transaction, one
    /// broadcast per push channel, from which workers fan out deliveries,
    /// and the audit event `audit` builds from the stored announcement.
    /// The category (and the corrected announcement, if any) must exist.
    pub fn insert_announcement(
        &self,
        new: &NewAnnouncement,
        channels: &[crate::domain::ChannelPlan],
        audit: &AuditWith<'_, Announcement>,
    ) -> Result<Announcement, StorageError> {
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let (row, image) = insert_announcement_tx!(&mut *c, new, channels, now)?;
            let announcement = row.into_announcement(image)?;
            audit_tx!(c, audit, &announcement);
            Ok(announcement)
        })
    }

    /// One announcement with its category.
    pub fn get_announcement(&self, id: Id) -> Result<(Announcement, Category), StorageError> {
        let found: Option<Joined> = with_conn!(self, |c| announcements::table
            .inner_join(categories::table)
            .left_join(media::table)
            .filter(announcements::id.eq(id))
            .select((
                Row::as_select(),
                CategoryRow::as_select(),
                Option::<ImageRow>::as_select(),
            ))
            .first(c)
            .optional()?);
        let (a, c, i) = found.or_not_found(|| format!("announcement {id}"))?;
        Ok((a.into_announcement(i)?, c.into()))
    }

    /// All announcements (any status), newest publication time first.
    pub fn list_announcements(
        &self,
        limit: i64,
    ) -> Result<Vec<(Announcement, Category)>, StorageError> {
        let rows: Vec<Joined> = with_conn!(self, |c| announcements::table
            .inner_join(categories::table)
            .left_join(media::table)
            .order((announcements::publish_at.desc(), announcements::id.desc()))
            .limit(limit)
            .select((
                Row::as_select(),
                CategoryRow::as_select(),
                Option::<ImageRow>::as_select(),
            ))
            .load(c)?);
        from_joined(rows)
    }

    /// Announcements a feed shows: published by `now`, not cancelled,
    /// newest first.
    pub fn feed_announcements(
        &self,
        q: &FeedQuery,
    ) -> Result<Vec<(Announcement, Category)>, StorageError> {
        let now = time::to_db(q.now);
        let rows: Vec<Joined> = with_conn!(self, |c| {
            let mut query = announcements::table
                .inner_join(categories::table)
                .left_join(media::table)
                .filter(announcements::publish_at.le(now))
                .filter(announcements::cancelled_at.is_null())
                .into_boxed();
            if let Some(cat) = q.category_id {
                query = query.filter(announcements::category_id.eq(cat));
            }
            query
                .order((announcements::publish_at.desc(), announcements::id.desc()))
                .limit(q.limit)
                .select((
                    Row::as_select(),
                    CategoryRow::as_select(),
                    Option::<ImageRow>::as_select(),
                ))
                .load(c)?
        });
        from_joined(rows)
    }

    /// Visible announcements about an event (for the calendar feed), the
    /// latest events first.
    pub fn calendar_announcements(
        &self,
        category_id: Option<Id>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(Announcement, Category)>, StorageError> {
        let now = time::to_db(now);
        let rows: Vec<Joined> = with_conn!(self, |c| {
            let mut query = announcements::table
                .inner_join(categories::table)
                .left_join(media::table)
                .filter(announcements::event_start.is_not_null())
                .filter(announcements::publish_at.le(now))
                .filter(announcements::cancelled_at.is_null())
                .into_boxed();
            if let Some(cat) = category_id {
                query = query.filter(announcements::category_id.eq(cat));
            }
            query
                .order((announcements::event_start.desc(), announcements::id.desc()))
                .limit(limit)
                .select((
                    Row::as_select(),
                    CategoryRow::as_select(),
                    Option::<ImageRow>::as_select(),
                ))
                .load(c)?
        });
        from_joined(rows)
    }

    /// Published corrections of an announcement, oldest first.
    pub fn corrections_of(
        &self,
        id: Id,
        now: DateTime<Utc>,
    ) -> Result<Vec<Announcement>, StorageError> {
        let now = time::to_db(now);
        let rows: Vec<(Row, Option<ImageRow>)> = with_conn!(self, |c| announcements::table
            .left_join(media::table)
            .filter(announcements::corrects_id.eq(id))
            .filter(announcements::publish_at.le(now))
            .filter(announcements::cancelled_at.is_null())
            .order((announcements::publish_at.asc(), announcements::id.asc()))
            .select((Row::as_select(), Option::<ImageRow>::as_select()))
            .load(c)?);
        rows.into_iter()
            .map(|(a, i)| a.into_announcement(i))
            .collect()
    }

    /// Withdraws a scheduled announcement before it goes out, with its
    /// broadcasts, and records `audit` with it. Published announcements
    /// cannot be cancelled; publish a correction instead.
    pub fn cancel_announcement(
        &self,
        id: Id,
        audit: &AuditWith<'_, Announcement>,
    ) -> Result<Announcement, StorageError> {
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let current: Row = announcements::table
                .find(id)
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("announcement {id}"))?;
            if current.cancelled_at.is_some() {
                return Err(StorageError::Refused(format!(
                    "announcement {id} is already cancelled"
                )));
            }
            if current.publish_at <= now {
                return Err(StorageError::Refused(format!(
                    "announcement {id} is already published and cannot be cancelled; publish a correction instead"
                )));
            }
            diesel::update(broadcasts::table.filter(broadcasts::announcement_id.eq(id)))
                .set((
                    broadcasts::state.eq(BroadcastState::Cancelled.as_str()),
                    broadcasts::updated_at.eq(now),
                ))
                .execute(c)?;
            diesel::update(announcements::table.find(id))
                .set(announcements::cancelled_at.eq(Some(now)))
                .execute(c)?;
            let (row, image): (Row, Option<ImageRow>) = announcements::table
                .left_join(media::table)
                .filter(announcements::id.eq(id))
                .select((Row::as_select(), Option::<ImageRow>::as_select()))
                .first(c)?;
            let announcement = row.into_announcement(image)?;
            audit_tx!(c, audit, &announcement);
            Ok(announcement)
        })
    }
}
