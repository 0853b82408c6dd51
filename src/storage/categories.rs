//! Categories residents subscribe to.

use diesel::prelude::*;

use super::{
    audit::audit_tx,
    error::OrNotFound,
    schema::{announcements, categories, consent_events, subscribers, subscriptions},
    time, with_conn, with_write_tx, AuditWith, Database, StorageError,
};
use crate::domain::{Category, ConsentKind, Id, Slug};

#[derive(Queryable, Selectable)]
#[diesel(table_name = categories)]
pub(super) struct CategoryRow {
    id: i64,
    slug: String,
    name: String,
    created_at: chrono::NaiveDateTime,
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Category {
            id: r.id,
            slug: Slug::from_trusted(r.slug),
            name: r.name,
            created_at: time::from_db(r.created_at),
        }
    }
}

use CategoryRow as Row;

/// What removing a category did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Subscriptions ended (each recorded as withdrawn consent).
    pub subscriptions_ended: usize,
}

impl Database {
    /// Creates a category and records `audit` with it; a slug that exists
    /// is a conflict.
    pub fn add_category(
        &self,
        slug: &Slug,
        name: &str,
        audit: &AuditWith<'_, Category>,
    ) -> Result<Category, StorageError> {
        let name = Category::validate_name(name)?;
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let row: Row = diesel::insert_into(categories::table)
                .values((
                    categories::slug.eq(slug.as_str()),
                    categories::name.eq(&name),
                    categories::created_at.eq(now),
                ))
                .returning(Row::as_returning())
                .get_result(c)
                .map_err(|e| match StorageError::from(e) {
                    StorageError::Conflict { .. } => StorageError::Conflict {
                        what: format!("category \"{slug}\""),
                    },
                    other => other,
                })?;
            let category = Category::from(row);
            audit_tx!(c, audit, &category);
            Ok(category)
        })
    }

    /// All categories, by slug.
    pub fn list_categories(&self) -> Result<Vec<Category>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| categories::table
            .order(categories::slug.asc())
            .select(Row::as_select())
            .load(c)?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The category with this slug, if any.
    pub fn find_category(&self, slug: &str) -> Result<Option<Category>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| categories::table
            .filter(categories::slug.eq(slug))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        Ok(row.map(Into::into))
    }

    /// The category with this id.
    pub fn get_category(&self, id: Id) -> Result<Category, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| categories::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(Into::into)
            .or_not_found(|| format!("category {id}"))
    }

    /// Removes a category nobody published in and records `audit` with it.
    /// Its subscriptions end, and each subscriber gets a `withdrawn` consent
    /// event for it, so the ledger explains why they stopped receiving it.
    pub fn remove_category(
        &self,
        slug: &str,
        wording_version: &str,
        audit: &AuditWith<'_, Removed>,
    ) -> Result<Removed, StorageError> {
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let cat: Row = categories::table
                .filter(categories::slug.eq(slug))
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("category \"{slug}\""))?;
            let used: i64 = announcements::table
                .filter(announcements::category_id.eq(cat.id))
                .count()
                .get_result(c)?;
            if used > 0 {
                return Err(StorageError::Refused(format!(
                    "category \"{slug}\" has {used} announcement(s) and cannot be removed; announcements are kept for the record"
                )));
            }
            let subs: Vec<(i64, String, Option<String>)> = subscriptions::table
                .inner_join(subscribers::table)
                .filter(subscriptions::category_id.eq(cat.id))
                .select((
                    subscribers::id,
                    subscribers::channel,
                    subscribers::pseudonym,
                ))
                .load(c)?;
            for (sid, channel, pseudonym) in &subs {
                diesel::insert_into(consent_events::table)
                    .values((
                        consent_events::subscriber_id.eq(sid),
                        consent_events::pseudonym.eq(pseudonym),
                        consent_events::channel.eq(channel),
                        consent_events::kind.eq(ConsentKind::Withdrawn.as_str()),
                        consent_events::categories.eq(slug),
                        consent_events::wording_version.eq(wording_version),
                        consent_events::occurred_at.eq(now),
                        consent_events::evidence.eq("category-removed"),
                    ))
                    .execute(c)?;
            }
            let ended =
                diesel::delete(subscriptions::table.filter(subscriptions::category_id.eq(cat.id)))
                    .execute(c)?;
            diesel::delete(categories::table.find(cat.id)).execute(c)?;
            let removed = Removed {
                subscriptions_ended: ended,
            };
            audit_tx!(c, audit, &removed);
            Ok(removed)
        })
    }
}
