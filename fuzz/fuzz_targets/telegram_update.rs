//! Telegram: a webhook request body (one `Update`) through
//! `TelegramWebhook`, and a `getUpdates` result (a list of updates) through
//! `parse_update` one by one, as long polling reads it.
#![no_main]

use herold_channel_api::{InboundParser, InboundRequest, InboundVerifier};
use herold_channel_telegram::{parse_update, TelegramWebhook, SECRET_HEADER};
use herold_fuzz::check_events;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hook = TelegramWebhook::new("fuzz-secret");
    let mut headers = http::HeaderMap::new();
    headers.insert(SECRET_HEADER, http::HeaderValue::from_static("fuzz-secret"));
    let req = InboundRequest::new(headers, None, data.to_vec());
    assert!(hook.verify(&req).is_ok());
    if let Ok(events) = hook.parse(&req) {
        check_events(&events);
    }
    if let Ok(serde_json::Value::Array(updates)) = serde_json::from_slice(data) {
        for update in &updates {
            if let Ok(events) = parse_update(update) {
                check_events(&events);
            }
        }
    }
});
