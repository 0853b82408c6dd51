//! The append-only audit log.

use diesel::prelude::*;

use super::{schema::audit_events, time, with_conn, Database, StorageError};
use crate::domain::{AuditEvent, NewAuditEvent};

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct Row {
    id: i64,
    actor: String,
    action: String,
    subject: String,
    details: String,
    occurred_at: chrono::NaiveDateTime,
}

impl From<Row> for AuditEvent {
    fn from(r: Row) -> Self {
        AuditEvent {
            id: r.id,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            details: r.details,
            occurred_at: time::from_db(r.occurred_at),
        }
    }
}

impl Database {
    /// Records an audit event.
    pub fn record_audit(&self, e: &NewAuditEvent) -> Result<AuditEvent, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_conn!(self, |c| diesel::insert_into(audit_events::table)
            .values((
                audit_events::actor.eq(&e.actor),
                audit_events::action.eq(&e.action),
                audit_events::subject.eq(&e.subject),
                audit_events::details.eq(&e.details),
                audit_events::occurred_at.eq(now),
            ))
            .returning(Row::as_returning())
            .get_result(c)?);
        Ok(row.into())
    }

    /// The newest audit events first.
    pub fn list_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| audit_events::table
            .order(audit_events::id.desc())
            .limit(limit)
            .select(Row::as_select())
            .load(c)?);
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
