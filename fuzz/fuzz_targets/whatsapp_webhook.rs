//! WhatsApp Cloud API: a webhook notification body (messages and
//! statuses) through `WhatsAppWebhook`, the same bytes as the verification
//! handshake's query string and as an `X-Hub-Signature-256` header.
#![no_main]

use herold_channel_api::{InboundParser, InboundRequest, InboundVerifier};
use herold_channel_whatsapp::{WhatsAppWebhook, SIGNATURE_HEADER};
use herold_fuzz::check_events;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hook = WhatsAppWebhook::new("app-secret", "verify-me");
    let req = InboundRequest::new(http::HeaderMap::new(), None, data.to_vec());
    if let Ok(events) = hook.parse(&req) {
        check_events(&events);
    }
    let query = String::from_utf8_lossy(data).into_owned();
    let handshake = InboundRequest::new(http::HeaderMap::new(), Some(query), Vec::new());
    if let Ok(Some(challenge)) = hook.handshake(&handshake) {
        assert!(!challenge.is_empty() && challenge.len() <= 256);
    }
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value);
        let signed = InboundRequest::new(headers, None, b"{}".to_vec());
        let _ = hook.verify(&signed);
    }
});
