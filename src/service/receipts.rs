//! Provider delivery receipts (delivered, read, failed) from webhooks.

use herold_channel_api::{ChannelKind, DeliveryStatus, InboundEvent};
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
                ..
            } = event
            else {
                summary.other += 1;
                continue;
            };
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
                StatusApplied::Unknown => summary.unknown += 1,
            }
        }
        if summary.unknown > 0 {
            tracing::info!(channel = %channel, unknown = summary.unknown, "receipts for unknown message ids");
        }
        Ok(summary)
    }
}
