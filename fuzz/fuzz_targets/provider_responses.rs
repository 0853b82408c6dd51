//! Providers' refusals: a Bot API error answer (Telegram), a Cloud API
//! error answer (WhatsApp), an SMTP reply's enhanced status code and an
//! HTTP `Retry-After` value, each mapped to what the engine does next.
#![no_main]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use herold_channel_api::{retry_after_from_header, MAX_RETRY_AFTER};
use herold_channel_email::EnhancedCode;
use herold_channel_telegram::map::{map_error, Target};
use herold_channel_whatsapp::map::{from_response, Outcome};
use herold_fuzz::check_send_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => (400, data),
    };
    for target in [Target::Recipient, Target::FollowChannel] {
        check_send_error(&map_error(status, body, target));
    }
    if let Outcome::Error(e) = from_response(status, body, Duration::from_secs(6)) {
        check_send_error(&e);
    }
    let text = String::from_utf8_lossy(body);
    if let Some(code) = EnhancedCode::parse_prefix(&text) {
        assert!(matches!(code.class, 2 | 4 | 5));
    }
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    if let Some(delay) = retry_after_from_header(&text, now) {
        assert!(delay <= MAX_RETRY_AFTER);
    }
});
