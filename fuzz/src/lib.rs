//! Checks shared by Herold's fuzz targets: what must hold for every event
//! an inbound parser returns and for every piece of markup a renderer
//! writes. A violated rule panics, which libFuzzer reports as a crash.

use herold_channel_api::{InboundContent, InboundEvent, SendError, MAX_RETRY_AFTER};

/// Rules for every event a webhook or poller hands to the core: it is
/// stored as JSON and read back by the inbound processor, so it must
/// survive that unchanged; its dedupe key must exist; and `Debug` (logged)
/// must not panic.
pub fn check_events(events: &[InboundEvent]) {
    for event in events {
        let json = serde_json::to_vec(event).expect("an event serialises");
        let back: InboundEvent = serde_json::from_slice(&json).unwrap_or_else(|e| {
            panic!(
                "a stored event cannot be read back: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(&back, event, "an event changes when stored");
        assert!(!event.dedupe_key().is_empty(), "empty dedupe key");
        let _ = format!("{event:?}");
        if let InboundEvent::Message {
            content: InboundContent::Photo { media_id, .. },
            ..
        } = event
        {
            assert!(!media_id.is_empty(), "a photo without media id");
        }
    }
}

/// Rules for a provider's refusal mapped to a [`SendError`]: a retry hint
/// never exceeds [`MAX_RETRY_AFTER`], and it displays.
pub fn check_send_error(error: &SendError) {
    let hint = match error {
        SendError::Transient { retry_after, .. } | SendError::RateLimited { retry_after } => {
            *retry_after
        }
        _ => None,
    };
    if let Some(hint) = hint {
        assert!(hint <= MAX_RETRY_AFTER, "retry hint {hint:?} above the cap");
    }
    let _ = error.to_string();
    let _ = error.disposition();
}

/// The markup checker the renderers' unit tests use.
pub use herold::fuzzing::{check_markup, Markup, MATRIX, TELEGRAM};

/// Splits fuzz input into `n` strings at NUL bytes (missing ones empty),
/// lossily decoded, so one input drives several text fields.
pub fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}
