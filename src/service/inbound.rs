//! Inbound events: accepted by the webhook (stored before the provider is
//! answered) or by polling (stored before the provider is told they
//! arrived) and processed, once each, by the inbound processor
//! (`crate::inbound`), which hands every event to its core service here.

use herold_channel_api::{ChannelKind, InboundContent, InboundEvent};

use super::{Herold, PhotoFetch, ResidentCommand, ServiceError};
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
    /// A resident's command: carried out, its reply queued.
    Answered,
    /// A resident's text or photo: added to their conversation with staff.
    Conversation,
    /// Media the service does not take, or a photo it cannot take (too
    /// large, no image, not received): politely refused.
    Refused,
}

impl InboundOutcome {
    /// The stored, log-safe name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Applied => "applied",
            InboundOutcome::Ignored => "ignored",
            InboundOutcome::Unknown => "unknown",
            InboundOutcome::Answered => "answered",
            InboundOutcome::Conversation => "conversation",
            InboundOutcome::Refused => "refused",
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
        let stored = self.db.store_inbound(channel, events, chrono::Utc::now())?;
        self.wake_processor(&stored);
        Ok(stored)
    }

    /// Resolves once this process stored new inbound events after the
    /// last wake-up was taken (a wake-up with nobody waiting is kept for
    /// the next call).
    pub async fn inbound_stored(&self) {
        self.inbound_stored.notified().await;
    }

    fn wake_processor(&self, stored: &StoredInbound) {
        if stored.new > 0 {
            self.inbound_stored.notify_one();
        }
    }

    /// Stores the events of one poll, like [`Herold::accept_inbound`], with
    /// the channel's polling cursor after them, in one transaction — only
    /// while `owner` holds the cursor's lease (`None` otherwise: nothing
    /// stored).
    pub fn accept_polled(
        &self,
        channel: ChannelKind,
        events: &[InboundEvent],
        owner: &str,
        cursor: Option<&str>,
    ) -> Result<Option<StoredInbound>, ServiceError> {
        let stored = self
            .db
            .store_polled(channel, events, owner, cursor, chrono::Utc::now())?;
        if let Some(s) = &stored {
            self.wake_processor(s);
        }
        Ok(stored)
    }

    /// Hands one stored event to the service it belongs to; `photo` is
    /// what the inbound processor fetched for a photo event (ignored for
    /// any other).
    pub fn process_inbound(
        &self,
        channel: ChannelKind,
        event: &InboundEvent,
        photo: Option<PhotoFetch>,
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
            InboundEvent::Command {
                from, received_at, ..
            }
            | InboundEvent::Message {
                from, received_at, ..
            } => {
                let outcome = self.handle_resident_event(channel, event, photo)?;
                // After the event: a Start has created the subscriber by
                // now, a Löschen has removed the address it is found by.
                self.db
                    .record_inbound(channel, from.as_str(), *received_at)?;
                Ok(outcome)
            }
        }
    }

    /// Resident commands (START, STOP, LÖSCHEN, …, and a message that only
    /// names categories) are carried out and answered
    /// ([`Herold::answer_command`]), with the event's provider id as the
    /// evidence of consent. Processing the same event again changes nothing
    /// more: the commands leave the same state, and the outbox takes one
    /// reply per message. Other texts go to the resident's conversation with
    /// staff, and so do photos ([`Herold::resident_photo`]); unsupported
    /// media get a refusal.
    fn handle_resident_event(
        &self,
        channel: ChannelKind,
        event: &InboundEvent,
        photo: Option<PhotoFetch>,
    ) -> Result<InboundOutcome, ServiceError> {
        // The event's stored reference, not the provider's id (which names
        // the chat): the consent evidence and the reply's source.
        let message_id = self.db.inbound_key(channel, event);
        let (from, command, language) = match event {
            InboundEvent::Command {
                from,
                command,
                language,
                ..
            } => (from, command.clone(), *language),
            InboundEvent::Message {
                from,
                content: InboundContent::Text(text),
                ..
            } => match self.category_choice(text)? {
                Some(choice) => (from, choice, None),
                None => {
                    // A report, a question, praise: a conversation for staff.
                    self.resident_message(channel, from.as_str(), text, &message_id)?;
                    return Ok(InboundOutcome::Conversation);
                }
            },
            InboundEvent::Message {
                from,
                content: InboundContent::Unsupported { .. },
                ..
            } => {
                self.refuse_media(channel, from.as_str(), &message_id)?;
                return Ok(InboundOutcome::Refused);
            }
            InboundEvent::Message {
                from,
                content: InboundContent::Photo { caption, .. },
                ..
            } => {
                return self.resident_photo(
                    channel,
                    from.as_str(),
                    caption.as_deref(),
                    photo,
                    &message_id,
                );
            }
            InboundEvent::Status { .. } => return Ok(InboundOutcome::Ignored),
        };
        self.answer_command(&ResidentCommand {
            channel,
            address: from.as_str(),
            command: &command,
            language,
            message_id: &message_id,
        })?;
        Ok(InboundOutcome::Answered)
    }
}
