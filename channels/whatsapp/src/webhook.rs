//! The webhook: Meta's verification handshake, the `X-Hub-Signature-256`
//! check over the raw body, then the notification's messages and statuses.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use herold_channel_api::{
    Address, DeliveryStatus, InboundContent, InboundError, InboundEvent, InboundParser,
    InboundRequest, InboundVerifier, LateFailure,
};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::map::{from_code, Outcome};

/// How long a message waits after a late failure Meta gives no delay for
/// (a server error on its side).
const LATE_RETRY: Duration = Duration::from_secs(60);

/// The header Meta signs webhook bodies in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Verifies and parses the Cloud API's webhook requests.
///
/// `Debug` hides the app secret and the verify token.
pub struct WhatsAppWebhook {
    app_secret: Zeroizing<String>,
    verify_token: Zeroizing<String>,
    /// How long a resident's next message waits after a pair-rate failure.
    pair_spacing: Duration,
}

impl fmt::Debug for WhatsAppWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WhatsAppWebhook(<redacted>)")
    }
}

impl WhatsAppWebhook {
    /// A webhook checking signatures with `app_secret` and answering the
    /// handshake that carries `verify_token`.
    pub fn new(app_secret: impl Into<String>, verify_token: impl Into<String>) -> Self {
        Self {
            app_secret: Zeroizing::new(app_secret.into()),
            verify_token: Zeroizing::new(verify_token.into()),
            pair_spacing: Duration::from_secs(u64::from(
                crate::config::DEFAULT_PAIR_SPACING_SECONDS,
            )),
        }
    }

    /// The same, retrying a pair-rate failure after `spacing`.
    pub fn with_pair_spacing(mut self, spacing: Duration) -> Self {
        self.pair_spacing = spacing;
        self
    }
}

impl InboundVerifier for WhatsAppWebhook {
    /// `sha256=` and the hex HMAC-SHA256 of the raw body with the app
    /// secret, compared in constant time (`Mac::verify_slice`).
    fn verify(&self, req: &InboundRequest) -> Result<(), InboundError> {
        let header = req
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or(InboundError::MissingSignature)?;
        let given = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("sha256="))
            .and_then(|h| hex::decode(h.trim()).ok())
            .ok_or(InboundError::BadSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.app_secret.as_bytes())
            .map_err(|_| InboundError::BadSignature)?;
        mac.update(&req.body);
        mac.verify_slice(&given)
            .map_err(|_| InboundError::BadSignature)
    }

    /// `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`:
    /// the challenge back when the token matches (compared in constant
    /// time), else refused.
    fn handshake(&self, req: &InboundRequest) -> Result<Option<Vec<u8>>, InboundError> {
        let query = req.query.as_deref().unwrap_or("");
        let mut mode = None;
        let mut token = None;
        let mut challenge = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "hub.mode" => mode = Some(v.into_owned()),
                "hub.verify_token" => token = Some(Zeroizing::new(v.into_owned())),
                "hub.challenge" => challenge = Some(v.into_owned()),
                _ => {}
            }
        }
        if mode.as_deref() != Some("subscribe") {
            return Err(InboundError::Malformed("hub.mode must be subscribe".into()));
        }
        let token = token.ok_or(InboundError::MissingSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"herold-verify-token")
            .map_err(|_| InboundError::BadSignature)?;
        // Equal-length digests compared in constant time: the token's
        // length gives nothing away either.
        mac.update(self.verify_token.as_bytes());
        let expected = mac.finalize().into_bytes();
        let mut given = Hmac::<Sha256>::new_from_slice(b"herold-verify-token")
            .map_err(|_| InboundError::BadSignature)?;
        given.update(token.as_bytes());
        given
            .verify_slice(&expected)
            .map_err(|_| InboundError::BadSignature)?;
        let challenge = challenge
            .filter(|c| !c.is_empty() && c.len() <= 256)
            .ok_or_else(|| InboundError::Malformed("hub.challenge missing".into()))?;
        Ok(Some(challenge.into_bytes()))
    }
}

impl InboundParser for WhatsAppWebhook {
    fn parse(&self, req: &InboundRequest) -> Result<Vec<InboundEvent>, InboundError> {
        let body: Value = serde_json::from_slice(&req.body)
            .map_err(|_| InboundError::Malformed("body is not JSON".into()))?;
        parse_notification(&body, self.pair_spacing)
    }
}

/// The events of one webhook notification
/// (`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{…}}]}]}`).
/// Other objects and fields (template reviews, account updates) are
/// [`InboundError::Unsupported`]. A failed status's code is classified as
/// a failed send's would be ([`crate::map::from_code`]), a pair-rate
/// failure retried after `pair_spacing`.
pub fn parse_notification(
    body: &Value,
    pair_spacing: Duration,
) -> Result<Vec<InboundEvent>, InboundError> {
    let object = body
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| InboundError::Malformed("object missing".into()))?;
    if object != "whatsapp_business_account" {
        return Err(InboundError::Unsupported(format!("object {object}")));
    }
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| InboundError::Malformed("entry must be an array".into()))?;
    let mut events = Vec::new();
    let mut other_fields = Vec::new();
    for change in entries
        .iter()
        .filter_map(|e| e.get("changes").and_then(Value::as_array))
        .flatten()
    {
        let field = change.get("field").and_then(Value::as_str).unwrap_or("");
        if field != "messages" {
            other_fields.push(field.to_owned());
            continue;
        }
        let Some(value) = change.get("value") else {
            return Err(InboundError::Malformed("a change without value".into()));
        };
        for m in array(value, "messages") {
            events.push(message(m)?);
        }
        for s in array(value, "statuses") {
            if let Some(event) = status(s, pair_spacing)? {
                events.push(event);
            }
        }
    }
    if events.is_empty() && !other_fields.is_empty() {
        return Err(InboundError::Unsupported(format!(
            "fields {}",
            other_fields.join(", ")
        )));
    }
    Ok(events)
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Meta's timestamps are Unix seconds as strings.
fn timestamp(v: &Value) -> DateTime<Utc> {
    str_of(v, "timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .unwrap_or_else(Utc::now)
}

/// One resident's message: text (and the text of a button or list reply)
/// to the command core, an image as a photo, anything else refused.
fn message(m: &Value) -> Result<InboundEvent, InboundError> {
    let from = str_of(m, "from")
        .filter(|f| !f.is_empty() && f.len() <= 20 && f.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| InboundError::Malformed("messages[].from must be a number".into()))?;
    let from = Address::new(format!("+{from}"));
    let id = str_of(m, "id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| InboundError::Malformed("messages[].id missing".into()))?
        .to_owned();
    let at = timestamp(m);
    let kind = str_of(m, "type").unwrap_or("unknown");
    let text = match kind {
        "text" => m.pointer("/text/body").and_then(Value::as_str),
        "button" => m.pointer("/button/text").and_then(Value::as_str),
        "interactive" => m
            .pointer("/interactive/button_reply/title")
            .or_else(|| m.pointer("/interactive/list_reply/title"))
            .and_then(Value::as_str),
        _ => None,
    };
    if let Some(text) = text {
        return Ok(InboundEvent::from_text(from, text, Some(id), at));
    }
    let content = match (kind, m.get("image")) {
        ("image", Some(image)) => {
            let media_id = str_of(image, "id")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| InboundError::Malformed("image without id".into()))?;
            InboundContent::Photo {
                media_id: media_id.to_owned(),
                mime_type: str_of(image, "mime_type").map(str::to_owned),
                caption: str_of(image, "caption").map(str::to_owned),
            }
        }
        _ => InboundContent::Unsupported {
            kind: kind
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(32)
                .collect(),
        },
    };
    Ok(InboundEvent::Message {
        from,
        content,
        provider_message_id: Some(id),
        received_at: at,
    })
}

/// A status of a message Herold sent; `failed` carries Meta's first error
/// as `WhatsApp error <code> (<title>)` and what it means for the delivery.
fn status(s: &Value, pair_spacing: Duration) -> Result<Option<InboundEvent>, InboundError> {
    let id = str_of(s, "id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| InboundError::Malformed("statuses[].id missing".into()))?;
    let status = match str_of(s, "status") {
        Some("sent") => DeliveryStatus::Sent,
        Some("delivered") => DeliveryStatus::Delivered,
        Some("read") => DeliveryStatus::Read,
        Some("failed") => DeliveryStatus::Failed,
        // `deleted`, `warning` and future ones change nothing here.
        _ => return Ok(None),
    };
    let (error, failure) = if status == DeliveryStatus::Failed {
        let first = s.pointer("/errors/0");
        let code = first
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let title: String = first
            .and_then(|e| str_of(e, "title").or_else(|| str_of(e, "message")))
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect();
        let failure = match from_code(code, None, &title, pair_spacing) {
            Outcome::WindowClosed => LateFailure::WindowClosed,
            Outcome::Error(e) => LateFailure::from_error(&e, LATE_RETRY),
        };
        (
            Some(format!("WhatsApp error {code} ({title})")),
            Some(failure),
        )
    } else {
        (None, None)
    };
    Ok(Some(InboundEvent::Status {
        provider_message_id: id.to_owned(),
        status,
        at: timestamp(s),
        error,
        failure,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::Command;

    const SIX: Duration = Duration::from_secs(6);

    fn hook() -> WhatsAppWebhook {
        WhatsAppWebhook::new("app-secret", "verify-me")
    }

    fn signed(body: &[u8], secret: &str) -> InboundRequest {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let mut headers = http::HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        InboundRequest::new(headers, None, body.to_vec())
    }

    fn envelope(value: Value) -> Value {
        serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        hook().verify(&signed(body, "app-secret")).unwrap();
        assert_eq!(
            hook().verify(&signed(body, "other-secret")),
            Err(InboundError::BadSignature)
        );
        let mut tampered = signed(body, "app-secret");
        tampered.body.push(b' ');
        assert_eq!(hook().verify(&tampered), Err(InboundError::BadSignature));
        let unsigned = InboundRequest::new(http::HeaderMap::new(), None, body.to_vec());
        assert_eq!(
            hook().verify(&unsigned),
            Err(InboundError::MissingSignature)
        );
        let mut bad = signed(body, "app-secret");
        bad.headers
            .insert(SIGNATURE_HEADER, "sha1=abc".parse().unwrap());
        assert_eq!(hook().verify(&bad), Err(InboundError::BadSignature));
    }

    #[test]
    fn the_handshake_answers_the_challenge_only_with_the_token() {
        let q = |query: &str| {
            InboundRequest::new(http::HeaderMap::new(), Some(query.to_owned()), Vec::new())
        };
        assert_eq!(
            hook()
                .handshake(&q(
                    "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
                ))
                .unwrap(),
            Some(b"1158201444".to_vec())
        );
        assert!(hook()
            .handshake(&q(
                "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"
            ))
            .is_err());
        assert!(hook()
            .handshake(&q(
                "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1"
            ))
            .is_err());
        assert!(hook()
            .handshake(&q("hub.mode=subscribe&hub.challenge=1"))
            .is_err());
    }

    #[test]
    fn messages_become_commands_photos_and_refusals() {
        let body = envelope(serde_json::json!({
            "messaging_product": "whatsapp",
            "contacts": [{"profile": {"name": "Anna"}, "wa_id": "4915112345678"}],
            "messages": [
                {"from": "4915112345678", "id": "wamid.1", "timestamp": "1764400000", "type": "text", "text": {"body": "Start"}},
                {"from": "4915112345678", "id": "wamid.2", "timestamp": "1764400001", "type": "text", "text": {"body": "Die Ampel ist kaputt"}},
                {"from": "4915112345678", "id": "wamid.3", "timestamp": "1764400002", "type": "image", "image": {"id": "media-9", "mime_type": "image/jpeg", "caption": "Schlagloch"}},
                {"from": "4915112345678", "id": "wamid.4", "timestamp": "1764400003", "type": "audio", "audio": {"id": "a1", "voice": true}},
                {"from": "4915112345678", "id": "wamid.5", "timestamp": "1764400004", "type": "button", "button": {"text": "Stop", "payload": "stop"}}
            ]
        }));
        let events = parse_notification(&body, SIX).unwrap();
        assert_eq!(events.len(), 5);
        match &events[0] {
            InboundEvent::Command {
                from,
                command,
                provider_message_id,
                received_at,
                ..
            } => {
                assert_eq!(from.as_str(), "+4915112345678");
                assert!(matches!(command, Command::Start(_)), "{command:?}");
                assert_eq!(provider_message_id.as_deref(), Some("wamid.1"));
                assert_eq!(received_at.timestamp(), 1_764_400_000);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&events[1], InboundEvent::Message { content: InboundContent::Text(t), .. } if t == "Die Ampel ist kaputt")
        );
        assert!(
            matches!(&events[2], InboundEvent::Message { content: InboundContent::Photo { media_id, caption, .. }, .. } if media_id == "media-9" && caption.as_deref() == Some("Schlagloch"))
        );
        assert!(
            matches!(&events[3], InboundEvent::Message { content: InboundContent::Unsupported { kind }, .. } if kind == "audio")
        );
        assert!(matches!(
            &events[4],
            InboundEvent::Command {
                command: Command::Stop(_),
                ..
            }
        ));
    }

    #[test]
    fn statuses_carry_the_error_code() {
        let body = envelope(serde_json::json!({
            "messaging_product": "whatsapp",
            "statuses": [
                {"id": "wamid.A", "status": "delivered", "timestamp": "1764400000", "recipient_id": "4915112345678"},
                {"id": "wamid.B", "status": "failed", "timestamp": "1764400001", "recipient_id": "4915112345678",
                 "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}]},
                {"id": "wamid.C", "status": "deleted", "timestamp": "1764400002"}
            ]
        }));
        let events = parse_notification(&body, SIX).unwrap();
        assert_eq!(events.len(), 2);
        assert!(matches!(
            &events[0],
            InboundEvent::Status {
                status: DeliveryStatus::Delivered,
                error: None,
                ..
            }
        ));
        match &events[1] {
            InboundEvent::Status {
                status: DeliveryStatus::Failed,
                error: Some(e),
                ..
            } => {
                assert_eq!(e, "WhatsApp error 131047 (Re-engagement message)");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &events[1],
            InboundEvent::Status {
                failure: Some(LateFailure::WindowClosed),
                ..
            }
        ));
        assert!(matches!(
            &events[0],
            InboundEvent::Status { failure: None, .. }
        ));
    }

    #[test]
    fn late_failures_mean_what_a_failed_send_means() {
        let late = |code: i64| {
            let body = envelope(
                serde_json::json!({"statuses": [{"id": "w", "status": "failed", "timestamp": "1", "errors": [{"code": code, "title": "t"}]}]}),
            );
            match parse_notification(&body, SIX).unwrap().pop() {
                Some(InboundEvent::Status {
                    failure: Some(f), ..
                }) => f,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            late(131050),
            LateFailure::GiveUp {
                recipient_gone: true
            }
        );
        assert_eq!(
            late(131026),
            LateFailure::GiveUp {
                recipient_gone: false
            }
        );
        assert_eq!(
            late(131049),
            LateFailure::GiveUp {
                recipient_gone: false
            }
        );
        assert_eq!(late(131047), LateFailure::WindowClosed);
        assert_eq!(late(131056), LateFailure::Retry { after_seconds: 6 });
        assert_eq!(late(131000), LateFailure::Retry { after_seconds: 60 });
        assert_eq!(late(130429), LateFailure::Retry { after_seconds: 2 });
        assert_eq!(late(132001), LateFailure::Hold);
        assert_eq!(late(190), LateFailure::Hold);
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(
            parse_notification(&serde_json::json!({"entry": []}), SIX),
            Err(InboundError::Malformed(_))
        ));
        assert!(matches!(
            parse_notification(&serde_json::json!({"object": "page", "entry": []}), SIX),
            Err(InboundError::Unsupported(_))
        ));
        let no_from = envelope(
            serde_json::json!({"messages": [{"id": "x", "type": "text", "text": {"body": "hi"}}]}),
        );
        assert!(
            matches!(parse_notification(&no_from, SIX), Err(InboundError::Malformed(m)) if m.contains("from"))
        );
        let template_review = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "message_template_status_update", "value": {}}]}]});
        assert!(matches!(
            parse_notification(&template_review, SIX),
            Err(InboundError::Unsupported(_))
        ));
        let req = InboundRequest::new(http::HeaderMap::new(), None, b"{not json".to_vec());
        assert!(matches!(
            hook().parse(&req),
            Err(InboundError::Malformed(_))
        ));
    }
}
