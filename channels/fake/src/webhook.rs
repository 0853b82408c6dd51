//! The fake provider's status webhook: what a real provider's delivery
//! receipts look like to Herold, small enough to drive from tests.
//!
//! `POST /webhooks/{channel}` with header
//! `X-Fake-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and body
//! `{"statuses": [{"id": "fake-7", "status": "delivered", "timestamp": "…RFC 3339…",
//! "error": null}]}`; `status` is one of sent, delivered, read, failed. Residents'
//! messages come as `"messages": [{"id": "m-1", "from": "4711", "text": "Start",
//! "timestamp": "…"}]` (commands are recognised as a real adapter would; a
//! `"kind": "voice"` instead of text is media the service does not take).

use chrono::{DateTime, Utc};
use herold_channel_api::{
    DeliveryStatus, InboundError, InboundEvent, InboundParser, InboundRequest, InboundVerifier,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-fake-signature";

/// Verifies and parses the fake provider's status webhooks.
pub struct FakeWebhook {
    secret: Vec<u8>,
}

impl FakeWebhook {
    /// A webhook whose requests are signed with `secret`.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    /// The signature header value for `body` (for tests and the fake server).
    pub fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl InboundVerifier for FakeWebhook {
    fn verify(&self, req: &InboundRequest) -> Result<(), InboundError> {
        let given = req
            .header(SIGNATURE_HEADER)
            .ok_or(InboundError::MissingSignature)?;
        let hex_sig = given
            .strip_prefix("sha256=")
            .ok_or(InboundError::BadSignature)?;
        let sig = hex::decode(hex_sig).map_err(|_| InboundError::BadSignature)?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).map_err(|_| InboundError::BadSignature)?;
        mac.update(&req.body);
        // Constant-time comparison.
        mac.verify_slice(&sig)
            .map_err(|_| InboundError::BadSignature)
    }

    /// The handshake real providers (WhatsApp) do before sending webhooks:
    /// `GET ?hub.mode=subscribe&hub.verify_token=<secret>&hub.challenge=<x>`
    /// is answered with `<x>`.
    fn handshake(&self, req: &InboundRequest) -> Result<Option<Vec<u8>>, InboundError> {
        let query = req.query.as_deref().unwrap_or_default();
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        };
        if param("hub.mode") != Some("subscribe") {
            return Err(InboundError::Malformed(
                "expected hub.mode=subscribe".into(),
            ));
        }
        let token = param("hub.verify_token").ok_or(InboundError::MissingSignature)?;
        // Constant-time comparison through the HMAC of both sides.
        if Self::sign(&self.secret, token.as_bytes()) != Self::sign(&self.secret, &self.secret) {
            return Err(InboundError::BadSignature);
        }
        let challenge = param("hub.challenge")
            .ok_or_else(|| InboundError::Malformed("hub.challenge missing".into()))?;
        Ok(Some(challenge.as_bytes().to_vec()))
    }
}

#[derive(serde::Deserialize)]
struct Payload {
    #[serde(default)]
    statuses: Vec<Status>,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(serde::Deserialize)]
struct Message {
    id: String,
    from: String,
    #[serde(default)]
    text: String,
    /// A media kind the provider reports instead of text (`voice`, …).
    #[serde(default)]
    kind: Option<String>,
    timestamp: DateTime<Utc>,
}

#[derive(serde::Deserialize)]
struct Status {
    id: String,
    status: DeliveryStatus,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    error: Option<String>,
}

impl InboundParser for FakeWebhook {
    fn parse(&self, req: &InboundRequest) -> Result<Vec<InboundEvent>, InboundError> {
        let p: Payload = serde_json::from_slice(&req.body).map_err(|e| {
            InboundError::Malformed(format!("expected {{\"statuses\": [...]}}: {e}"))
        })?;
        // An empty id would be the dedupe key of every such event: all but
        // the first would be dropped as repeats (found by fuzzing).
        if p.statuses.iter().any(|s| s.id.is_empty()) || p.messages.iter().any(|m| m.id.is_empty())
        {
            return Err(InboundError::Malformed("an empty \"id\"".into()));
        }
        let statuses = p
            .statuses
            .into_iter()
            .map(|s| InboundEvent::Status {
                provider_message_id: s.id,
                status: s.status,
                at: s.timestamp,
                error: s.error,
                failure: None,
            })
            .collect::<Vec<_>>();
        let messages = p.messages.into_iter().map(|m| match m.kind {
            Some(kind) => InboundEvent::Message {
                from: herold_channel_api::Address::new(m.from),
                content: herold_channel_api::InboundContent::Unsupported { kind },
                provider_message_id: Some(m.id),
                received_at: m.timestamp,
            },
            None => InboundEvent::from_text(
                herold_channel_api::Address::new(m.from),
                m.text,
                Some(m.id),
                m.timestamp,
            ),
        });
        Ok(statuses.into_iter().chain(messages).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &[u8], sig: Option<&str>) -> InboundRequest {
        let mut headers = http::HeaderMap::new();
        if let Some(s) = sig {
            headers.insert(SIGNATURE_HEADER, s.parse().unwrap());
        }
        InboundRequest::new(headers, None, body.to_vec())
    }

    #[test]
    fn empty_ids_are_refused() {
        let w = FakeWebhook::new("geheim");
        for body in [
            &br#"{"statuses":[{"id":"","status":"read","timestamp":"2026-11-23T08:00:00Z"}]}"#[..],
            br#"{"messages":[{"id":"","from":"4711","text":"Start","timestamp":"2026-11-23T08:00:00Z"}]}"#,
        ] {
            assert!(matches!(
                w.parse(&req(body, None)),
                Err(InboundError::Malformed(_))
            ));
        }
    }

    #[test]
    fn signatures() {
        let w = FakeWebhook::new("geheim");
        let body = br#"{"statuses":[]}"#;
        let good = FakeWebhook::sign(b"geheim", body);
        assert_eq!(w.verify(&req(body, Some(&good))), Ok(()));
        assert_eq!(
            w.verify(&req(body, None)),
            Err(InboundError::MissingSignature)
        );
        let forged = FakeWebhook::sign(b"falsch", body);
        assert_eq!(
            w.verify(&req(body, Some(&forged))),
            Err(InboundError::BadSignature)
        );
        // The same signature over a changed body fails.
        assert_eq!(
            w.verify(&req(br#"{"statuses":[{}]}"#, Some(&good))),
            Err(InboundError::BadSignature)
        );
        assert_eq!(
            w.verify(&req(body, Some("sha256=zz"))),
            Err(InboundError::BadSignature)
        );
    }

    #[test]
    fn parses_statuses_and_rejects_garbage() {
        let w = FakeWebhook::new("k");
        let body =
            br#"{"statuses":[{"id":"fake-1","status":"read","timestamp":"2026-11-23T08:00:00Z"}]}"#;
        let events = w.parse(&req(body, None)).unwrap();
        assert!(matches!(
            &events[0],
            InboundEvent::Status { provider_message_id, status: DeliveryStatus::Read, .. }
                if provider_message_id == "fake-1"
        ));
        assert!(matches!(
            w.parse(&req(b"{\"statuses\":[{\"id\":1}]}", None)),
            Err(InboundError::Malformed(_))
        ));
    }
}
