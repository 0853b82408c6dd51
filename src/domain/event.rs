//! When and where an announced event takes place, for residents'
//! calendars (the iCalendar feed) and the announcement page.

pub use herold_channel_api::EventTime;

use super::DomainError;

/// Longest place description.
pub const LOCATION_MAX_CHARS: usize = 200;

/// An event an announcement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub time: EventTime,
    /// Where, e.g. `Bürgerhaus, Hauptstraße 5`.
    pub location: Option<String>,
}

impl Event {
    /// Checks the event: the end after the start, a place of sensible
    /// length (blank means none).
    pub fn new(time: EventTime, location: Option<&str>) -> Result<Self, DomainError> {
        match time {
            EventTime::At {
                start,
                end: Some(end),
            } if end <= start => {
                return Err(DomainError::Invalid {
                    field: "event end",
                    value: end.to_rfc3339(),
                    expected: "a time after the event start",
                })
            }
            EventTime::AllDay {
                start,
                last: Some(last),
            } if last < start => {
                return Err(DomainError::Invalid {
                    field: "event end",
                    value: last.to_string(),
                    expected: "a day on or after the first day",
                })
            }
            _ => {}
        }
        let location = location.map(str::trim).filter(|l| !l.is_empty());
        if let Some(l) = location {
            let n = l.chars().count();
            if n > LOCATION_MAX_CHARS {
                return Err(DomainError::TooLong {
                    field: "event location",
                    max: LOCATION_MAX_CHARS,
                    actual: n,
                });
            }
            if l.chars().any(char::is_control) {
                return Err(DomainError::Invalid {
                    field: "event location",
                    value: l.chars().filter(|c| !c.is_control()).collect(),
                    expected: "one line of text",
                });
            }
        }
        Ok(Self {
            time,
            location: location.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn valid_and_invalid_events() {
        let t = |h| Utc.with_ymd_and_hms(2026, 12, 5, h, 0, 0).unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        let e = Event::new(
            EventTime::At {
                start: t(18),
                end: Some(t(20)),
            },
            Some("  Bürgerhaus  "),
        )
        .unwrap();
        assert_eq!(e.location.as_deref(), Some("Bürgerhaus"));
        assert!(Event::new(
            EventTime::At {
                start: t(18),
                end: Some(t(18))
            },
            None
        )
        .is_err());
        assert!(Event::new(
            EventTime::AllDay {
                start: d(5),
                last: Some(d(4))
            },
            None
        )
        .is_err());
        assert!(Event::new(
            EventTime::AllDay {
                start: d(5),
                last: Some(d(5))
            },
            Some(" ")
        )
        .unwrap()
        .location
        .is_none());
        let long = "x".repeat(LOCATION_MAX_CHARS + 1);
        assert!(matches!(
            Event::new(
                EventTime::AllDay {
                    start: d(5),
                    last: None
                },
                Some(&long)
            ),
            Err(DomainError::TooLong {
                field: "event location",
                ..
            })
        ));
        assert!(Event::new(
            EventTime::AllDay {
                start: d(5),
                last: None
            },
            Some("a\nb")
        )
        .is_err());
    }
}
