//! iCalendar (RFC 5545) output for dated announcements.

mod content;

use std::time::Duration;

use chrono::{DateTime, Utc};
use herold_channel_api::EventTime;

use content::Lines;

/// Refresh hint clients get unless [`CalendarMeta::refresh_interval`] is changed.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);

/// Calendar-level metadata.
///
/// Build it with [`CalendarMeta::new`] and set the optional fields afterwards, so
/// future optional fields don't break callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarMeta {
    /// Product identifier (`PRODID`), e.g. `-//Gemeinde Musterdorf//Herold 0.1.0//DE`.
    pub prod_id: String,
    /// Calendar name shown by clients (`NAME` from RFC 7986 and `X-WR-CALNAME`).
    pub name: String,
    /// Optional description (`DESCRIPTION` from RFC 7986 and `X-WR-CALDESC`).
    pub description: Option<String>,
    /// IANA time zone clients should display the calendar in (`X-WR-TIMEZONE`),
    /// e.g. `Europe/Berlin`. Event times are always written in UTC.
    pub timezone: Option<String>,
    /// URL this calendar is served from (`SOURCE;VALUE=URI`, RFC 7986).
    pub source_url: Option<String>,
    /// How often clients should re-fetch (`REFRESH-INTERVAL;VALUE=DURATION` from
    /// RFC 7986 and `X-PUBLISHED-TTL`), in whole seconds; `None` or less than a
    /// second omits the hint.
    pub refresh_interval: Option<Duration>,
}

impl CalendarMeta {
    /// Metadata with the given `PRODID` and name, refreshed every hour
    /// ([`DEFAULT_REFRESH_INTERVAL`]) and without optional parts.
    pub fn new(prod_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            prod_id: prod_id.into(),
            name: name.into(),
            description: None,
            timezone: None,
            source_url: None,
            refresh_interval: Some(DEFAULT_REFRESH_INTERVAL),
        }
    }
}

/// `STATUS` of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventStatus {
    /// The event takes place (`CONFIRMED`).
    #[default]
    Confirmed,
    /// The event is not yet certain (`TENTATIVE`).
    Tentative,
    /// The event was called off (`CANCELLED`); keep publishing it with a higher
    /// [`CalendarEvent::sequence`] so subscribed clients remove or strike it.
    Cancelled,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Tentative => "TENTATIVE",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// One dated announcement as a calendar event (`VEVENT`).
///
/// Build it with [`CalendarEvent::new`] and set the optional fields afterwards, so
/// future optional fields don't break callers. A correction of an event keeps its
/// [`uid`](Self::uid) and increases [`sequence`](Self::sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Globally unique, stable id (`UID`), e.g. `announcement-42@herold.example.org`.
    pub uid: String,
    /// Title as plain text (`SUMMARY`).
    pub title: String,
    /// Plain-text description (`DESCRIPTION`); omitted if empty.
    pub description: String,
    /// Link to the announcement on the website (`URL`); omitted if empty.
    pub url: String,
    /// When the event takes place (`DTSTART`, `DTEND`).
    pub when: EventTime,
    /// Where it takes place (`LOCATION`).
    pub location: Option<String>,
    /// First publication (`CREATED`).
    pub published: DateTime<Utc>,
    /// Last modification (`LAST-MODIFIED`, also `DTSTAMP`, so the output only
    /// changes when the data does).
    pub updated: DateTime<Utc>,
    /// Categories (`CATEGORIES`), e.g. `Abfall & Wertstoffe`; empty ones are skipped.
    pub categories: Vec<String>,
    /// Confirmed or cancelled.
    pub status: EventStatus,
    /// Revision (`SEQUENCE`): 0 when first published, increased by each correction.
    pub sequence: u32,
    /// Files attached by URL (`ATTACH;FMTTYPE=…`), e.g. the announcement's image.
    pub attachments: Vec<Attachment>,
}

/// A file an event links to (`ATTACH` with a URI value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Absolute URL of the file.
    pub url: String,
    /// MIME type, e.g. `image/jpeg`; the `FMTTYPE` parameter is left out if
    /// it is not a plain `type/subtype`.
    pub mime_type: String,
}

impl CalendarEvent {
    /// A confirmed, first-revision event published and last modified at `updated`,
    /// without description, URL, location or categories.
    pub fn new(
        uid: impl Into<String>,
        title: impl Into<String>,
        when: EventTime,
        updated: DateTime<Utc>,
    ) -> Self {
        Self {
            uid: uid.into(),
            title: title.into(),
            description: String::new(),
            url: String::new(),
            when,
            location: None,
            published: updated,
            updated,
            categories: Vec::new(),
            status: EventStatus::Confirmed,
            sequence: 0,
            attachments: Vec::new(),
        }
    }
}

/// Renders an iCalendar (RFC 5545) document with one `VEVENT` per event, in the
/// order given.
///
/// The calendar carries `VERSION:2.0`, `PRODID`, `CALSCALE:GREGORIAN`,
/// `METHOD:PUBLISH`, its name, optional description, time zone and source URL, and
/// the refresh hint. Events are `TRANSP:TRANSPARENT`: announcements must not block
/// subscribers' free/busy time. Lines end in CRLF and are folded at 75 octets
/// without splitting UTF-8 characters; TEXT values are escaped, control
/// characters dropped. The output depends only on the input.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use herold_channel_rss::{ical_calendar, CalendarEvent, CalendarMeta, EventStatus, EventTime};
///
/// let mut meta = CalendarMeta::new("-//Gemeinde Musterdorf//Herold//DE", "Musterdorf");
/// meta.timezone = Some("Europe/Berlin".into());
/// let day = NaiveDate::from_ymd_opt(2024, 6, 12).unwrap();
/// let updated = Utc.with_ymd_and_hms(2024, 6, 4, 11, 0, 0).unwrap();
/// let mut event = CalendarEvent::new(
///     "announcement-44@herold.example.org",
///     "Sperrmüllabfuhr",
///     EventTime::AllDay { start: day, last: None },
///     updated,
/// );
/// // A correction: the collection is called off.
/// event.status = EventStatus::Cancelled;
/// event.sequence = 1;
/// let ics = ical_calendar(&meta, &[event]);
/// assert!(ics.contains("\r\nDTSTART;VALUE=DATE:20240612\r\n"));
/// assert!(ics.contains("\r\nSTATUS:CANCELLED\r\nSEQUENCE:1\r\n"));
/// ```
pub fn ical_calendar(meta: &CalendarMeta, events: &[CalendarEvent]) -> String {
    let mut lines = Lines::default();
    lines.raw("BEGIN", "VCALENDAR");
    lines.raw("VERSION", "2.0");
    lines.text("PRODID", &meta.prod_id);
    lines.raw("CALSCALE", "GREGORIAN");
    lines.raw("METHOD", "PUBLISH");
    lines.text("NAME", &meta.name);
    lines.text("X-WR-CALNAME", &meta.name);
    if let Some(description) = &meta.description {
        lines.text("DESCRIPTION", description);
        lines.text("X-WR-CALDESC", description);
    }
    if let Some(tz) = &meta.timezone {
        lines.text("X-WR-TIMEZONE", tz);
    }
    if let Some(url) = &meta.source_url {
        lines.uri("SOURCE;VALUE=URI", url);
    }
    if let Some(interval) = meta.refresh_interval.and_then(content::duration) {
        lines.raw("REFRESH-INTERVAL;VALUE=DURATION", &interval);
        lines.raw("X-PUBLISHED-TTL", &interval);
    }
    for event in events {
        write_event(&mut lines, event);
    }
    lines.raw("END", "VCALENDAR");
    lines.finish()
}

fn write_event(lines: &mut Lines, e: &CalendarEvent) {
    lines.raw("BEGIN", "VEVENT");
    lines.text("UID", &e.uid);
    lines.date_time("DTSTAMP", e.updated);
    match e.when {
        EventTime::At { start, end } => {
            lines.date_time("DTSTART", start);
            if let Some(end) = end.filter(|&end| end > start) {
                lines.date_time("DTEND", end);
            }
        }
        EventTime::AllDay { start, last } => {
            lines.date("DTSTART", start);
            // DTEND of an all-day event is exclusive: the day after the last.
            if let Some(end) = last
                .filter(|&last| last >= start)
                .and_then(|last| last.succ_opt())
            {
                lines.date("DTEND", end);
            }
        }
    }
    lines.text("SUMMARY", &e.title);
    if !e.description.is_empty() {
        lines.text("DESCRIPTION", &e.description);
    }
    if let Some(location) = &e.location {
        lines.text("LOCATION", location);
    }
    if !e.url.is_empty() {
        lines.uri("URL", &e.url);
    }
    for a in e.attachments.iter().filter(|a| !a.url.is_empty()) {
        if content::is_media_type(&a.mime_type) {
            lines.uri(&format!("ATTACH;FMTTYPE={}", a.mime_type), &a.url);
        } else {
            lines.uri("ATTACH", &a.url);
        }
    }
    let categories: Vec<String> = e
        .categories
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| content::escape_text(c))
        .collect();
    if !categories.is_empty() {
        lines.raw("CATEGORIES", &categories.join(","));
    }
    lines.raw("STATUS", e.status.as_str());
    lines.raw("SEQUENCE", &e.sequence.to_string());
    lines.date_time("CREATED", e.published);
    lines.date_time("LAST-MODIFIED", e.updated);
    lines.raw("TRANSP", "TRANSPARENT");
    lines.raw("END", "VEVENT");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, day, hour, 30, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, d).unwrap()
    }

    fn meta() -> CalendarMeta {
        CalendarMeta::new("-//Gemeinde Musterdorf//Herold//DE", "Musterdorf: Termine")
    }

    fn lines(ics: &str) -> Vec<&str> {
        assert!(ics.ends_with("\r\n"));
        ics.split_terminator("\r\n").collect()
    }

    #[test]
    fn empty_calendar() {
        let ics = ical_calendar(&meta(), &[]);
        assert_eq!(
            lines(&ics),
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//Gemeinde Musterdorf//Herold//DE",
                "CALSCALE:GREGORIAN",
                "METHOD:PUBLISH",
                "NAME:Musterdorf: Termine",
                "X-WR-CALNAME:Musterdorf: Termine",
                "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
                "X-PUBLISHED-TTL:PT1H",
                "END:VCALENDAR",
            ]
        );
    }

    #[test]
    fn optional_calendar_properties() {
        let mut m = meta();
        m.description = Some("Termine, Sperrungen; Abfuhr".into());
        m.timezone = Some("Europe/Berlin".into());
        m.source_url = Some("https://herold.example.org/feeds/all.ics".into());
        m.refresh_interval = Some(Duration::from_secs(1800));
        let ics = ical_calendar(&m, &[]);
        let l = lines(&ics);
        assert!(l.contains(&"DESCRIPTION:Termine\\, Sperrungen\\; Abfuhr"));
        assert!(l.contains(&"X-WR-CALDESC:Termine\\, Sperrungen\\; Abfuhr"));
        assert!(l.contains(&"X-WR-TIMEZONE:Europe/Berlin"));
        assert!(l.contains(&"SOURCE;VALUE=URI:https://herold.example.org/feeds/all.ics"));
        assert!(l.contains(&"REFRESH-INTERVAL;VALUE=DURATION:PT30M"));
        assert!(l.contains(&"X-PUBLISHED-TTL:PT30M"));

        m.refresh_interval = None;
        assert!(!ical_calendar(&m, &[]).contains("REFRESH-INTERVAL"));
    }

    #[test]
    fn timed_event() {
        let mut e = CalendarEvent::new(
            "announcement-42@herold.example.org",
            "Gemeinderatssitzung",
            EventTime::At {
                start: at(3, 18),
                end: Some(at(3, 20)),
            },
            at(1, 9),
        );
        e.published = at(1, 8);
        e.description = "Öffentliche Sitzung".into();
        e.url = "https://www.musterdorf.de/a/42".into();
        e.location = Some("Rathaus, Saal 1".into());
        e.categories = vec!["Politik".into(), String::new(), "Rat, Ausschüsse".into()];
        e.attachments = vec![
            Attachment {
                url: "https://herold.example.org/media/7.jpg".into(),
                mime_type: "image/jpeg".into(),
            },
            Attachment {
                url: "https://herold.example.org/media/8".into(),
                mime_type: "image/jpeg; x=\"y\"".into(),
            },
        ];
        let ics = ical_calendar(&meta(), &[e]);
        let l = lines(&ics);
        let start = l.iter().position(|&x| x == "BEGIN:VEVENT").unwrap();
        assert_eq!(
            l[start..],
            [
                "BEGIN:VEVENT",
                "UID:announcement-42@herold.example.org",
                "DTSTAMP:20240601T093000Z",
                "DTSTART:20240603T183000Z",
                "DTEND:20240603T203000Z",
                "SUMMARY:Gemeinderatssitzung",
                "DESCRIPTION:Öffentliche Sitzung",
                "LOCATION:Rathaus\\, Saal 1",
                "URL:https://www.musterdorf.de/a/42",
                "ATTACH;FMTTYPE=image/jpeg:https://herold.example.org/media/7.jpg",
                "ATTACH:https://herold.example.org/media/8",
                "CATEGORIES:Politik,Rat\\, Ausschüsse",
                "STATUS:CONFIRMED",
                "SEQUENCE:0",
                "CREATED:20240601T083000Z",
                "LAST-MODIFIED:20240601T093000Z",
                "TRANSP:TRANSPARENT",
                "END:VEVENT",
                "END:VCALENDAR",
            ]
        );
    }

    #[test]
    fn all_day_event_ends_the_day_after_its_last() {
        let e = CalendarEvent::new(
            "a-1@h",
            "Kirmes",
            EventTime::AllDay {
                start: day(1),
                last: Some(day(2)),
            },
            at(1, 9),
        );
        let ics = ical_calendar(&meta(), &[e]);
        assert!(ics.contains("\r\nDTSTART;VALUE=DATE:20240601\r\nDTEND;VALUE=DATE:20240603\r\n"));
        let one_day = CalendarEvent::new(
            "a-2@h",
            "Flohmarkt",
            EventTime::AllDay {
                start: day(4),
                last: Some(day(4)),
            },
            at(1, 9),
        );
        let ics = ical_calendar(&meta(), &[one_day]);
        assert!(ics.contains("\r\nDTSTART;VALUE=DATE:20240604\r\nDTEND;VALUE=DATE:20240605\r\n"));
    }

    #[test]
    fn end_before_start_is_omitted() {
        let timed = CalendarEvent::new(
            "a-1@h",
            "x",
            EventTime::At {
                start: at(3, 18),
                end: Some(at(3, 18)),
            },
            at(1, 9),
        );
        let all_day = CalendarEvent::new(
            "a-2@h",
            "y",
            EventTime::AllDay {
                start: day(3),
                last: Some(day(1)),
            },
            at(1, 9),
        );
        let open = CalendarEvent::new(
            "a-3@h",
            "z",
            EventTime::AllDay {
                start: day(3),
                last: None,
            },
            at(1, 9),
        );
        let ics = ical_calendar(&meta(), &[timed, all_day, open]);
        assert!(!ics.contains("DTEND"));
        assert_eq!(ics.matches("DTSTART").count(), 3);
    }

    #[test]
    fn cancelled_correction() {
        let mut e = CalendarEvent::new(
            "a-1@h",
            "Sperrmüll",
            EventTime::AllDay {
                start: day(5),
                last: None,
            },
            at(2, 9),
        );
        e.status = EventStatus::Cancelled;
        e.sequence = 2;
        let ics = ical_calendar(&meta(), &[e]);
        assert!(ics.contains("\r\nSTATUS:CANCELLED\r\nSEQUENCE:2\r\n"));
    }

    #[test]
    fn escaping_and_crlf_everywhere() {
        let nasty = "Straße <gesperrt> & \"Umleitung\"; a,b \\ c\nZeile 2\r\nZeile 3\rZeile 4\u{1}";
        let mut m = meta();
        m.name = nasty.into();
        let mut e = CalendarEvent::new(
            "a-1@h",
            nasty,
            EventTime::At {
                start: at(3, 18),
                end: None,
            },
            at(1, 9),
        );
        e.description = nasty.into();
        e.location = Some(nasty.into());
        e.url = "https://x.de/a\r\nX-INJECTED:1".into();
        let ics = ical_calendar(&m, &[e]);
        let escaped =
            "Straße <gesperrt> & \"Umleitung\"\\; a\\,b \\\\ c\\nZeile 2\\nZeile 3\\nZeile 4";
        let unfolded = ics.replace("\r\n ", "");
        for prop in ["NAME", "X-WR-CALNAME", "SUMMARY", "DESCRIPTION", "LOCATION"] {
            assert!(
                unfolded.contains(&format!("\r\n{prop}:{escaped}\r\n")),
                "{prop}: {unfolded}"
            );
        }
        assert!(unfolded.contains("\r\nURL:https://x.de/aX-INJECTED:1\r\n"));
        // Every line break is CRLF; no bare CR or LF anywhere.
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
        assert!(!ics.contains('\u{1}'));
        for line in ics.split_terminator("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
    }

    #[test]
    fn long_umlaut_text_is_folded_by_octets() {
        // 8 octets "SUMMARY:" + 66 "a" = 74, so the first "ä" (2 octets) would
        // straddle the limit and must start the continuation line.
        let title = format!("{}{}", "a".repeat(66), "äöüßÄÖÜ".repeat(20));
        let e = CalendarEvent::new(
            "a-1@h",
            title.clone(),
            EventTime::AllDay {
                start: day(5),
                last: None,
            },
            at(2, 9),
        );
        let ics = ical_calendar(&meta(), &[e]);
        let l = lines(&ics);
        let i = l.iter().position(|x| x.starts_with("SUMMARY:")).unwrap();
        assert_eq!(l[i].len(), 74);
        assert!(l[i + 1].starts_with(" ä"));
        let mut summary = l[i].to_owned();
        for cont in l[i + 1..].iter().take_while(|x| x.starts_with(' ')) {
            assert!(cont.len() <= 75);
            summary.push_str(&cont[1..]);
        }
        assert_eq!(summary, format!("SUMMARY:{title}"));
    }

    #[test]
    fn output_is_deterministic() {
        let e = CalendarEvent::new(
            "a-1@h",
            "x",
            EventTime::AllDay {
                start: day(5),
                last: None,
            },
            at(2, 9),
        );
        let a = ical_calendar(&meta(), std::slice::from_ref(&e));
        assert_eq!(a, ical_calendar(&meta(), &[e]));
    }
}
