//! Inbound events: accepted by the webhook (stored before the provider is
//! answered) and processed, once each, by the inbound processor
//! (`crate::inbound`), which hands every event to its core service here.

use herold_channel_api::{ChannelKind, InboundEvent};

use super::{Herold, ServiceError};
use crate::storage::StoredInbound;

/// What processing one inbound event did (stored as its `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundOutcome {
    /// A delivery receipt moved its delivery forward.
    Applied,
    /// A receipt already known, out of order, or for `sent`: nothing changed.
    Ignored,
    /// A receipt for a message id Herold does not know.
    Unknown,
    /// A resident command or message: recorded, not acted on yet.
    NotHandledYet,
}

impl InboundOutcome {
    /// The stored, log-safe name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Applied => "applied",
            InboundOutcome::Ignored => "ignored",
            InboundOutcome::Unknown => "unknown",
            InboundOutcome::NotHandledYet => "not handled yet",
        }
    }
}

impl Herold {
    /// Stores the verified, parsed events of one webhook request for
    /// processing, each once per provider id.
    pub fn accept_inbound(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
    ) -> Result<StoredInbound, ServiceError> {
        Ok(self.db.store_inbound(channel, events, chrono::Utc::now())?)
    }

    /// Hands one stored event to the service it belongs to.
    pub fn process_inbound(
        &self,
        channel: ChannelKind,
        event: &InboundEvent,
    ) -> Result<InboundOutcome, ServiceError> {
        match event {
            // Receipts only move a delivery forward (sent → delivered →
            // read, sent → failed) and each event is one status of one
            // message. Applying the same receipt again — after a crash
            // between applying it and marking it done, or a lease that
            // expired mid-way — finds the delivery already there or
            // further and changes nothing; so at-least-once processing is
            // exactly-once in effect, whatever the order.
            InboundEvent::Status { .. } => {
                let s = self.apply_receipts(channel, std::slice::from_ref(event))?;
                Ok(if s.applied > 0 {
                    InboundOutcome::Applied
                } else if s.unknown > 0 {
                    InboundOutcome::Unknown
                } else {
                    InboundOutcome::Ignored
                })
            }
            InboundEvent::Command { .. } | InboundEvent::Message { .. } => {
                self.handle_resident_event(channel, event)
            }
        }
    }

    /// Resident commands (START, STOP, LÖSCHEN, …) and messages. Their
    /// services come with the messenger channels; until then each is only
    /// recorded as processed, "not handled yet" (it stays in
    /// `inbound_events`, encrypted).
    fn handle_resident_event(
        &self,
        channel: ChannelKind,
        event: &InboundEvent,
    ) -> Result<InboundOutcome, ServiceError> {
        let _ = event;
        tracing::debug!(channel = %channel, "resident event recorded, not handled yet");
        Ok(InboundOutcome::NotHandledYet)
    }
}
