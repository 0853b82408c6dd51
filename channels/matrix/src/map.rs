//! From Herold's messages to Matrix events, and from the homeserver's
//! answers to [`SendError`]s.
//!
//! Reasons are fixed, log-safe sentences with the Matrix error code at
//! most: matrix-sdk's own error texts can name rooms and users, so they are
//! never passed on.

use std::time::{Duration, SystemTime};

use herold_channel_api::{Media, RenderedMessage, SendError, MAX_RETRY_AFTER};
use matrix_sdk::ruma::api::client::error::{ErrorKind, RetryAfter};
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::events::room::message::{ImageMessageEventContent, MessageType};
use matrix_sdk::ruma::events::room::ImageInfo;
use matrix_sdk::ruma::OwnedTransactionId;
use matrix_sdk::ruma::UInt;
use sha2::{Digest, Sha256};

use crate::media::Uploaded;

/// Where a send went: the answers mean different things for a resident's
/// direct chat and for a follow room the town runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A resident's direct chat with the bot.
    Direct,
    /// A public follow room from the configuration.
    Follow,
}

/// The `m.text` event for a rendered message: `body` is the plain text;
/// with [`RenderedMessage::html`] (the renderer's Matrix HTML) also
/// `format: org.matrix.custom.html` and `formatted_body`.
pub fn content(message: &RenderedMessage) -> RoomMessageEventContent {
    match &message.html {
        Some(html) => RoomMessageEventContent::text_html(message.text.clone(), html.clone()),
        None => RoomMessageEventContent::text_plain(message.text.clone()),
    }
}

/// The `m.image` event for an announcement's image: `body` is its alt
/// text (what screen readers and text-only clients show), the file is the
/// uploaded one, unencrypted (the image is public on the town's site).
pub(crate) fn image(media: &Media, uploaded: &Uploaded) -> RoomMessageEventContent {
    let alt = media
        .caption
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or("Bild");
    let mut content = ImageMessageEventContent::plain(alt.to_owned(), uploaded.mxc.clone());
    let mut info = ImageInfo::new();
    info.mimetype = Some(media.mime_type.clone());
    info.size = UInt::new(uploaded.size);
    content.info = Some(Box::new(info));
    RoomMessageEventContent::new(MessageType::Image(content))
}

/// The transaction id of a send with `idempotency_key`: the same key gives
/// the same id, so a retry (after a timeout, a crash, another worker's
/// takeover) is deduplicated by the homeserver, which answers with the
/// first send's event. `None` for an empty key (service messages): a fresh
/// id then.
pub fn transaction_id(idempotency_key: &str) -> Option<OwnedTransactionId> {
    if idempotency_key.is_empty() {
        return None;
    }
    let digest = Sha256::digest(idempotency_key.as_bytes());
    Some(OwnedTransactionId::from(format!(
        "herold-{}",
        hex::encode(&digest[..20])
    )))
}

/// The engine's reaction to a failed send.
pub fn send_error(err: &matrix_sdk::Error, place: Place) -> SendError {
    if let Some(api) = err.as_client_api_error() {
        let status = api.status_code.as_u16();
        return match api.error_kind() {
            Some(ErrorKind::LimitExceeded { retry_after }) => SendError::RateLimited {
                retry_after: retry_after.as_ref().and_then(delay),
            },
            Some(ErrorKind::UnknownToken { .. }) => misconfigured_token(),
            Some(ErrorKind::MissingToken) => SendError::Misconfigured {
                reason: "the homeserver wants an access token (M_MISSING_TOKEN)".into(),
            },
            Some(ErrorKind::UserDeactivated) => SendError::Misconfigured {
                reason: "the bot's account is deactivated (M_USER_DEACTIVATED)".into(),
            },
            Some(ErrorKind::Forbidden { .. }) => match place {
                Place::Direct => gone("the homeserver refused the send: the bot is no longer in this direct chat (M_FORBIDDEN)"),
                Place::Follow => SendError::Misconfigured {
                    reason: "the bot may not post in a follow room (M_FORBIDDEN): invite it and give it the right to send messages, then herold channels resume matrix".into(),
                },
            },
            Some(ErrorKind::NotFound) => match place {
                Place::Direct => gone("the direct chat does not exist any more (M_NOT_FOUND)"),
                Place::Follow => SendError::Misconfigured {
                    reason: "a follow room or its alias does not exist (M_NOT_FOUND): check matrix.follow_rooms and matrix.follow_all_room".into(),
                },
            },
            _ if status >= 500 || status == 408 => SendError::Transient {
                reason: format!("the homeserver answered {status}"),
                retry_after: None,
            },
            _ => SendError::permanent(format!("the homeserver refused the event ({status})")),
        };
    }
    match err {
        matrix_sdk::Error::Http(_) => SendError::transient("cannot reach the homeserver"),
        matrix_sdk::Error::WrongRoomState(_) => match place {
            Place::Direct => gone("the bot is no longer in this direct chat"),
            Place::Follow => SendError::Misconfigured {
                reason:
                    "the bot is not in a follow room: invite it, then herold channels resume matrix"
                        .into(),
            },
        },
        matrix_sdk::Error::AuthenticationRequired => misconfigured_token(),
        // Store and crypto trouble (a busy SQLite store, a key claim that
        // failed): the same send may work a moment later.
        _ => SendError::transient("the Matrix client could not prepare the event"),
    }
}

/// The bot's token is no longer valid: hold the channel.
pub fn misconfigured_token() -> SendError {
    SendError::Misconfigured {
        reason: "the homeserver no longer accepts the bot's access token (M_UNKNOWN_TOKEN): \
                 its device was logged out; move matrix.store_path aside (keep it in the backup), \
                 give a new password login or token, restart Herold, then herold channels resume matrix"
            .into(),
    }
}

/// A recipient that cannot be reached any more: the subscription ends.
pub fn gone(reason: &str) -> SendError {
    SendError::Permanent {
        reason: reason.into(),
        recipient_gone: true,
    }
}

/// `retry_after_ms` or `Retry-After` as a delay, capped like every other
/// channel's.
fn delay(retry_after: &RetryAfter) -> Option<Duration> {
    let d = match retry_after {
        RetryAfter::Delay(d) => *d,
        RetryAfter::DateTime(at) => at.duration_since(SystemTime::now()).unwrap_or_default(),
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_follow_the_key() {
        let a = transaction_id("announcement:7:matrix:!room").unwrap();
        assert_eq!(a, transaction_id("announcement:7:matrix:!room").unwrap());
        assert_ne!(a, transaction_id("announcement:8:matrix:!room").unwrap());
        assert!(a.as_str().starts_with("herold-") && a.as_str().len() == 47);
        assert!(!a.as_str().contains("room"), "the key is not in clear");
        assert!(transaction_id("").is_none());
    }

    #[test]
    fn content_has_html_when_rendered_with_it() {
        let mut m = RenderedMessage::new("Hallo *Welt*", "de");
        let plain = serde_json::to_value(content(&m)).unwrap();
        assert_eq!(plain["msgtype"], "m.text");
        assert_eq!(plain["body"], "Hallo *Welt*");
        assert!(plain.get("formatted_body").is_none());
        m.html = Some("<p>Hallo <b>Welt</b></p>".into());
        let html = serde_json::to_value(content(&m)).unwrap();
        assert_eq!(html["format"], "org.matrix.custom.html");
        assert_eq!(html["formatted_body"], "<p>Hallo <b>Welt</b></p>");
        assert_eq!(html["body"], "Hallo *Welt*");
    }

    #[test]
    fn delays_are_capped() {
        assert_eq!(
            delay(&RetryAfter::Delay(Duration::from_millis(1500))),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            delay(&RetryAfter::Delay(Duration::from_secs(1_000_000))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            delay(&RetryAfter::DateTime(SystemTime::UNIX_EPOCH)),
            Some(Duration::ZERO)
        );
    }
}
