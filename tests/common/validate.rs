//! Independent checks of what Herold serves: feedparser for Atom and RSS,
//! Python's `icalendar` for calendars (both from `.test-peers`).

use std::path::Path;

use super::server::python;

/// Runs feedparser over a feed (`kind`: `atom` or `rss`); returns its JSON
/// summary, or fails the test with feedparser's complaint.
pub fn feed(body: &str, kind: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("feed.{kind}"));
    std::fs::write(&file, body).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate_feed.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(&file)
        .arg(kind)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "feedparser rejected the {kind} feed: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the icalendar check over a calendar; returns its JSON summary, or
/// fails the test with the parser's complaint.
pub fn ical(body: &str) -> serde_json::Value {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("channels/rss/tests/support/validate_ical.py");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.ics");
    std::fs::write(&file, body).unwrap();
    let out = std::process::Command::new(python())
        .arg(script)
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the iCalendar check rejected the calendar: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
