//! Conversations with residents; message text is stored encrypted.

use diesel::prelude::*;

use super::{
    error::OrNotFound,
    schema::{conversations, messages},
    time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::{
    Conversation, ConversationStatus, Direction, Id, InboundMessage, NewMessage, NewPhoto,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = conversations)]
struct Row {
    id: i64,
    subscriber_id: Option<i64>,
    status: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<Row> for Conversation {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(Conversation {
            id: r.id,
            subscriber_id: r.subscriber_id,
            status: ConversationStatus::parse(&r.status)?,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct MessageRow {
    id: i64,
    conversation_id: i64,
    direction: String,
    text_ciphertext: Option<Vec<u8>>,
    media_ref: Option<String>,
    provider_message_id: Option<String>,
    staff_user_id: Option<i64>,
    created_at: chrono::NaiveDateTime,
}

/// Seals `$text` to message `$id` and stores it there (inside the
/// caller's transaction); evaluates to the ciphertext.
macro_rules! seal_text {
    ($db:expr, $c:expr, $id:expr, $text:expr) => {{
        let text: &str = $text;
        let ct = $db.seal(text.as_bytes(), &super::sealed::message_text($id));
        diesel::update(messages::table.find($id))
            .set(messages::text_ciphertext.eq(Some(&ct)))
            .execute($c)?;
        ct
    }};
}

impl Database {
    /// Opens a new conversation for a subscriber.
    pub fn open_conversation(&self, subscriber_id: Id) -> Result<Conversation, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_conn!(self, |c| diesel::insert_into(conversations::table)
            .values((
                conversations::subscriber_id.eq(Some(subscriber_id)),
                conversations::status.eq(ConversationStatus::Open.as_str()),
                conversations::created_at.eq(now),
                conversations::updated_at.eq(now),
            ))
            .returning(Row::as_returning())
            .get_result(c)?);
        row.try_into()
    }

    /// One conversation, open or closed.
    pub fn get_conversation(&self, id: Id) -> Result<Conversation, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| conversations::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("conversation {id}"))?
            .try_into()
    }

    /// The subscriber's open conversation, if any (newest).
    pub fn open_conversation_of(
        &self,
        subscriber_id: Id,
    ) -> Result<Option<Conversation>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| conversations::table
            .filter(conversations::subscriber_id.eq(subscriber_id))
            .filter(conversations::status.eq(ConversationStatus::Open.as_str()))
            .order(conversations::id.desc())
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// Conversations with a given status, most recently active first.
    pub fn list_conversations(
        &self,
        status: ConversationStatus,
        limit: i64,
    ) -> Result<Vec<Conversation>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| conversations::table
            .filter(conversations::status.eq(status.as_str()))
            .order((conversations::updated_at.desc(), conversations::id.desc()))
            .limit(limit)
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The direction of each conversation's latest message (`Outbound`:
    /// staff answered last).
    pub fn last_directions(
        &self,
        ids: &[Id],
    ) -> Result<std::collections::HashMap<Id, Direction>, StorageError> {
        let rows: Vec<(i64, i64, String)> = with_conn!(self, |c| messages::table
            .filter(messages::conversation_id.eq_any(ids))
            .select((messages::conversation_id, messages::id, messages::direction))
            .load(c)?);
        let mut latest: std::collections::HashMap<Id, (i64, String)> = Default::default();
        for (conversation, id, direction) in rows {
            let e = latest
                .entry(conversation)
                .or_insert((id, direction.clone()));
            if id >= e.0 {
                *e = (id, direction);
            }
        }
        latest
            .into_iter()
            .map(|(k, (_, d))| Ok((k, Direction::parse(&d)?)))
            .collect()
    }

    /// A subscriber's conversations, oldest first.
    pub fn conversations_of(&self, subscriber_id: Id) -> Result<Vec<Conversation>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| conversations::table
            .filter(conversations::subscriber_id.eq(subscriber_id))
            .order(conversations::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Opens or closes a conversation.
    pub fn set_conversation_status(
        &self,
        id: Id,
        status: ConversationStatus,
    ) -> Result<Conversation, StorageError> {
        let now = time::to_db(time::now());
        let row: Option<Row> = with_conn!(self, |c| diesel::update(conversations::table.find(id))
            .set((
                conversations::status.eq(status.as_str()),
                conversations::updated_at.eq(now)
            ))
            .returning(Row::as_returning())
            .get_result(c)
            .optional()?);
        row.or_not_found(|| format!("conversation {id}"))?
            .try_into()
    }

    /// Adds a message; its text is encrypted before storage.
    pub fn add_message(
        &self,
        conversation_id: Id,
        m: &NewMessage,
    ) -> Result<InboundMessage, StorageError> {
        let now = time::to_db(time::now());
        let row: MessageRow = with_write_tx!(self, |c| {
            let touched = diesel::update(conversations::table.find(conversation_id))
                .set(conversations::updated_at.eq(now))
                .execute(c)?;
            if touched == 0 {
                return Err(StorageError::NotFound {
                    what: format!("conversation {conversation_id}"),
                });
            }
            let mut row: MessageRow = diesel::insert_into(messages::table)
                .values((
                    messages::conversation_id.eq(conversation_id),
                    messages::direction.eq(m.direction.as_str()),
                    messages::media_ref.eq(&m.media_ref),
                    messages::provider_message_id.eq(&m.provider_message_id),
                    messages::staff_user_id.eq(m.staff_user_id),
                    messages::created_at.eq(now),
                ))
                .returning(MessageRow::as_returning())
                .get_result(c)?;
            if let Some(text) = &m.text {
                row.text_ciphertext = Some(seal_text!(self, c, row.id, text));
            }
            Ok(row)
        })?;
        self.decrypt_message(row)
    }

    /// The messages of a conversation, oldest first, decrypted.
    pub fn messages_of(&self, conversation_id: Id) -> Result<Vec<InboundMessage>, StorageError> {
        let rows: Vec<MessageRow> = with_conn!(self, |c| messages::table
            .filter(messages::conversation_id.eq(conversation_id))
            .order(messages::id.asc())
            .select(MessageRow::as_select())
            .load(c)?);
        rows.into_iter().map(|r| self.decrypt_message(r)).collect()
    }

    fn decrypt_message(&self, r: MessageRow) -> Result<InboundMessage, StorageError> {
        let text = match r.text_ciphertext {
            Some(ct) => Some(
                String::from_utf8(self.open_sealed(&ct, &super::sealed::message_text(r.id))?)
                    .map_err(|_| StorageError::Crypto(crate::crypto::CryptoError::Decrypt))?,
            ),
            None => None,
        };
        Ok(InboundMessage {
            id: r.id,
            conversation_id: r.conversation_id,
            direction: Direction::parse(&r.direction)?,
            text,
            media_ref: r.media_ref,
            provider_message_id: r.provider_message_id,
            staff_user_id: r.staff_user_id,
            created_at: time::from_db(r.created_at),
        })
    }
}

/// What a resident's message did to their conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrote {
    pub conversation: Conversation,
    /// A new conversation was opened by this message (it gets the
    /// automatic first answer).
    pub opened: bool,
    /// The message was already stored (the same provider id processed
    /// again): nothing was added.
    pub duplicate: bool,
}

impl Database {
    /// Adds a resident's message — its text, its photo, or both — to their
    /// open conversation, opening one if there is none, in one transaction;
    /// the same provider message id is stored once (with one photo).
    pub fn resident_wrote(
        &self,
        subscriber_id: Id,
        text: Option<&str>,
        photo: Option<&NewPhoto>,
        provider_message_id: &str,
    ) -> Result<Wrote, StorageError> {
        let now = time::to_db(time::now());
        let (row, opened, duplicate): (Row, bool, bool) = with_write_tx!(self, |c| {
            let open: Option<Row> = conversations::table
                .filter(conversations::subscriber_id.eq(subscriber_id))
                .filter(conversations::status.eq(ConversationStatus::Open.as_str()))
                .order(conversations::id.desc())
                .select(Row::as_select())
                .first(c)
                .optional()?;
            if let Some(conv) = &open {
                let seen: i64 = messages::table
                    .filter(messages::conversation_id.eq(conv.id))
                    .filter(messages::provider_message_id.eq(provider_message_id))
                    .count()
                    .get_result(c)?;
                if seen > 0 {
                    let conv: Row = conversations::table
                        .find(conv.id)
                        .select(Row::as_select())
                        .first(c)?;
                    return Ok((conv, false, true));
                }
            }
            let (conv, opened) = match open {
                Some(conv) => (conv, false),
                None => (
                    diesel::insert_into(conversations::table)
                        .values((
                            conversations::subscriber_id.eq(Some(subscriber_id)),
                            conversations::status.eq(ConversationStatus::Open.as_str()),
                            conversations::created_at.eq(now),
                            conversations::updated_at.eq(now),
                        ))
                        .returning(Row::as_returning())
                        .get_result(c)?,
                    true,
                ),
            };
            let message_id: i64 = diesel::insert_into(messages::table)
                .values((
                    messages::conversation_id.eq(conv.id),
                    messages::direction.eq(Direction::Inbound.as_str()),
                    messages::provider_message_id.eq(provider_message_id),
                    messages::created_at.eq(now),
                ))
                .returning(messages::id)
                .get_result(c)?;
            if let Some(text) = text {
                seal_text!(self, c, message_id, text);
            }
            if let Some(photo) = photo {
                super::photos::insert_photo_tx!(c, self, message_id, photo, now);
            }
            diesel::update(conversations::table.find(conv.id))
                .set(conversations::updated_at.eq(now))
                .execute(c)?;
            Ok((conv, opened, false))
        })?;
        Ok(Wrote {
            conversation: row.try_into()?,
            opened,
            duplicate,
        })
    }

    /// A staff reply: stored in the conversation, queued in the outbox for
    /// the resident, and audited — one transaction. Refused for a closed
    /// conversation or a resident who is gone.
    pub fn staff_reply(
        &self,
        conversation_id: Id,
        reply: &super::NewOutboxMessage,
        audit: &super::AuditWith<'_, InboundMessage>,
    ) -> Result<InboundMessage, StorageError> {
        let now = time::to_db(time::now());
        let row: MessageRow = with_write_tx!(self, |c| {
            let conv: Row = conversations::table
                .find(conversation_id)
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("conversation {conversation_id}"))?;
            if conv.status != ConversationStatus::Open.as_str() {
                return Err(StorageError::Refused(format!(
                    "conversation {conversation_id} is closed"
                )));
            }
            let mut row: MessageRow = diesel::insert_into(messages::table)
                .values((
                    messages::conversation_id.eq(conversation_id),
                    messages::direction.eq(Direction::Outbound.as_str()),
                    messages::created_at.eq(now),
                ))
                .returning(MessageRow::as_returning())
                .get_result(c)?;
            row.text_ciphertext = Some(seal_text!(self, c, row.id, &reply.text.0));
            diesel::update(conversations::table.find(conversation_id))
                .set(conversations::updated_at.eq(now))
                .execute(c)?;
            super::outbox::insert_outbox!(c, self, reply, now);
            let message = InboundMessage {
                id: row.id,
                conversation_id,
                direction: Direction::Outbound,
                text: None,
                media_ref: None,
                provider_message_id: None,
                staff_user_id: None,
                created_at: time::from_db(now),
            };
            super::audit::audit_tx!(c, audit, &message);
            Ok(row)
        })?;
        self.decrypt_message(row)
    }

    /// Closes a conversation, audited in the same transaction.
    pub fn close_conversation(
        &self,
        id: Id,
        audit: &super::AuditWith<'_, Conversation>,
    ) -> Result<Conversation, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_write_tx!(self, |c| {
            let row: Row = diesel::update(conversations::table.find(id))
                .set((
                    conversations::status.eq(ConversationStatus::Closed.as_str()),
                    conversations::updated_at.eq(now),
                ))
                .returning(Row::as_returning())
                .get_result(c)
                .optional()?
                .or_not_found(|| format!("conversation {id}"))?;
            let conv: Conversation = Row {
                id: row.id,
                subscriber_id: row.subscriber_id,
                status: row.status.clone(),
                created_at: row.created_at,
                updated_at: row.updated_at,
            }
            .try_into()?;
            super::audit::audit_tx!(c, audit, &conv);
            Ok(row)
        })?;
        row.try_into()
    }
}

impl Database {
    /// Deletes closed conversations (their messages and photos with them) last touched
    /// before `before`; returns how many.
    pub fn purge_closed_conversations(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        with_write_tx!(self, |c| {
            let ids: Vec<i64> = conversations::table
                .filter(conversations::status.eq(ConversationStatus::Closed.as_str()))
                .filter(conversations::updated_at.lt(before))
                .select(conversations::id)
                .load(c)?;
            if ids.is_empty() {
                return Ok(0);
            }
            diesel::delete(messages::table.filter(messages::conversation_id.eq_any(&ids)))
                .execute(c)?;
            Ok(
                diesel::delete(conversations::table.filter(conversations::id.eq_any(&ids)))
                    .execute(c)?,
            )
        })
    }
}

impl Database {
    /// Deletes one message of a conversation (an abusive one) with its
    /// photo, audited in the same transaction; returns its conversation's id.
    pub fn delete_message(
        &self,
        message_id: Id,
        audit: &super::AuditWith<'_, Id>,
    ) -> Result<Id, StorageError> {
        with_write_tx!(self, |c| {
            let conversation: i64 = messages::table
                .find(message_id)
                .select(messages::conversation_id)
                .first(c)
                .optional()?
                .or_not_found(|| format!("message {message_id}"))?;
            diesel::delete(messages::table.find(message_id)).execute(c)?;
            super::audit::audit_tx!(c, audit, &conversation);
            Ok(conversation)
        })
    }
}
