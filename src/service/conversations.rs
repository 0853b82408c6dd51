//! Residents' reports and staff answers (seed 002, "Wo klemmt's"): any text
//! that is no command opens or continues a conversation for staff, with an
//! automatic first answer; staff see residents by pseudonym only, answer
//! them on the channel they wrote from, and close the case. Media the
//! service does not take get a polite refusal naming what it does.

use chrono::Utc;
use herold_channel_api::ChannelKind;

use super::{Herold, ServiceError, CONSENT_WORDING_VERSION};
use crate::{
    domain::{
        Conversation, ConversationStatus, Id, InboundMessage, NewAuditEvent, NewPhoto, Photo,
        Pseudonym, SubscriberStatus,
    },
    i18n::t,
    storage::{NewOutboxMessage, NewSubscriber, OutboxRecipient, Redacted},
};

/// One conversation as staff see it in the inbox.
#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub conversation: Conversation,
    /// The resident, by pseudonym only; `None` once they erased themselves.
    pub pseudonym: Option<Pseudonym>,
    pub channel: Option<ChannelKind>,
}

/// A conversation with its messages (decrypted, for staff).
#[derive(Debug, Clone)]
pub struct ConversationView {
    pub entry: InboxEntry,
    pub messages: Vec<InboundMessage>,
    /// The photos that came with the messages (without their bytes).
    pub photos: Vec<Photo>,
}

impl Herold {
    /// A resident's text that is no command: stored in their conversation
    /// (opened if they have none open; someone unknown becomes a contact
    /// without categories, their consent given by writing, with the message
    /// as evidence). A new conversation gets the automatic first answer:
    /// received, an information service, official matters the official way,
    /// 110/112 in an emergency, and the office hours if configured.
    pub fn resident_message(
        &self,
        channel: ChannelKind,
        from: &str,
        text: &str,
        message_id: &str,
    ) -> Result<(), ServiceError> {
        self.resident_wrote(channel, from, Some(text), None, message_id)
    }

    /// A resident's message — text, a checked photo, or both — into their
    /// conversation, as [`Herold::resident_message`] describes.
    pub(super) fn resident_wrote(
        &self,
        channel: ChannelKind,
        from: &str,
        text: Option<&str>,
        photo: Option<&NewPhoto>,
        message_id: &str,
    ) -> Result<(), ServiceError> {
        let subscriber = match self.db().find_subscriber_by_address(channel, from)? {
            Some(s) if s.status != SubscriberStatus::Erased => s,
            _ => self.db().insert_subscriber(&NewSubscriber {
                channel,
                address: from.to_owned(),
                locale: self.config().default_locale.clone(),
                status: SubscriberStatus::Active,
                category_ids: Vec::new(),
                wording_version: CONSENT_WORDING_VERSION.to_owned(),
                evidence: Some(format!("message:{message_id}")),
            })?,
        };
        let wrote = self
            .db()
            .resident_wrote(subscriber.id, text, photo, message_id)?;
        if wrote.opened {
            let locale = subscriber.locale.as_str();
            let hours = self
                .config()
                .conversations
                .office_hours
                .as_deref()
                .map(|h| t(locale, "conversation.office_hours", &[("hours", h)]))
                .unwrap_or_default();
            // Outside the office schedule: when the next answer can come.
            let tz = self.config().tz();
            let now = Utc::now();
            let hours = match self.config().conversations.schedule() {
                Some(s) if !s.is_open(now, tz) => match s.next_opening(now, tz) {
                    Some(next) => format!(
                        "{hours}{}",
                        t(
                            locale,
                            "conversation.outside_hours",
                            &[(
                                "next",
                                &next.with_timezone(&tz).format("%d.%m. %H:%M").to_string()
                            )]
                        )
                    ),
                    None => hours,
                },
                _ => hours,
            };
            let reply = t(
                locale,
                "conversation.received",
                &[
                    ("case", &wrote.conversation.id.to_string()),
                    ("hours", &hours),
                    ("footer", &t(locale, "message.footer", &[])),
                ],
            );
            self.queue_reply(
                channel,
                OutboxRecipient::SubscriberAt(subscriber.id, from.to_owned()),
                &reply,
                locale,
                message_id,
            )?;
            tracing::info!(
                subscriber = subscriber.id,
                conversation = wrote.conversation.id,
                "conversation opened"
            );
        }
        Ok(())
    }

    /// The media gate: voice, video, documents, stickers, locations and
    /// contacts are not taken; the resident hears what is. Nothing of the
    /// message is stored.
    pub fn refuse_media(
        &self,
        channel: ChannelKind,
        from: &str,
        message_id: &str,
    ) -> Result<(), ServiceError> {
        self.answer_unstored(channel, from, message_id, |locale| {
            t(locale, "conversation.media_refused", &[])
        })
    }

    /// Answers a message that is not stored, in the sender's language
    /// (`text` of the locale): to the subscriber if the sender is one, else
    /// to the bare address (kept, encrypted, only until the answer went out).
    pub(super) fn answer_unstored(
        &self,
        channel: ChannelKind,
        from: &str,
        message_id: &str,
        text: impl FnOnce(&str) -> String,
    ) -> Result<(), ServiceError> {
        let (to, locale) = match self.db().find_subscriber_by_address(channel, from)? {
            Some(s) => (
                OutboxRecipient::SubscriberAt(s.id, from.to_owned()),
                s.locale,
            ),
            None => (
                OutboxRecipient::Address(from.to_owned()),
                self.config().default_locale.clone(),
            ),
        };
        self.queue_reply(channel, to, &text(&locale), &locale, message_id)
    }

    /// Open (or closed) conversations, most recently active first.
    pub fn inbox(&self, closed: bool, limit: i64) -> Result<Vec<InboxEntry>, ServiceError> {
        let status = if closed {
            ConversationStatus::Closed
        } else {
            ConversationStatus::Open
        };
        let conversations = self.db().list_conversations(status, limit)?;
        // The residents of the whole page in one query.
        let ids: Vec<Id> = conversations
            .iter()
            .filter_map(|c| c.subscriber_id)
            .collect();
        let subscribers: std::collections::HashMap<Id, crate::domain::Subscriber> = self
            .db()
            .subscribers_by_ids(&ids)?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        Ok(conversations
            .into_iter()
            .map(|conversation| {
                let s = conversation
                    .subscriber_id
                    .and_then(|id| subscribers.get(&id));
                InboxEntry {
                    pseudonym: s
                        .filter(|s| s.status != SubscriberStatus::Erased)
                        .map(|s| s.pseudonym.clone()),
                    channel: s.map(|s| s.channel),
                    conversation,
                }
            })
            .collect())
    }

    /// One conversation with its messages.
    pub fn conversation(&self, id: Id) -> Result<ConversationView, ServiceError> {
        let c = self.db().get_conversation(id)?;
        Ok(ConversationView {
            messages: self.db().messages_of(id)?,
            photos: self.db().photos_of(id)?,
            entry: self.inbox_entry(c)?,
        })
    }

    /// A staff answer: stored, queued for the resident on the channel they
    /// wrote from, and audited, in one transaction.
    pub fn reply_to_resident(
        &self,
        conversation_id: Id,
        text: &str,
        actor: &str,
    ) -> Result<InboundMessage, ServiceError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 4000 {
            return Err(ServiceError::Invalid(crate::domain::DomainError::Invalid {
                field: "text",
                value: text.chars().take(20).collect(),
                expected: "a reply of 1 to 4000 characters",
            }));
        }
        let entry = self.inbox_entry(self.db().get_conversation(conversation_id)?)?;
        let (Some(subscriber), Some(channel)) = (entry.conversation.subscriber_id, entry.channel)
        else {
            return Err(ServiceError::Storage(
                crate::storage::StorageError::Refused(format!(
                    "conversation {conversation_id}: the resident erased their data"
                )),
            ));
        };
        let locale = self.db().get_subscriber(subscriber)?.locale;
        let reply = NewOutboxMessage {
            channel,
            to: OutboxRecipient::Subscriber(subscriber),
            text: Redacted(text.to_owned()),
            locale,
            wait_settled: false,
            erase_after: false,
            source: None,
        };
        let audit = |m: &InboundMessage| {
            NewAuditEvent::new(
                actor,
                "conversation.reply",
                format!("conversation:{conversation_id}"),
                &serde_json::json!({ "message": m.id, "chars": text.chars().count() }),
            )
        };
        Ok(self.db().staff_reply(conversation_id, &reply, &audit)?)
    }

    /// Closes a case (audited).
    pub fn close_conversation(&self, id: Id, actor: &str) -> Result<Conversation, ServiceError> {
        let audit = |c: &Conversation| {
            NewAuditEvent::new(
                actor,
                "conversation.close",
                format!("conversation:{}", c.id),
                &serde_json::json!({}),
            )
        };
        Ok(self.db().close_conversation(id, &audit)?)
    }

    /// Deletes an abusive message from a conversation (audited).
    pub fn delete_message(&self, message_id: Id, actor: &str) -> Result<Id, ServiceError> {
        let audit = |conversation: &Id| {
            NewAuditEvent::new(
                actor,
                "conversation.delete_message",
                format!("conversation:{conversation}"),
                &serde_json::json!({ "message": message_id }),
            )
        };
        Ok(self.db().delete_message(message_id, &audit)?)
    }

    fn inbox_entry(&self, conversation: Conversation) -> Result<InboxEntry, ServiceError> {
        let subscriber = conversation
            .subscriber_id
            .map(|id| self.db().get_subscriber(id))
            .transpose()?;
        Ok(InboxEntry {
            pseudonym: subscriber
                .as_ref()
                .filter(|s| s.status != SubscriberStatus::Erased)
                .map(|s| s.pseudonym.clone()),
            channel: subscriber.map(|s| s.channel),
            conversation,
        })
    }

    /// Queues an answer to a resident's message (one per message).
    fn queue_reply(
        &self,
        channel: ChannelKind,
        to: OutboxRecipient,
        text: &str,
        locale: &str,
        message_id: &str,
    ) -> Result<(), ServiceError> {
        self.db().enqueue_outbox(
            &NewOutboxMessage {
                channel,
                to,
                text: Redacted(text.to_owned()),
                locale: locale.to_owned(),
                wait_settled: false,
                erase_after: false,
                source: Some(format!("message:{message_id}")),
            },
            Utc::now(),
        )?;
        Ok(())
    }
}
