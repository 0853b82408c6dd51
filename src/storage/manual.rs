//! Posts on manual channels: due when an announcement is published,
//! confirmed by staff.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::{announcements, manual_posts},
    time, with_conn, Database, StorageError,
};
use crate::domain::{Id, ManualPost};

#[derive(Queryable, Selectable)]
#[diesel(table_name = manual_posts)]
struct Row {
    announcement_id: i64,
    channel: String,
    created_at: chrono::NaiveDateTime,
    posted_at: Option<chrono::NaiveDateTime>,
    posted_by: Option<String>,
}

impl From<Row> for ManualPost {
    fn from(r: Row) -> Self {
        ManualPost {
            announcement_id: r.announcement_id,
            channel: r.channel,
            created_at: time::from_db(r.created_at),
            posted_at: time::from_db_opt(r.posted_at),
            posted_by: r.posted_by,
        }
    }
}

impl Database {
    /// Records that `announcement_id` is due on each of `channels` (again:
    /// nothing changes).
    pub fn create_manual_posts(
        &self,
        announcement_id: Id,
        channels: &[&str],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(now);
        for channel in channels {
            with_conn!(self, |c| diesel::insert_into(manual_posts::table)
                .values((
                    manual_posts::announcement_id.eq(announcement_id),
                    manual_posts::channel.eq(*channel),
                    manual_posts::created_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c)?);
        }
        Ok(())
    }

    /// The posts of announcements published by `now` and not cancelled,
    /// oldest first: on `channel` or every manual channel, only those
    /// not yet posted when `pending`.
    pub fn manual_posts(
        &self,
        channel: Option<&str>,
        pending: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<ManualPost>, StorageError> {
        let now = time::to_db(now);
        let rows: Vec<Row> = with_conn!(self, |c| {
            let mut q = manual_posts::table
                .inner_join(announcements::table)
                .filter(announcements::publish_at.le(now))
                .filter(announcements::cancelled_at.is_null())
                .select(Row::as_select())
                .order((manual_posts::announcement_id, manual_posts::channel))
                .into_boxed();
            if let Some(ch) = channel {
                q = q.filter(manual_posts::channel.eq(ch));
            }
            if pending {
                q = q.filter(manual_posts::posted_at.is_null());
            }
            q.load(c)?
        });
        Ok(rows.into_iter().map(ManualPost::from).collect())
    }

    /// The manual posts of one announcement.
    pub fn manual_posts_of(&self, announcement_id: Id) -> Result<Vec<ManualPost>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| manual_posts::table
            .filter(manual_posts::announcement_id.eq(announcement_id))
            .select(Row::as_select())
            .order(manual_posts::channel)
            .load(c)?);
        Ok(rows.into_iter().map(ManualPost::from).collect())
    }

    /// Records that `by` posted `announcement_id` on `channel` at `now`;
    /// a post already confirmed keeps its first time and name. Not due
    /// there: [`StorageError::NotFound`].
    pub fn mark_manual_posted(
        &self,
        announcement_id: Id,
        channel: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<ManualPost, StorageError> {
        let now = time::to_db(now);
        let row: Option<Row> = with_conn!(self, |c| {
            diesel::update(
                manual_posts::table
                    .filter(manual_posts::announcement_id.eq(announcement_id))
                    .filter(manual_posts::channel.eq(channel))
                    .filter(manual_posts::posted_at.is_null()),
            )
            .set((
                manual_posts::posted_at.eq(Some(now)),
                manual_posts::posted_by.eq(Some(by)),
            ))
            .execute(c)?;
            manual_posts::table
                .filter(manual_posts::announcement_id.eq(announcement_id))
                .filter(manual_posts::channel.eq(channel))
                .select(Row::as_select())
                .first(c)
                .optional()?
        });
        row.map(ManualPost::from)
            .ok_or_else(|| StorageError::NotFound {
                what: format!("announcement {announcement_id} due on manual channel {channel}"),
            })
    }
}
