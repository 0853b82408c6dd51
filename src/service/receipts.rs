//! Provider delivery receipts (delivered, read, failed) from webhooks.

use herold_channel_api::{ChannelKind, DeliveryStatus, InboundEvent, LateFailure};
use serde::Serialize;

use super::{Herold, ServiceError};
use crate::{domain::DeliveryState, storage::StatusApplied};

/// What a batch of webhook events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptSummary {
    /// Deliveries moved forward.
    pub applied: usize,
    /// Reports already known or out of order (nothing changed).
    pub ignored: usize,
    /// Reports for message ids Herold does not know.
    pub unknown: usize,
    /// Events other than delivery statuses, left to their own handlers.
    pub other: usize,
}

impl Herold {
    /// Applies the delivery statuses among `events` of `channel`.
    pub fn apply_receipts(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
    ) -> Result<ReceiptSummary, ServiceError> {
        let mut summary = ReceiptSummary::default();
        for event in events {
            let InboundEvent::Status {
                provider_message_id,
                status,
                error,
                failure,
                ..
            } = event
            else {
                summary.other += 1;
                continue;
            };
            if let (DeliveryStatus::Failed, Some(failure)) = (status, failure) {
                let reason = error.as_deref().unwrap_or("failed after it was sent");
                match self.apply_late_failure(channel, provider_message_id, *failure, reason)? {
                    StatusApplied::Applied => summary.applied += 1,
                    StatusApplied::Ignored => summary.ignored += 1,
                    StatusApplied::Unknown => summary.unknown += 1,
                }
                continue;
            }
            let next = match status {
                // The engine records `sent` itself when the provider accepts.
                DeliveryStatus::Sent => {
                    summary.ignored += 1;
                    continue;
                }
                DeliveryStatus::Delivered => DeliveryState::Delivered,
                DeliveryStatus::Read => DeliveryState::Read,
                DeliveryStatus::Failed => DeliveryState::Failed,
            };
            match self.db.apply_provider_status(
                channel,
                provider_message_id,
                next,
                error.as_deref(),
            )? {
                StatusApplied::Applied => summary.applied += 1,
                StatusApplied::Ignored => summary.ignored += 1,
                StatusApplied::Unknown
                    if self.db.outbox_sent_as(channel, provider_message_id)? =>
                {
                    // A reply's status: nothing to move forward.
                    summary.ignored += 1
                }
                StatusApplied::Unknown => summary.unknown += 1,
            }
        }
        if summary.unknown > 0 {
            tracing::info!(channel = %channel, unknown = summary.unknown, "receipts for unknown message ids");
        }
        Ok(summary)
    }

    /// A failure reported after the provider took the message, as its
    /// adapter classified it: sent again later (after a delay, as the
    /// template once the conversation window closed, or once the held
    /// channel is resumed), or given up — ending the subscription when the
    /// recipient is gone, with the provider's reason in the ledger.
    fn apply_late_failure(
        &self,
        channel: ChannelKind,
        provider_message_id: &str,
        failure: LateFailure,
        reason: &str,
    ) -> Result<StatusApplied, ServiceError> {
        let now = chrono::Utc::now();
        let max_attempts = self.config.delivery.max_attempts;
        let requeue = |at: chrono::DateTime<chrono::Utc>, forget_window: bool| {
            self.db.requeue_late_failure(
                channel,
                provider_message_id,
                at,
                reason,
                max_attempts,
                forget_window,
            )
        };
        Ok(match failure {
            LateFailure::Retry { after_seconds } => requeue(
                // At most a day: a provider's hint beyond that is no plan.
                now + chrono::Duration::seconds(
                    i64::try_from(after_seconds.min(86_400)).unwrap_or(86_400),
                ),
                false,
            )?,
            LateFailure::WindowClosed => requeue(now, true)?,
            LateFailure::Hold => {
                let applied = requeue(now, false)?;
                self.db
                    .pause_channel(channel, now + chrono::Duration::days(365), Some(reason))?;
                tracing::error!(channel = %channel, reason, "channel held: fix its configuration, then run `herold channels resume {channel}`");
                applied
            }
            LateFailure::GiveUp { recipient_gone } => {
                let applied = self.db.apply_provider_status(
                    channel,
                    provider_message_id,
                    DeliveryState::Failed,
                    Some(reason),
                )?;
                if let (StatusApplied::Applied, true) = (applied, recipient_gone) {
                    let subscriber = self
                        .db
                        .delivery_by_provider_id(channel, provider_message_id)?
                        .and_then(|d| d.subscriber_id);
                    if let Some(id) = subscriber {
                        let evidence = format!("provider:recipient-gone: {reason}");
                        self.db
                            .unsubscribe(id, super::CONSENT_WORDING_VERSION, Some(&evidence))?;
                        tracing::info!(subscriber = id, channel = %channel, "recipient gone (reported late); subscription ended");
                    }
                }
                applied
            }
        })
    }
}
