//! Provider receipts (delivery, read and failure statuses): the fake
//! provider's signed status webhook body, and the same bytes as the
//! `statuses` list of a WhatsApp notification, with what a late failure
//! means for the delivery. (Herold parses no e-mail bounces: a refused
//! SMTP send is classified when it happens, see `provider_responses`.)
#![no_main]

use std::time::Duration;

use herold_channel_api::{
    DeliveryStatus, InboundEvent, InboundParser, InboundRequest, LateFailure,
};
use herold_channel_fake::FakeWebhook;
use herold_channel_whatsapp::parse_notification;
use herold_fuzz::check_events;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fake = FakeWebhook::new(b"fuzz".to_vec());
    let req = InboundRequest::new(http::HeaderMap::new(), None, data.to_vec());
    if let Ok(events) = fake.parse(&req) {
        check_events(&events);
    }
    let Ok(statuses) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "statuses": statuses}}]}]
    });
    if let Ok(events) = parse_notification(&body, Duration::from_secs(6)) {
        check_events(&events);
        for event in &events {
            if let InboundEvent::Status {
                status, failure, ..
            } = event
            {
                assert!(failure.is_none() || *status == DeliveryStatus::Failed);
                if let Some(LateFailure::Retry { after_seconds }) = failure {
                    assert!((1..=3600).contains(after_seconds), "{after_seconds}");
                }
            }
        }
    }
});
