//! Reply templates of the inbox, kept by administrators.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    audit::audit_tx, error::OrNotFound, schema::reply_templates, time, with_conn, with_write_tx,
    AuditWith, Database, StorageError,
};
use crate::domain::Id;

/// A reply template.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = reply_templates)]
pub struct ReplyTemplateRow {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub updated_by: String,
    updated_at: chrono::NaiveDateTime,
}

impl ReplyTemplateRow {
    /// When it was last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        time::from_db(self.updated_at)
    }
}

impl Database {
    /// Every template, by name.
    pub fn reply_templates(&self) -> Result<Vec<ReplyTemplateRow>, StorageError> {
        Ok(with_conn!(self, |c| reply_templates::table
            .order(reply_templates::name.asc())
            .select(ReplyTemplateRow::as_select())
            .load(c)?))
    }

    /// One template.
    pub fn reply_template(&self, id: Id) -> Result<ReplyTemplateRow, StorageError> {
        let row: Option<ReplyTemplateRow> = with_conn!(self, |c| reply_templates::table
            .find(id)
            .select(ReplyTemplateRow::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("reply template {id}"))
    }

    /// Adds a template (`id` `None`) or changes one; a name in use is a
    /// conflict.
    pub fn save_reply_template(
        &self,
        id: Option<Id>,
        name: &str,
        body: &str,
        by: &str,
        audit: &AuditWith<'_, Id>,
    ) -> Result<Id, StorageError> {
        let now = time::to_db(time::now());
        let values = (
            reply_templates::name.eq(name),
            reply_templates::body.eq(body),
            reply_templates::updated_by.eq(by),
            reply_templates::updated_at.eq(now),
        );
        with_write_tx!(self, |c| {
            let id = match id {
                Some(id) => {
                    let n = diesel::update(reply_templates::table.find(id))
                        .set(values)
                        .execute(c)?;
                    if n == 0 {
                        return Err(StorageError::NotFound {
                            what: format!("reply template {id}"),
                        });
                    }
                    id
                }
                None => diesel::insert_into(reply_templates::table)
                    .values(values)
                    .returning(reply_templates::id)
                    .get_result(c)?,
            };
            audit_tx!(c, audit, &id);
            Ok(id)
        })
    }

    /// Deletes a template.
    pub fn delete_reply_template(
        &self,
        id: Id,
        audit: &AuditWith<'_, Id>,
    ) -> Result<(), StorageError> {
        with_write_tx!(self, |c| {
            diesel::delete(reply_templates::table.find(id)).execute(c)?;
            audit_tx!(c, audit, &id);
            Ok(())
        })
    }
}
