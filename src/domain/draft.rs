//! An announcement being composed in the staff application: the form's
//! fields as the editor typed them, so that nothing is lost when one of
//! them is wrong, and the checks that turn them into a publication.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{DomainError, Event, EventTime, Id, ImageFormat};

/// The fields of the compose form, as typed. Times are local to the town
/// (`2026-12-05T08:00`, or a day `2026-12-05` for all-day events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftFields {
    /// The category's slug.
    pub category: String,
    pub title: String,
    /// Markdown source.
    pub body: String,
    pub urgent: bool,
    /// When to publish; blank publishes at once.
    pub schedule: String,
    pub event_start: String,
    pub event_end: String,
    pub event_location: String,
    /// The announcement this corrects.
    pub corrects_id: Option<Id>,
    /// What the picture shows.
    pub image_alt: String,
}

/// Where a draft stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftState {
    /// Being written.
    Editing,
    /// Submitted; a second editor releases it (four-eyes approval).
    AwaitingApproval,
}

impl DraftState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editing => "editing",
            Self::AwaitingApproval => "awaiting_approval",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "editing" => Ok(Self::Editing),
            "awaiting_approval" => Ok(Self::AwaitingApproval),
            _ => Err(DomainError::Invalid {
                field: "draft state",
                value: s.to_owned(),
                expected: "editing or awaiting_approval",
            }),
        }
    }
}

/// A draft's picture, already checked and stripped of metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftImage {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: Id,
    /// Who wrote it (staff user name).
    pub author: String,
    pub fields: DraftFields,
    /// The scheduled announcement this draft replaces when published.
    pub replaces_id: Option<Id>,
    pub image: Option<DraftImage>,
    pub state: DraftState,
    /// Who asked for approval.
    pub submitted_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One thing wrong with a draft: the form field (its `id` in the page)
/// and a message from the catalogue (`key` with `args`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Problem {
    /// A problem with `field` described by catalogue entry `key`.
    pub fn new(field: &'static str, key: &'static str) -> Self {
        Self {
            field,
            key,
            args: Vec::new(),
        }
    }

    /// The same problem with a value for `{name}` in its message.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The problem a domain check reported for `field`.
    pub fn from_domain(field: &'static str, e: &DomainError) -> Self {
        match e {
            DomainError::Empty { .. } => Self::new(field, "compose.error.empty"),
            DomainError::TooLong { max, actual, .. } => Self::new(field, "compose.error.too_long")
                .with("max", max)
                .with("actual", actual),
            DomainError::Invalid { .. } | DomainError::Transition { .. } => {
                Self::new(field, "compose.error.invalid").with("detail", e)
            }
        }
    }
}

/// A local time as the browser's `datetime-local` field sends it
/// (`2026-12-05T08:00`, seconds optional), in `tz`. A time that does not
/// exist (the hour skipped in spring) is refused; one that exists twice
/// (autumn) is taken at its first occurrence.
pub fn parse_local_datetime(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M"))
        .ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `t` as a `datetime-local` value in `tz` (for filling the form again).
pub fn local_time_value(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// The event of a draft: none when start, end and place are blank;
/// otherwise a start (a time, or a day for an all-day event), an end of
/// the same kind if given, and the place.
pub fn parse_event(fields: &DraftFields, tz: Tz) -> Result<Option<Event>, Problem> {
    let start = fields.event_start.trim();
    let end = fields.event_end.trim();
    let place = fields.event_location.trim();
    if start.is_empty() {
        if !end.is_empty() || !place.is_empty() {
            return Err(Problem::new(
                "event_start",
                "compose.error.event_start_missing",
            ));
        }
        return Ok(None);
    }
    let time = if let Ok(day) = NaiveDate::parse_from_str(start, "%Y-%m-%d") {
        let last = match end {
            "" => None,
            e => Some(
                NaiveDate::parse_from_str(e, "%Y-%m-%d")
                    .map_err(|_| Problem::new("event_end", "compose.error.event_end_day"))?,
            ),
        };
        EventTime::AllDay { start: day, last }
    } else {
        let start = parse_local_datetime(start, tz).ok_or_else(|| {
            Problem::new("event_start", "compose.error.time").with("value", start)
        })?;
        let end =
            match end {
                "" => None,
                e => Some(parse_local_datetime(e, tz).ok_or_else(|| {
                    Problem::new("event_end", "compose.error.time").with("value", e)
                })?),
            };
        EventTime::At { start, end }
    };
    let place = (!place.is_empty()).then_some(place);
    Event::new(time, place).map(Some).map_err(|e| match &e {
        DomainError::TooLong { .. } => Problem::from_domain("event_location", &e),
        _ => Problem::new("event_end", "compose.error.event_end_before"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn local_times_are_read_in_the_towns_zone() {
        let t = parse_local_datetime("2026-12-05T08:00", TZ).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T07:00:00+00:00");
        assert_eq!(local_time_value(t, TZ), "2026-12-05T08:00");
        assert!(parse_local_datetime("5.12.2026 8 Uhr", TZ).is_none());
        // 02:30 does not exist on the last Sunday of March in Berlin.
        assert!(parse_local_datetime("2027-03-28T02:30", TZ).is_none());
    }

    #[test]
    fn events_from_the_form() {
        let mut f = DraftFields::default();
        assert_eq!(parse_event(&f, TZ), Ok(None));
        f.event_location = "Bürgerhaus".into();
        assert_eq!(parse_event(&f, TZ).unwrap_err().field, "event_start");
        f.event_start = "2026-12-06".into();
        f.event_end = "2026-12-07".into();
        let e = parse_event(&f, TZ).unwrap().unwrap();
        assert!(matches!(e.time, EventTime::AllDay { last: Some(_), .. }));
        f.event_end = "2026-12-07T10:00".into();
        assert_eq!(parse_event(&f, TZ).unwrap_err().field, "event_end");
        f.event_start = "2026-12-06T18:00".into();
        f.event_end = "2026-12-06T17:00".into();
        assert_eq!(
            parse_event(&f, TZ).unwrap_err().key,
            "compose.error.event_end_before"
        );
        f.event_end = "2026-12-06T20:00".into();
        let e = parse_event(&f, TZ).unwrap().unwrap();
        assert_eq!(e.location.as_deref(), Some("Bürgerhaus"));
    }
}
