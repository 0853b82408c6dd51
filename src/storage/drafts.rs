//! Drafts of the staff application's composer, and categories' four-eyes
//! rule. A draft holds public content only (its picture already stripped
//! of metadata), so nothing in it is encrypted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    audit::audit_tx,
    error::OrNotFound,
    schema::{categories, drafts},
    time, with_conn, with_write_tx, AuditWith, Database, StorageError,
};
use crate::domain::{Draft, DraftFields, DraftImage, DraftState, Id, ImageFormat};

#[derive(Queryable, Selectable)]
#[diesel(table_name = drafts)]
struct Row {
    id: i64,
    author: String,
    category: String,
    title: String,
    body: String,
    urgent: bool,
    schedule: String,
    event_start: String,
    event_end: String,
    event_location: String,
    corrects_id: Option<i64>,
    replaces_id: Option<i64>,
    image_mime: Option<String>,
    image_data: Option<Vec<u8>>,
    image_alt: String,
    state: String,
    submitted_by: Option<String>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<Row> for Draft {
    type Error = StorageError;

    fn try_from(r: Row) -> Result<Self, StorageError> {
        let image = match (r.image_mime, r.image_data) {
            (Some(mime), Some(bytes)) => Some(DraftImage {
                format: ImageFormat::from_mime_type(&mime).ok_or_else(|| {
                    StorageError::Corrupt(crate::domain::DomainError::Invalid {
                        field: "draft image type",
                        value: mime.clone(),
                        expected: "image/jpeg, image/png or image/webp",
                    })
                })?,
                bytes,
            }),
            _ => None,
        };
        Ok(Draft {
            id: r.id,
            author: r.author,
            fields: DraftFields {
                category: r.category,
                title: r.title,
                body: r.body,
                urgent: r.urgent,
                schedule: r.schedule,
                event_start: r.event_start,
                event_end: r.event_end,
                event_location: r.event_location,
                corrects_id: r.corrects_id,
                image_alt: r.image_alt,
            },
            replaces_id: r.replaces_id,
            image,
            state: DraftState::parse(&r.state)?,
            submitted_by: r.submitted_by,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        })
    }
}

/// What happens to a draft's picture when it is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageUpdate {
    Keep,
    Remove,
    Set(DraftImage),
}

/// A draft in the list: without its picture's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSummary {
    pub id: Id,
    pub author: String,
    pub title: String,
    pub category: String,
    pub state: DraftState,
    pub replaces_id: Option<Id>,
    pub updated_at: DateTime<Utc>,
}

impl Database {
    /// Stores a new draft (`id` `None`) or saves an existing one; saving
    /// sets it back to [`DraftState::Editing`] (a changed draft needs a new
    /// approval). Returns its id.
    pub fn save_draft(
        &self,
        id: Option<Id>,
        author: &str,
        fields: &DraftFields,
        replaces_id: Option<Id>,
        image: &ImageUpdate,
    ) -> Result<Id, StorageError> {
        let now = time::to_db(time::now());
        let values = (
            drafts::category.eq(&fields.category),
            drafts::title.eq(&fields.title),
            drafts::body.eq(&fields.body),
            drafts::urgent.eq(fields.urgent),
            drafts::schedule.eq(&fields.schedule),
            drafts::event_start.eq(&fields.event_start),
            drafts::event_end.eq(&fields.event_end),
            drafts::event_location.eq(&fields.event_location),
            drafts::corrects_id.eq(fields.corrects_id),
            drafts::image_alt.eq(&fields.image_alt),
            drafts::state.eq(DraftState::Editing.as_str()),
            drafts::submitted_by.eq(None::<String>),
            drafts::updated_at.eq(now),
        );
        let (mime, data) = match image {
            ImageUpdate::Set(i) => (Some(i.format.mime_type()), Some(i.bytes.as_slice())),
            _ => (None, None),
        };
        with_write_tx!(self, |c| {
            let id = match id {
                Some(id) => {
                    let n = diesel::update(drafts::table.find(id))
                        .set(values)
                        .execute(c)?;
                    if n == 0 {
                        return Err(StorageError::NotFound {
                            what: format!("draft {id}"),
                        });
                    }
                    id
                }
                None => diesel::insert_into(drafts::table)
                    .values((
                        values,
                        drafts::author.eq(author),
                        drafts::replaces_id.eq(replaces_id),
                        drafts::created_at.eq(now),
                    ))
                    .returning(drafts::id)
                    .get_result(c)?,
            };
            if *image != ImageUpdate::Keep {
                diesel::update(drafts::table.find(id))
                    .set((drafts::image_mime.eq(mime), drafts::image_data.eq(data)))
                    .execute(c)?;
            }
            Ok(id)
        })
    }

    /// One draft.
    pub fn get_draft(&self, id: Id) -> Result<Draft, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| drafts::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("draft {id}"))?.try_into()
    }

    /// Every draft, the latest change first.
    pub fn list_drafts(&self) -> Result<Vec<DraftSummary>, StorageError> {
        type R = (
            i64,
            String,
            String,
            String,
            String,
            Option<i64>,
            chrono::NaiveDateTime,
        );
        let rows: Vec<R> = with_conn!(self, |c| drafts::table
            .order(drafts::updated_at.desc())
            .select((
                drafts::id,
                drafts::author,
                drafts::title,
                drafts::category,
                drafts::state,
                drafts::replaces_id,
                drafts::updated_at,
            ))
            .load(c)?);
        rows.into_iter()
            .map(|(id, author, title, category, state, replaces_id, at)| {
                Ok(DraftSummary {
                    id,
                    author,
                    title,
                    category,
                    state: DraftState::parse(&state)?,
                    replaces_id,
                    updated_at: time::from_db(at),
                })
            })
            .collect()
    }

    /// Marks a draft as waiting for a second editor's approval, if it was
    /// last saved at `seen` (what the submitter saw is what is approved).
    pub fn submit_draft(
        &self,
        id: Id,
        by: &str,
        seen: DateTime<Utc>,
        audit: &AuditWith<'_, Id>,
    ) -> Result<(), StorageError> {
        with_write_tx!(self, |c| {
            let n = diesel::update(
                drafts::table
                    .find(id)
                    .filter(drafts::updated_at.eq(time::to_db(seen)))
                    .filter(drafts::state.eq(DraftState::Editing.as_str())),
            )
            .set((
                drafts::state.eq(DraftState::AwaitingApproval.as_str()),
                drafts::submitted_by.eq(Some(by)),
            ))
            .execute(c)?;
            if n == 0 {
                return Err(StorageError::Refused(format!(
                    "draft {id} changed or was submitted meanwhile; reload it"
                )));
            }
            audit_tx!(c, audit, &id);
            Ok(())
        })
    }

    /// Deletes a draft (published, or discarded with `audit`).
    pub fn delete_draft(
        &self,
        id: Id,
        audit: Option<&AuditWith<'_, Id>>,
    ) -> Result<(), StorageError> {
        with_write_tx!(self, |c| {
            diesel::delete(drafts::table.find(id)).execute(c)?;
            if let Some(audit) = audit {
                audit_tx!(c, audit, &id);
            }
            Ok(())
        })
    }

    /// Whether drafts of category `slug` need a second editor's approval.
    pub fn category_requires_approval(&self, slug: &str) -> Result<bool, StorageError> {
        let v: Option<bool> = with_conn!(self, |c| categories::table
            .filter(categories::slug.eq(slug))
            .select(categories::requires_approval)
            .first(c)
            .optional()?);
        Ok(v.unwrap_or(false))
    }

    /// Sets the four-eyes rule of category `slug`.
    pub fn set_category_approval(
        &self,
        slug: &str,
        required: bool,
        audit: &AuditWith<'_, bool>,
    ) -> Result<(), StorageError> {
        with_write_tx!(self, |c| {
            let n = diesel::update(categories::table.filter(categories::slug.eq(slug)))
                .set(categories::requires_approval.eq(required))
                .execute(c)?;
            if n == 0 {
                return Err(StorageError::NotFound {
                    what: format!("category {slug}"),
                });
            }
            audit_tx!(c, audit, &required);
            Ok(())
        })
    }
}
