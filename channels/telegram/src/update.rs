//! Telegram's `Update`, read into [`InboundEvent`]s: one reader for the
//! webhook (one update per request) and long polling (`getUpdates`).

use chrono::{DateTime, TimeZone, Utc};
use herold_channel_api::{Address, InboundContent, InboundError, InboundEvent};
use serde::Deserialize;

/// Message kinds a resident can send that Herold does not take: the core
/// answers them with a polite refusal.
const UNSUPPORTED_KINDS: &[&str] = &[
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "animation",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "story",
];

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct PhotoSize {
    file_id: String,
    #[serde(default)]
    width: u64,
    #[serde(default)]
    height: u64,
    #[serde(default)]
    file_size: Option<u64>,
}

#[derive(Deserialize)]
struct Message {
    message_id: i64,
    date: i64,
    chat: Chat,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    photo: Option<Vec<PhotoSize>>,
}

/// One event per `message` update: text (command or message), a photo
/// (its largest size), or an unsupported kind. Other update types
/// (`edited_message`, `channel_post`, `my_chat_member`, `callback_query`, …)
/// are [`InboundError::Unsupported`]: the webhook answers 200 so Telegram
/// does not repeat them, and polling skips them. The provider id is
/// `"{chat_id}:{message_id}"`.
pub fn parse_update(update: &serde_json::Value) -> Result<Vec<InboundEvent>, InboundError> {
    let update = update
        .as_object()
        .ok_or_else(|| InboundError::Malformed("update is not a JSON object".into()))?;
    if !update
        .get("update_id")
        .is_some_and(serde_json::Value::is_i64)
    {
        return Err(InboundError::Malformed(
            "not a Telegram Update (no numeric update_id)".into(),
        ));
    }
    let Some(message) = update.get("message") else {
        let kind = update
            .keys()
            .find(|k| *k != "update_id")
            .map_or("empty update", String::as_str);
        return Err(InboundError::Unsupported(format!("telegram update {kind}")));
    };
    let raw = message
        .as_object()
        .ok_or_else(|| InboundError::Malformed("message is not an object".into()))?;
    let parsed: Message = serde_json::from_value(message.clone())
        .map_err(|_| InboundError::Malformed("message lacks message_id, date or chat".into()))?;
    let from = Address::new(parsed.chat.id.to_string());
    let id = Some(format!("{}:{}", parsed.chat.id, parsed.message_id));
    let at: DateTime<Utc> = Utc
        .timestamp_opt(parsed.date, 0)
        .single()
        .unwrap_or_else(Utc::now);
    if let Some(text) = parsed.text {
        return Ok(vec![InboundEvent::from_text(from, text, id, at)]);
    }
    if let Some(photo) = parsed.photo {
        // A size without a file id cannot be downloaded: it is no choice.
        let largest = photo
            .into_iter()
            .filter(|p| !p.file_id.is_empty())
            .max_by_key(|p| (p.width.saturating_mul(p.height), p.file_size.unwrap_or(0)))
            .ok_or_else(|| InboundError::Malformed("photo without sizes with a file id".into()))?;
        return Ok(vec![InboundEvent::Message {
            from,
            content: InboundContent::Photo {
                media_id: largest.file_id,
                mime_type: None,
                caption: parsed.caption,
            },
            provider_message_id: id,
            received_at: at,
        }]);
    }
    if let Some(kind) = UNSUPPORTED_KINDS.iter().find(|k| raw.contains_key(**k)) {
        return Ok(vec![InboundEvent::Message {
            from,
            content: InboundContent::Unsupported {
                kind: (*kind).to_owned(),
            },
            provider_message_id: id,
            received_at: at,
        }]);
    }
    // Service messages (members joined, title changed, pinned …) carry
    // nothing from a resident.
    Err(InboundError::Unsupported("telegram service message".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while writing the `telegram_update` fuzz target: sizes whose
    /// width × height overflowed u64 panicked with overflow checks and
    /// chose a wrong size without.
    #[test]
    fn huge_photo_sizes_do_not_overflow() {
        let update = serde_json::json!({"update_id": 1, "message": {
        "message_id": 7, "date": 1_764_400_000, "chat": {"id": 4711},
        "photo": [
            {"file_id": "small", "width": 90, "height": 60},
            {"file_id": "huge", "width": u64::MAX, "height": 2}
        ]}});
        let events = parse_update(&update).unwrap();
        assert!(matches!(
            &events[..],
            [InboundEvent::Message { content: InboundContent::Photo { media_id, .. }, .. }]
                if media_id == "huge"
        ));
    }

    /// Found by the `telegram_update` fuzz target in its 10-minute run: a
    /// size with an empty `file_id` (the largest by its `file_size`) gave a
    /// photo event without a media id, which no `getFile` can fetch.
    #[test]
    fn sizes_without_a_file_id_are_no_choice() {
        let update = serde_json::json!({"update_id": 1, "message": {
        "message_id": 7, "date": 1_764_400_000, "chat": {"id": 4711},
        "photo": [
            {"file_id": "small", "width": 45, "height": 60, "file_size": 1200},
            {"file_id": "", "file_size": 98_000}
        ]}});
        let events = parse_update(&update).unwrap();
        assert!(matches!(
            &events[..],
            [InboundEvent::Message { content: InboundContent::Photo { media_id, .. }, .. }]
                if media_id == "small"
        ));
        let only_empty = serde_json::json!({"update_id": 2, "message": {
        "message_id": 8, "date": 1_764_400_000, "chat": {"id": 4711},
        "photo": [{"file_id": "", "width": 90, "height": 60}]}});
        assert!(matches!(
            parse_update(&only_empty),
            Err(InboundError::Malformed(_))
        ));
    }
}
