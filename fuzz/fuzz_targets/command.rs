//! The residents' command core: any message text through
//! `Command::parse_detailed` (Start/Stop with categories, Löschen, Hilfe,
//! numbers …), `fold` (how category names are matched) and
//! `InboundEvent::from_text` (what every channel hands to the core).
#![no_main]

use chrono::{TimeZone, Utc};
use herold_channel_api::{fold, Address, Choice, Command, InboundEvent};
use herold_fuzz::check_events;
use libfuzzer_sys::fuzz_target;

fn names_ok(choices: &[Choice]) {
    assert!(choices.len() <= 10 || choices.iter().all(|c| matches!(c, Choice::Number(_))));
    for (i, c) in choices.iter().enumerate() {
        assert!(!choices[..i].contains(c), "duplicate choice {c:?}");
        if let Choice::Name(name) = c {
            assert!(!name.is_empty(), "empty category name");
            assert_eq!(&fold(name), name, "a name is not folded");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = Command::parse_detailed(&text);
    // Surrounding white space never changes what a message means.
    assert_eq!(
        Command::parse_detailed(&format!(" \t{text}\n ")),
        parsed,
        "white space around {text:?}"
    );
    if let Some(p) = &parsed {
        match &p.command {
            Command::Start(c) | Command::Stop(c) => names_ok(c),
            Command::Choose(c) => {
                assert!(!c.is_empty());
                names_ok(c);
            }
            _ => {}
        }
    }
    let folded = fold(&text);
    assert_eq!(folded.trim(), folded);
    let at = Utc.timestamp_opt(1_764_400_000, 0).unwrap();
    let event = InboundEvent::from_text(Address::new("4711"), text.as_ref(), None, at);
    assert_eq!(
        matches!(event, InboundEvent::Command { .. }),
        parsed.is_some()
    );
    check_events(&[event]);
});
