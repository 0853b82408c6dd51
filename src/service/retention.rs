//! The retention job: deletes each kind of personal data when its period
//! (`[retention]`) is over, once a day on one process of the database, and
//! records what it deleted in the audit log.

use chrono::{DateTime, TimeZone as _, Utc};
use serde::Serialize;
use serde_json::json;

use super::{Herold, ServiceError};
use crate::{config::RetentionConfig, domain::NewAuditEvent, storage::StorageError};

/// The `meta` key holding when the next daily run is due.
const NEXT_RUN_KEY: &str = "retention.next_run_at";

/// What one run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionCounts {
    /// Unconfirmed sign-ups deleted.
    pub unconfirmed_signups: usize,
    /// Addresses of residents who left deleted.
    pub left_addresses: usize,
    /// Closed conversations deleted with their messages and photos.
    pub closed_conversations: usize,
    /// Finished delivery records deleted.
    pub deliveries: usize,
    /// Processed inbound events deleted.
    pub inbound_events: usize,
    /// Audit log entries deleted.
    pub audit_events: usize,
}

impl Herold {
    /// Deletes everything whose retention period is over at `now` and
    /// records the counts in the audit log (as actor `retention`).
    pub fn run_retention(&self, now: DateTime<Utc>) -> Result<RetentionCounts, ServiceError> {
        let r = &self.config.retention;
        let days = RetentionConfig::days;
        let db = &self.db;
        let counts = RetentionCounts {
            unconfirmed_signups: db.delete_unconfirmed(
                now - days(r.unconfirmed_days),
                self.config.privacy.erasure_record,
            )?,
            left_addresses: db.forget_left_addresses(now - days(r.left_address_days), now)?,
            closed_conversations: db
                .purge_closed_conversations(now - days(r.closed_conversation_days))?,
            deliveries: db.delete_old_deliveries(now - days(r.delivery_days))?,
            inbound_events: db.delete_old_inbound(now - days(r.inbound_event_days))?,
            audit_events: db.delete_old_audit(now - days(r.audit_days))?,
        };
        // Sign-in failures count for 15 minutes, sessions end after 12
        // hours: a day later neither is needed.
        db.delete_old_sign_in_records(now - chrono::Duration::days(1))?;
        db.record_audit(&NewAuditEvent::new(
            "retention",
            "retention.run",
            "",
            &json!({ "deleted": counts, "periods_days": r }),
        ))?;
        db.checkpoint_wal();
        tracing::info!(?counts, "retention run");
        Ok(counts)
    }

    /// Forgets the addresses of residents who left, when they are to go at
    /// once (`retention.left_address_days = 0`): run by the engine's
    /// maintenance every few seconds, recorded in the audit log when any
    /// went. Returns how many.
    pub fn forget_left_addresses_now(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        if self.config.retention.left_address_days > 0 {
            return Ok(0);
        }
        let n = self.db.forget_left_addresses(now, now)?;
        if n > 0 {
            self.db.record_audit(&NewAuditEvent::new(
                "retention",
                "retention.left_addresses",
                "",
                &json!({ "deleted": n }),
            ))?;
        }
        Ok(n)
    }

    /// Whether the daily run is due at `now`; claims it when so, so that
    /// of several processes sharing the database only one runs it. The
    /// first call only schedules the next run.
    pub fn claim_retention_run(&self, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let next = self.next_retention_run(now);
        self.db.claim_schedule(NEXT_RUN_KEY, now, next)
    }

    /// The first `retention.daily_at` in the configured time zone after
    /// `now`.
    fn next_retention_run(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let tz: chrono_tz::Tz = self.config.timezone.parse().unwrap_or(chrono_tz::UTC);
        let at = self.config.retention.daily_time().unwrap_or_default();
        let local = now.with_timezone(&tz).date_naive();
        (0..3)
            .filter_map(|d| {
                let day = local + chrono::Duration::days(d);
                // A time skipped by a DST change runs at the earliest
                // valid moment after it.
                tz.from_local_datetime(&day.and_time(at))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            })
            .find(|t| *t > now)
            .unwrap_or(now + chrono::Duration::days(1))
    }
}
