use chrono::{DateTime, LocalResult, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{DomainError, Id};

/// A category whose announcements go out bundled, once a day at a local
/// time (e.g. the "Veranstaltungstipps" at 07:00 Europe/Berlin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub id: Id,
    pub category_id: Id,
    pub local_time: NaiveTime,
    pub timezone: Tz,
    /// Title of each digest message, e.g. "Veranstaltungstipps".
    pub title: String,
    pub next_run_at: DateTime<Utc>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_local_time(raw: &str) -> Result<NaiveTime, DomainError> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M").map_err(|_| DomainError::Invalid {
        field: "digest time (--at)",
        value: raw.to_owned(),
        expected: "a time of day as HH:MM, e.g. 07:00",
    })
}

/// Parses an IANA time zone name.
pub fn parse_timezone(raw: &str) -> Result<Tz, DomainError> {
    raw.trim().parse().map_err(|_| DomainError::Invalid {
        field: "time zone",
        value: raw.to_owned(),
        expected: "an IANA time zone name such as Europe/Berlin",
    })
}

/// The first moment strictly after `after` at which the wall clock in `tz`
/// shows `at`. On the day clocks go forward and `at` does not exist (02:30
/// in Europe/Berlin), it is the moment the clock jumps to; when clocks go
/// back and `at` happens twice, the first.
pub fn next_slot(after: DateTime<Utc>, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let mut date = after.with_timezone(&tz).date_naive();
    loop {
        let local = date.and_time(at);
        let slot = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(first, _) => Some(first),
            // In a gap: the first valid instant after it.
            LocalResult::None => (1..=180).find_map(|m| {
                tz.from_local_datetime(&(local + chrono::Duration::minutes(m)))
                    .earliest()
            }),
        };
        if let Some(t) = slot.map(|t| t.with_timezone(&Utc)) {
            if t > after {
                return t;
            }
        }
        date = match date.succ_opt() {
            Some(d) => d,
            None => return after,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_at_seven_berlin_across_dst() {
        let seven = parse_local_time("07:00").unwrap();
        // Winter: UTC+1.
        assert_eq!(
            next_slot(utc("2026-01-10T05:00:00Z"), seven, Berlin),
            utc("2026-01-10T06:00:00Z")
        );
        assert_eq!(
            next_slot(utc("2026-01-10T06:00:00Z"), seven, Berlin),
            utc("2026-01-11T06:00:00Z")
        );
        // Clocks go forward on 2026-03-29: 07:00 is then 05:00 UTC.
        assert_eq!(
            next_slot(utc("2026-03-28T06:30:00Z"), seven, Berlin),
            utc("2026-03-29T05:00:00Z")
        );
        // Clocks go back on 2026-10-25: 07:00 is 06:00 UTC again.
        assert_eq!(
            next_slot(utc("2026-10-24T05:30:00Z"), seven, Berlin),
            utc("2026-10-25T06:00:00Z")
        );
    }

    #[test]
    fn gaps_and_repeats() {
        let half_past_two = parse_local_time("02:30").unwrap();
        // 02:30 does not exist on 2026-03-29 in Berlin: the slot is 03:00 local (01:00 UTC).
        assert_eq!(
            next_slot(utc("2026-03-28T12:00:00Z"), half_past_two, Berlin),
            utc("2026-03-29T01:00:00Z")
        );
        // 02:30 happens twice on 2026-10-25: the first (00:30 UTC).
        assert_eq!(
            next_slot(utc("2026-10-24T12:00:00Z"), half_past_two, Berlin),
            utc("2026-10-25T00:30:00Z")
        );
        assert!(parse_local_time("7 Uhr").is_err());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
