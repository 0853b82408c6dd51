//! The append-only audit log.
//!
//! Storage functions that carry out a staff action (publishing, cancelling,
//! controlling broadcasts, resuming a channel, managing categories and
//! digests) take an [`AuditWith`] and record its event inside their own
//! write transaction: the change and its audit row commit together or not
//! at all, and no caller can make the change without the row.

use diesel::prelude::*;

use super::{schema::audit_events, time, with_conn, Database, StorageError};
use crate::domain::{AuditEvent, NewAuditEvent};

/// Builds the audit event of a staff action from its outcome (the id of
/// what was created, how many rows changed…). Called once, inside the
/// action's transaction, after the change succeeded.
pub type AuditWith<'a, T> = dyn Fn(&T) -> NewAuditEvent + 'a;

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

/// Records the audit event `$audit` builds from `$outcome` inside an open
/// transaction; a macro so it compiles for both connection types (see
/// `with_conn!`).
macro_rules! audit_tx {
    ($c:expr, $audit:expr, $outcome:expr) => {{
        let event: $crate::domain::NewAuditEvent = ($audit)($outcome);
        diesel::insert_into($crate::storage::schema::audit_events::table)
            .values((
                $crate::storage::schema::audit_events::actor.eq(&event.actor),
                $crate::storage::schema::audit_events::action.eq(&event.action),
                $crate::storage::schema::audit_events::subject.eq(&event.subject),
                $crate::storage::schema::audit_events::details.eq(&event.details),
                $crate::storage::schema::audit_events::occurred_at
                    .eq($crate::storage::time::to_db($crate::storage::time::now())),
            ))
            .execute($c)?;
    }};
}
pub(super) use audit_tx;

impl Database {
    /// Records an audit event on its own, for actions that change nothing
    /// else in the database. Staff actions that change state record theirs
    /// in their own transaction (see [`AuditWith`]).
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

    /// Audit events matching `filter`, newest first.
    pub fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StorageError> {
        let from = filter.from.map(time::to_db);
        let to = filter.to.map(time::to_db);
        let rows: Vec<Row> = with_conn!(self, |c| {
            let mut q = audit_events::table
                .order(audit_events::id.desc())
                .limit(filter.limit)
                .select(Row::as_select())
                .into_boxed();
            if let Some(actor) = &filter.actor {
                q = q.filter(audit_events::actor.eq(actor));
            }
            if let Some(action) = &filter.action {
                // `conversation` finds every `conversation.*` action.
                q = q.filter(
                    audit_events::action
                        .eq(action)
                        .or(audit_events::action.like(format!("{}.%", escape_like(action)))),
                );
            }
            if let Some(from) = from {
                q = q.filter(audit_events::occurred_at.ge(from));
            }
            if let Some(to) = to {
                q = q.filter(audit_events::occurred_at.lt(to));
            }
            q.load(c)?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Which audit events to list ([`Database::search_audit`]).
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// Only this staff member (or `cli`, `system`).
    pub actor: Option<String>,
    /// Only this action, or every action under this prefix (`manual`).
    pub action: Option<String>,
    /// From this time on.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Before this time.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many.
    pub limit: i64,
}

/// The prefix without `%`, so it cannot widen the match (an `_`, any one
/// character in LIKE, only ever matches itself among dotted action names).
fn escape_like(s: &str) -> String {
    s.chars().filter(|c| *c != '%').collect()
}
