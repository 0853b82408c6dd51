//! Room events of a resident's direct chat, read into [`InboundEvent`]s.
//!
//! Works on the event's JSON as the homeserver sent it (after matrix-sdk
//! decrypted it): only a handful of fields matter, and anything unexpected
//! is skipped rather than fatal.
//!
//! * `m.text`, `m.notice`, `m.emote` → text (a command or a message); a
//!   reply's quoted fallback is dropped first.
//! * `m.image` → a photo; its `media_id` is [`MediaRef`] as JSON (the
//!   `mxc://` URL, or the encrypted file with its key, and the size the
//!   sender declared), which [`crate::MatrixChannel`]'s `fetch_media` reads.
//! * `m.audio`, `m.video`, `m.file`, `m.location`, stickers and unknown
//!   message types → unsupported (the core answers with its refusal).
//! * Edits (`m.replace`), reactions, redactions, state events, the bot's
//!   own events and verification requests → nothing.

use chrono::{DateTime, TimeZone, Utc};
use herold_channel_api::{Address, InboundContent, InboundEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an inbound image lies on the homeserver: the `media_id` of an
/// [`InboundContent::Photo`], serialised as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    /// `mxc://` URL of an unencrypted upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The encrypted file (its `url`, key, iv and hash), for an image sent
    /// in an encrypted room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    /// The size the sender declared (`info.size`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What one room event means for Herold.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// A resident's message or command.
    Event(InboundEvent),
    /// Nothing for Herold (an edit, a reaction, the bot's own message …).
    Skip,
    /// A message event that could not be read (no id, sender or content).
    Malformed,
}

/// Reads one timeline event of the direct chat `room_id` (the resident's
/// address). `bot` is the bot's own user id: its events are skipped.
pub fn read_event(room_id: &str, bot: &str, event: &Value) -> Read {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    if event.get("state_key").is_some() {
        return Read::Skip;
    }
    let unsupported = match kind {
        "m.room.message" => None,
        "m.sticker" => Some("sticker"),
        "m.poll.start" | "org.matrix.msc3381.poll.start" => Some("poll"),
        _ => return Read::Skip,
    };
    // An empty id would be every such event's dedupe key: all but the
    // first would be dropped as repeats (found by fuzzing).
    let (Some(sender), Some(event_id)) = (
        event.get("sender").and_then(Value::as_str),
        event
            .get("event_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty()),
    ) else {
        return Read::Malformed;
    };
    if sender == bot {
        return Read::Skip;
    }
    let Some(content) = event.get("content").and_then(Value::as_object) else {
        return Read::Malformed;
    };
    // A redacted message has an empty content.
    if content.is_empty() {
        return Read::Skip;
    }
    let relation = content
        .get("m.relates_to")
        .and_then(|r| r.get("rel_type"))
        .and_then(Value::as_str);
    if relation == Some("m.replace") {
        return Read::Skip;
    }
    let from = Address::new(room_id);
    let id = Some(event_id.to_owned());
    let at = event
        .get("origin_server_ts")
        .and_then(Value::as_i64)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or_else(Utc::now);
    let message = |content: InboundContent| {
        Read::Event(InboundEvent::Message {
            from: from.clone(),
            content,
            provider_message_id: id.clone(),
            received_at: at,
        })
    };
    if let Some(kind) = unsupported {
        return message(InboundContent::Unsupported { kind: kind.into() });
    }
    let Some(msgtype) = content.get("msgtype").and_then(Value::as_str) else {
        return Read::Malformed;
    };
    let body = content.get("body").and_then(Value::as_str);
    match msgtype {
        "m.text" | "m.notice" | "m.emote" => match body {
            Some(body) => Read::Event(InboundEvent::from_text(
                from.clone(),
                strip_reply_fallback(body),
                id.clone(),
                at,
            )),
            None => Read::Malformed,
        },
        "m.image" => image(content, body, at, from, id),
        "m.key.verification.request" | "m.server_notice" => Read::Skip,
        "m.audio" | "m.video" | "m.file" | "m.location" => message(InboundContent::Unsupported {
            kind: msgtype.trim_start_matches("m.").into(),
        }),
        _ => message(InboundContent::Unsupported {
            kind: "message".into(),
        }),
    }
}

fn image(
    content: &serde_json::Map<String, Value>,
    body: Option<&str>,
    at: DateTime<Utc>,
    from: Address,
    id: Option<String>,
) -> Read {
    let info = content.get("info");
    let media = MediaRef {
        url: content
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        file: content.get("file").filter(|f| f.is_object()).cloned(),
        size: info.and_then(|i| i.get("size")).and_then(Value::as_u64),
    };
    if media.url.is_none() && media.file.is_none() {
        return Read::Malformed;
    }
    let Ok(media_id) = serde_json::to_string(&media) else {
        return Read::Malformed;
    };
    // Since Matrix 1.10 `body` is a caption when `filename` is set and
    // differs from it; otherwise it is the file name.
    let filename = content.get("filename").and_then(Value::as_str);
    let caption = match (filename, body) {
        (Some(name), Some(body)) if name != body && !body.trim().is_empty() => {
            Some(body.to_owned())
        }
        _ => None,
    };
    Read::Event(InboundEvent::Message {
        from,
        content: InboundContent::Photo {
            media_id,
            mime_type: info
                .and_then(|i| i.get("mimetype"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            caption,
        },
        provider_message_id: id,
        received_at: at,
    })
}

/// A reply's plain body may start with the quoted message (`> ` lines and a
/// blank line, the fallback older clients add); the resident's own words
/// follow it.
fn strip_reply_fallback(body: &str) -> String {
    if !body.starts_with("> ") {
        return body.to_owned();
    }
    let mut lines = body.lines().skip_while(|l| l.starts_with('>'));
    let rest: Vec<&str> = match lines.next() {
        Some(l) if l.trim().is_empty() => lines.collect(),
        Some(l) => std::iter::once(l).chain(lines).collect(),
        None => Vec::new(),
    };
    rest.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::Command;
    use serde_json::json;

    const ROOM: &str = "!dm:example.org";
    const BOT: &str = "@herold:example.org";

    fn msg(content: Value) -> Value {
        json!({
            "type": "m.room.message", "sender": "@anna:example.org",
            "event_id": "$e1", "origin_server_ts": 1_764_400_000_000i64, "content": content
        })
    }

    #[test]
    fn an_empty_event_id_is_malformed() {
        let mut e = msg(json!({"msgtype": "m.text", "body": "Start"}));
        e["event_id"] = json!("");
        assert!(matches!(read_event(ROOM, BOT, &e), Read::Malformed));
    }

    #[test]
    fn text_becomes_a_command_or_a_message() {
        let Read::Event(InboundEvent::Command {
            from,
            command: Command::Start(_),
            provider_message_id,
            received_at,
            ..
        }) = read_event(
            ROOM,
            BOT,
            &msg(json!({"msgtype": "m.text", "body": "Start"})),
        )
        else {
            panic!("not a Start command");
        };
        assert_eq!(from.as_str(), ROOM);
        assert_eq!(provider_message_id.as_deref(), Some("$e1"));
        assert_eq!(received_at.timestamp(), 1_764_400_000);
        let Read::Event(InboundEvent::Message {
            content: InboundContent::Text(text),
            ..
        }) = read_event(
            ROOM,
            BOT,
            &msg(
                json!({"msgtype": "m.text", "body": "> <@herold:example.org> Hallo\n\nDie Laterne ist kaputt"}),
            ),
        )
        else {
            panic!("not a text");
        };
        assert_eq!(text, "Die Laterne ist kaputt");
    }

    #[test]
    fn images_keep_where_they_lie() {
        let Read::Event(InboundEvent::Message {
            content:
                InboundContent::Photo {
                    media_id,
                    mime_type,
                    caption,
                },
            ..
        }) = read_event(
            ROOM,
            BOT,
            &msg(
                json!({"msgtype": "m.image", "body": "Schlagloch vor Nr. 4", "filename": "IMG_1.jpg",
                "info": {"mimetype": "image/jpeg", "size": 1234},
                "file": {"url": "mxc://example.org/abc", "key": {"k": "x"}, "iv": "y", "hashes": {"sha256": "z"}, "v": "v2"}}),
            ),
        )
        else {
            panic!("not a photo");
        };
        let media: MediaRef = serde_json::from_str(&media_id).unwrap();
        assert_eq!(media.size, Some(1234));
        assert_eq!(media.file.unwrap()["url"], "mxc://example.org/abc");
        assert_eq!(mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(caption.as_deref(), Some("Schlagloch vor Nr. 4"));
        // body = file name: no caption.
        let Read::Event(InboundEvent::Message {
            content: InboundContent::Photo { caption, .. },
            ..
        }) = read_event(
            ROOM,
            BOT,
            &msg(
                json!({"msgtype": "m.image", "body": "IMG_1.jpg", "url": "mxc://example.org/abc"}),
            ),
        )
        else {
            panic!("not a photo");
        };
        assert_eq!(caption, None);
        assert_eq!(
            read_event(ROOM, BOT, &msg(json!({"msgtype": "m.image", "body": "x"}))),
            Read::Malformed
        );
    }

    #[test]
    fn other_kinds_are_refused_or_skipped() {
        for (msgtype, kind) in [
            ("m.audio", "audio"),
            ("m.video", "video"),
            ("m.file", "file"),
            ("m.location", "location"),
            ("org.example.custom", "message"),
        ] {
            let read = read_event(ROOM, BOT, &msg(json!({"msgtype": msgtype, "body": "x"})));
            assert!(
                matches!(&read, Read::Event(InboundEvent::Message { content: InboundContent::Unsupported { kind: k }, .. }) if k == kind),
                "{msgtype}: {read:?}"
            );
        }
        let mut sticker = msg(json!({"body": "x", "url": "mxc://a/b"}));
        sticker["type"] = "m.sticker".into();
        assert!(matches!(
            read_event(ROOM, BOT, &sticker),
            Read::Event(InboundEvent::Message {
                content: InboundContent::Unsupported { .. },
                ..
            })
        ));
        let edit = msg(json!({"msgtype": "m.text", "body": "* Stop",
            "m.new_content": {"msgtype": "m.text", "body": "Stop"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}}));
        assert_eq!(read_event(ROOM, BOT, &edit), Read::Skip);
        let mut own = msg(json!({"msgtype": "m.text", "body": "Willkommen"}));
        own["sender"] = BOT.into();
        assert_eq!(read_event(ROOM, BOT, &own), Read::Skip);
        let mut reaction = msg(json!({}));
        reaction["type"] = "m.reaction".into();
        assert_eq!(read_event(ROOM, BOT, &reaction), Read::Skip);
        assert_eq!(
            read_event(ROOM, BOT, &msg(json!({}))),
            Read::Skip,
            "redacted"
        );
        let mut state = msg(json!({"membership": "join"}));
        state["type"] = "m.room.member".into();
        state["state_key"] = "@anna:example.org".into();
        assert_eq!(read_event(ROOM, BOT, &state), Read::Skip);
        assert_eq!(
            read_event(ROOM, BOT, &json!({"type": "m.room.message", "content": {}})),
            Read::Malformed
        );
        assert_eq!(
            read_event(ROOM, BOT, &msg(json!({"body": "no msgtype"}))),
            Read::Malformed
        );
    }
}
