//! Matrix: a room event's JSON (as sync hands it over, decrypted) through
//! `inbound::read_event`; a list of events (a timeline) one by one.
#![no_main]

use herold_channel_api::{InboundContent, InboundEvent};
use herold_channel_matrix::inbound::{read_event, MediaRef, Read};
use herold_fuzz::check_events;
use libfuzzer_sys::fuzz_target;

const ROOM: &str = "!dm:example.org";
const BOT: &str = "@herold:example.org";

fn one(event: &serde_json::Value) {
    if let Read::Event(event) = read_event(ROOM, BOT, event) {
        check_events(std::slice::from_ref(&event));
        if let InboundEvent::Message {
            content: InboundContent::Photo { media_id, .. },
            ..
        } = &event
        {
            // fetch_media reads the reference back.
            let media: MediaRef = serde_json::from_str(media_id).expect("media ref reads back");
            assert!(media.url.is_some() || media.file.is_some());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Array(events)) => events.iter().for_each(one),
        Ok(event) => one(&event),
        Err(_) => {}
    }
});
