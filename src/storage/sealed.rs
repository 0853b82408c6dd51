//! The places personal data is stored encrypted. Each ciphertext is sealed
//! with its place — table, column and row — as associated data
//! ([`crate::crypto::Aad`]), so it cannot be moved to another row or
//! column; `herold keys rotate` re-encrypts every place listed in [`ALL`].

use crate::crypto::Aad;

/// Every encrypted column: table, column (the row is the table's `id`).
pub const ALL: [(&str, &str); 8] = [
    ("subscribers", "address_ciphertext"),
    ("messages", "text_ciphertext"),
    ("conversation_photos", "ciphertext"),
    ("inbound_events", "payload"),
    ("outbox", "address_ciphertext"),
    ("outbox", "text_ciphertext"),
    ("subscriber_tokens", "token_ciphertext"),
    ("websub_subscriptions", "secret_ciphertext"),
];

/// A subscriber's address.
pub fn subscriber_address(id: i64) -> Aad {
    Aad::new("subscribers", "address_ciphertext", id)
}

/// The text of a message in a conversation.
pub fn message_text(id: i64) -> Aad {
    Aad::new("messages", "text_ciphertext", id)
}

/// A resident's photo.
pub fn photo(id: i64) -> Aad {
    Aad::new("conversation_photos", "ciphertext", id)
}

/// A stored inbound event.
pub fn inbound_payload(id: i64) -> Aad {
    Aad::new("inbound_events", "payload", id)
}

/// The address a queued reply goes to.
pub fn outbox_address(id: i64) -> Aad {
    Aad::new("outbox", "address_ciphertext", id)
}

/// The text of a queued reply.
pub fn outbox_text(id: i64) -> Aad {
    Aad::new("outbox", "text_ciphertext", id)
}

/// A manage token, kept for the links in every newsletter.
pub fn manage_token(id: i64) -> Aad {
    Aad::new("subscriber_tokens", "token_ciphertext", id)
}

/// A WebSub subscriber's `hub.secret`.
pub fn websub_secret(id: i64) -> Aad {
    Aad::new("websub_subscriptions", "secret_ciphertext", id)
}
