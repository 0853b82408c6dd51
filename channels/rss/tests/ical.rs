//! `ical_calendar` output checked by independent parsers: the `icalendar` crate's
//! parser, and the PyPI package `icalendar` (7.3.0) via
//! `tests/support/validate_ical.py` when `HEROLD_TEST_PYTHON` names a Python.
//!
//! Without `HEROLD_TEST_PYTHON` the Python check is skipped with a note; with it,
//! a missing package fails the test.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use herold_channel_rss::{ical_calendar, CalendarEvent, CalendarMeta, EventStatus, EventTime};
use icalendar::{Component as _, DatePerhapsTime, EventLike as _};
use serde_json::{json, Value};

const PYTHON_PACKAGE: &str = "icalendar==7.3.0";

/// Everything the escaper must handle, plus umlauts.
const NASTY: &str =
    "Straße <gesperrt> & \"Umleitung\" 'heute'; a,b \\ c\\n\nZeile 2\r\nZeile 3: Ä Ö Ü ß €";

fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, day, hour, min, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, d).unwrap()
}

/// `NASTY` with line breaks as a parser returns them (CRLF normalised to LF).
fn nasty_parsed() -> String {
    NASTY.replace("\r\n", "\n")
}

/// Umlauts and `ß` so that, with every prefix length, some multi-octet character
/// straddles a fold boundary.
fn umlaut_text(prefix: usize) -> String {
    format!("{}{}", "x".repeat(prefix), "äöüßÄÖÜ€ ".repeat(30))
}

fn sample() -> (CalendarMeta, Vec<CalendarEvent>) {
    let mut meta = CalendarMeta::new(
        "-//Gemeinde Musterdorf//Herold 0.1.0//DE",
        "Gemeinde Müsterdorf; Termine, Sperrungen",
    );
    meta.description = Some(NASTY.into());
    meta.timezone = Some("Europe/Berlin".into());
    meta.source_url = Some("https://herold.example.org/feeds/all.ics".into());

    let mut timed = CalendarEvent::new(
        "announcement-42@herold.example.org",
        NASTY,
        EventTime::At {
            start: at(3, 18, 0),
            end: Some(at(3, 20, 30)),
        },
        at(1, 9, 15),
    );
    timed.published = at(1, 8, 0);
    timed.description = format!("{NASTY}\n\n{}", umlaut_text(3));
    timed.location = Some(NASTY.into());
    timed.url = "https://www.musterdorf.de/a/42?x=1&y=2".into();
    timed.categories = vec![
        "Verkehr & Straßen".into(),
        "Rat, Ausschüsse; Sitzungen".into(),
    ];

    let mut all_day = CalendarEvent::new(
        "announcement-43@herold.example.org",
        "Kirmes",
        // 7 to 9 June; DTEND, exclusive, is 10 June.
        EventTime::AllDay {
            start: day(7),
            last: Some(day(9)),
        },
        at(2, 10, 0),
    );
    all_day.location = Some("Festplatz".into());

    let mut cancelled = CalendarEvent::new(
        "announcement-44@herold.example.org",
        "Sperrmüllabfuhr",
        EventTime::AllDay {
            start: day(12),
            last: None,
        },
        at(4, 11, 0),
    );
    cancelled.published = at(2, 11, 0);
    cancelled.status = EventStatus::Cancelled;
    cancelled.sequence = 2;

    let mut events = vec![timed, all_day, cancelled];
    // Titles whose umlauts land on every octet position around the first fold.
    for prefix in 60..70 {
        events.push(CalendarEvent::new(
            format!("fold-{prefix}@herold.example.org"),
            umlaut_text(prefix),
            EventTime::At {
                start: at(20, 9, 0),
                end: None,
            },
            at(5, 0, 0),
        ));
    }
    (meta, events)
}

#[test]
fn raw_form() {
    let (meta, events) = sample();
    let ics = ical_calendar(&meta, &events);
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
    assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
    assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
    for line in ics.split_terminator("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
}

#[test]
fn rust_parser_round_trips() {
    let (meta, events) = sample();
    let ics = ical_calendar(&meta, &events);
    let cal: icalendar::Calendar = ics.parse().unwrap_or_else(|e| panic!("{e}\n{ics}"));

    assert_eq!(cal.property_value("VERSION"), Some("2.0"));
    assert_eq!(cal.property_value("METHOD"), Some("PUBLISH"));
    assert_eq!(cal.property_value("CALSCALE"), Some("GREGORIAN"));
    assert_eq!(
        cal.property_value("X-WR-CALNAME"),
        Some("Gemeinde Müsterdorf; Termine, Sperrungen")
    );
    assert_eq!(
        cal.property_value("X-WR-CALDESC"),
        Some(nasty_parsed().as_str())
    );
    assert_eq!(cal.get_timezone(), Some("Europe/Berlin"));
    assert_eq!(cal.get_ttl(), Some(chrono::Duration::hours(1)));
    assert_eq!(cal.property_value("X-PUBLISHED-TTL"), Some("PT1H"));

    let parsed: Vec<_> = cal.events().collect();
    assert_eq!(parsed.len(), events.len());
    for (p, e) in parsed.iter().zip(&events) {
        assert_eq!(p.get_uid(), Some(e.uid.as_str()));
        assert_eq!(
            p.get_summary(),
            Some(e.title.replace("\r\n", "\n").as_str())
        );
        let description = (!e.description.is_empty()).then(|| e.description.replace("\r\n", "\n"));
        assert_eq!(p.get_description(), description.as_deref());
        let location = e.location.as_ref().map(|l| l.replace("\r\n", "\n"));
        assert_eq!(p.get_location(), location.as_deref());
        assert_eq!(p.get_sequence(), Some(e.sequence));
        assert_eq!(p.get_timestamp(), Some(e.updated));
        assert_eq!(p.get_last_modified(), Some(e.updated));
        assert_eq!(p.get_created(), Some(e.published));
        match e.when {
            EventTime::At { start, end } => {
                assert_eq!(p.get_start(), Some(DatePerhapsTime::from(start)));
                assert_eq!(p.get_end(), end.map(DatePerhapsTime::from));
            }
            EventTime::AllDay { start, last } => {
                assert_eq!(p.get_start(), Some(DatePerhapsTime::Date(start)));
                let end = last.and_then(|d| d.succ_opt());
                assert_eq!(p.get_end(), end.map(DatePerhapsTime::Date));
            }
        }
    }
    assert_eq!(
        parsed[0].get_url(),
        Some("https://www.musterdorf.de/a/42?x=1&y=2")
    );
    assert_eq!(
        parsed[0].get_categories(),
        Some(vec![
            "Verkehr & Straßen".to_owned(),
            "Rat, Ausschüsse; Sitzungen".to_owned()
        ])
    );
    assert_eq!(
        parsed[0].get_status(),
        Some(icalendar::EventStatus::Confirmed)
    );
    assert_eq!(
        parsed[2].get_status(),
        Some(icalendar::EventStatus::Cancelled)
    );
    assert_eq!(parsed[2].get_sequence(), Some(2));
}

/// The Python interpreter to validate with, or `None` (with a note) to skip.
fn python() -> Option<String> {
    match std::env::var("HEROLD_TEST_PYTHON") {
        Ok(py) if !py.is_empty() => Some(py),
        _ => {
            eprintln!(
                "note: HEROLD_TEST_PYTHON is not set; skipping the check with the PyPI \
                 package icalendar (install `{PYTHON_PACKAGE}` and set HEROLD_TEST_PYTHON \
                 to that Python to run it)"
            );
            None
        }
    }
}

/// Pipes `ics` through `tests/support/validate_ical.py`.
fn run_validator(py: &str, ics: &str) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate_ical.py");
    let mut child = Command::new(py)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run HEROLD_TEST_PYTHON={py}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}: install it with `{py} -m pip install {PYTHON_PACKAGE}`",
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    out
}

fn validate_with_python(py: &str, ics: &str) -> Value {
    let out = run_validator(py, ics);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{ics}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn python_icalendar_validates() {
    let Some(py) = python() else { return };
    let (meta, events) = sample();
    let ics = ical_calendar(&meta, &events);
    let got = validate_with_python(&py, &ics);
    eprintln!("validated with icalendar {}", got["icalendar_version"]);

    assert_eq!(got["method"], "PUBLISH");
    assert_eq!(got["calscale"], "GREGORIAN");
    assert_eq!(got["prodid"], "-//Gemeinde Musterdorf//Herold 0.1.0//DE");
    assert_eq!(got["name"], "Gemeinde Müsterdorf; Termine, Sperrungen");
    assert_eq!(
        got["rfc7986_name"],
        "Gemeinde Müsterdorf; Termine, Sperrungen"
    );
    assert_eq!(got["description"], nasty_parsed());
    assert_eq!(got["x_description"], nasty_parsed());
    assert_eq!(got["timezone"], "Europe/Berlin");
    assert_eq!(got["refresh_seconds"], 3600);
    assert_eq!(got["ttl"], "PT1H");

    let parsed = got["events"].as_array().unwrap();
    assert_eq!(parsed.len(), events.len());
    for (p, e) in parsed.iter().zip(&events) {
        assert_eq!(p["uid"], e.uid.as_str());
        assert_eq!(p["summary"], e.title.replace("\r\n", "\n"));
        assert_eq!(p["sequence"], e.sequence);
        assert_eq!(p["dtstamp"], json!({"date_time": stamp(e.updated)}));
        assert_eq!(p["last_modified"], json!({"date_time": stamp(e.updated)}));
        assert_eq!(p["created"], json!({"date_time": stamp(e.published)}));
    }

    let timed = &parsed[0];
    assert_eq!(
        timed["description"],
        events[0].description.replace("\r\n", "\n")
    );
    assert_eq!(timed["location"], nasty_parsed());
    assert_eq!(timed["url"], "https://www.musterdorf.de/a/42?x=1&y=2");
    assert_eq!(
        timed["categories"],
        json!(["Verkehr & Straßen", "Rat, Ausschüsse; Sitzungen"])
    );
    assert_eq!(timed["status"], "CONFIRMED");
    assert_eq!(timed["start"], json!({"date_time": "2024-06-03T18:00:00Z"}));
    assert_eq!(timed["end"], json!({"date_time": "2024-06-03T20:30:00Z"}));

    let all_day = &parsed[1];
    assert_eq!(all_day["start"], json!({"date": "2024-06-07"}));
    assert_eq!(all_day["end"], json!({"date": "2024-06-10"}));
    assert_eq!(all_day["location"], "Festplatz");
    assert_eq!(all_day["description"], Value::Null);

    let cancelled = &parsed[2];
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["sequence"], 2);
    assert_eq!(cancelled["start"], json!({"date": "2024-06-12"}));
    assert_eq!(cancelled["end"], Value::Null);
}

#[test]
fn python_validator_rejects_broken_folding() {
    let Some(py) = python() else { return };
    // Sanity check of the validator itself: a line over 75 octets must fail.
    let (meta, _) = sample();
    let ics = ical_calendar(&meta, &[]).replace(
        "END:VCALENDAR",
        &format!("X-LONG:{}\r\nEND:VCALENDAR", "x".repeat(80)),
    );
    let out = run_validator(&py, &ics);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("87 octets > 75"), "{stderr}");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
