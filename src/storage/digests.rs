//! Recurring digests and firing them exactly once per due slot.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::{
    announcements::{insert_announcement_tx, Row as AnnouncementRow},
    audit::audit_tx,
    error::OrNotFound,
    media::ImageRow,
    schema::{announcements, digests, media},
    time, with_conn, with_write_tx, AuditWith, Database, Pool, StorageError,
};
use crate::domain::{next_slot, Announcement, Digest, DomainError, Id, NewAnnouncement};

#[derive(Queryable, Selectable)]
#[diesel(table_name = digests)]
struct Row {
    id: i64,
    category_id: i64,
    local_time: String,
    timezone: String,
    title: String,
    next_run_at: chrono::NaiveDateTime,
    last_run_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<Row> for Digest {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(Digest {
            id: r.id,
            category_id: r.category_id,
            local_time: crate::domain::parse_local_time(&r.local_time)?,
            timezone: crate::domain::parse_timezone(&r.timezone)?,
            title: r.title,
            next_run_at: time::from_db(r.next_run_at),
            last_run_at: time::from_db_opt(r.last_run_at),
            created_at: time::from_db(r.created_at),
        })
    }
}

/// Builds the digest message from the announcements it bundles; `None`
/// when there is nothing to send.
pub type Compose<'a> = dyn Fn(&Digest, &[Announcement]) -> Option<NewAnnouncement> + 'a;

impl Database {
    /// Makes a category a daily digest at `at` local time in `tz` and
    /// records `audit` with it.
    pub fn add_digest(
        &self,
        category_id: Id,
        at: NaiveTime,
        tz: Tz,
        title: &str,
        audit: &AuditWith<'_, Digest>,
    ) -> Result<Digest, StorageError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(DomainError::Empty {
                field: "digest title",
            }
            .into());
        }
        let now = time::now();
        let next = next_slot(now, at, tz);
        with_write_tx!(self, |c| {
            let row: Row = diesel::insert_into(digests::table)
                .values((
                    digests::category_id.eq(category_id),
                    digests::local_time.eq(at.format("%H:%M").to_string()),
                    digests::timezone.eq(tz.name()),
                    digests::title.eq(title),
                    digests::next_run_at.eq(time::to_db(next)),
                    digests::created_at.eq(time::to_db(now)),
                ))
                .returning(Row::as_returning())
                .get_result(c)
                .map_err(|e| match StorageError::from(e) {
                    StorageError::Conflict { .. } => StorageError::Conflict {
                        what: format!("a digest for category {category_id}"),
                    },
                    other => other,
                })?;
            let digest = Digest::try_from(row)?;
            audit_tx!(c, audit, &digest);
            Ok(digest)
        })
    }

    /// All digests.
    pub fn list_digests(&self) -> Result<Vec<Digest>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| digests::table
            .order(digests::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The digest of a category, if it has one.
    pub fn digest_of(&self, category_id: Id) -> Result<Option<Digest>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| digests::table
            .filter(digests::category_id.eq(category_id))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// Ends a category's digest and records `audit` with the digest
    /// removed; its announcements go out one by one again.
    pub fn remove_digest(
        &self,
        category_id: Id,
        audit: &AuditWith<'_, Digest>,
    ) -> Result<Digest, StorageError> {
        with_write_tx!(self, |c| {
            let row: Row =
                diesel::delete(digests::table.filter(digests::category_id.eq(category_id)))
                    .returning(Row::as_returning())
                    .get_result(c)
                    .optional()?
                    .or_not_found(|| format!("digest of category {category_id}"))?;
            let digest = Digest::try_from(row)?;
            audit_tx!(c, audit, &digest);
            Ok(digest)
        })
    }

    /// Fires one due digest, if any: bundles the category's announcements
    /// since the last run into one announcement with broadcasts on
    /// `channels`, and moves the digest to its next slot after `now`. A
    /// digest that missed several slots (downtime) fires once. Returns the
    /// digest announcement, or `None` if no digest was due; a due digest
    /// with nothing new just moves on.
    pub fn fire_due_digest(
        &self,
        now: DateTime<Utc>,
        channels: &[crate::domain::ChannelPlan],
        compose: &Compose<'_>,
    ) -> Result<Option<(Digest, Option<Announcement>)>, StorageError> {
        let now_db = time::to_db(now);
        macro_rules! body {
            ($c:expr, $picked:expr) => {{
                let picked: Option<Row> = $picked;
                let c = $c;
                let Some(row) = picked else { return Ok(None) };
                let digest: Digest = row.try_into()?;
                let since = time::to_db(digest.last_run_at.unwrap_or(digest.created_at));
                let items: Vec<(AnnouncementRow, Option<ImageRow>)> = announcements::table
                    .left_join(media::table)
                    .filter(announcements::category_id.eq(digest.category_id))
                    .filter(announcements::digest_id.is_null())
                    .filter(announcements::cancelled_at.is_null())
                    .filter(announcements::publish_at.gt(since))
                    .filter(announcements::publish_at.le(now_db))
                    .order((announcements::publish_at.asc(), announcements::id.asc()))
                    .select((
                        AnnouncementRow::as_select(),
                        Option::<ImageRow>::as_select(),
                    ))
                    .load(c)?;
                let items = items
                    .into_iter()
                    .map(|(a, i)| a.into_announcement(i))
                    .collect::<Result<Vec<Announcement>, StorageError>>()?;
                let created = match compose(&digest, &items) {
                    Some(mut new) => {
                        new.digest_id = Some(digest.id);
                        let (row, image) =
                            insert_announcement_tx!(&mut *c, &new, channels, now_db)?;
                        Some(row.into_announcement(image)?)
                    }
                    None => None,
                };
                let next = next_slot(now, digest.local_time, digest.timezone);
                diesel::update(digests::table.find(digest.id))
                    .set((
                        digests::last_run_at.eq(Some(now_db)),
                        digests::next_run_at.eq(time::to_db(next)),
                    ))
                    .execute(c)?;
                Ok::<_, StorageError>(Some((digest, created)))
            }};
        }
        macro_rules! due {
            () => {
                digests::table
                    .filter(digests::next_run_at.le(now_db))
                    .order(digests::next_run_at.asc())
                    .select(Row::as_select())
            };
        }
        match self.pool() {
            Pool::Sqlite(p) => p
                .get()?
                .immediate_transaction(|c| body!(c, due!().first(c).optional()?)),
            Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction(|c| body!(c, due!().for_update().skip_locked().first(c).optional()?))
            }
        }
    }
}
