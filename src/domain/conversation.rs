use chrono::{DateTime, Utc};

use super::{DomainError, Id};

/// A thread between one subscriber and staff, opened by a resident's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: Id,
    pub subscriber_id: Option<Id>,
    pub status: ConversationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether staff still need to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err(DomainError::Invalid {
                field: "conversation status",
                value: s.to_owned(),
                expected: "open or closed",
            }),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the resident.
    Inbound,
    /// A staff answer.
    Outbound,
}

impl Direction {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "in",
            Self::Outbound => "out",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "in" => Ok(Self::Inbound),
            "out" => Ok(Self::Outbound),
            _ => Err(DomainError::Invalid {
                field: "message direction",
                value: s.to_owned(),
                expected: "in or out",
            }),
        }
    }
}

/// One message in a conversation. The text is personal data: it is stored
/// encrypted and its `Debug` output leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub id: Id,
    pub conversation_id: Id,
    pub direction: Direction,
    pub text: Option<String>,
    /// Reference to a stored photo, if any.
    pub media_ref: Option<String>,
    pub provider_message_id: Option<String>,
    pub staff_user_id: Option<Id>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundMessage")
            .field("id", &self.id)
            .field("conversation_id", &self.conversation_id)
            .field("direction", &self.direction)
            .field("text_chars", &self.text.as_ref().map(|t| t.chars().count()))
            .field("media_ref", &self.media_ref.is_some())
            .finish_non_exhaustive()
    }
}

/// A message to add to a conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub direction: Direction,
    pub text: Option<String>,
    pub media_ref: Option<String>,
    pub provider_message_id: Option<String>,
    pub staff_user_id: Option<Id>,
}
