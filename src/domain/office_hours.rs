//! When staff answer residents' reports: weekly opening times such as
//! `Mo-Fr 08:00-12:00; Do 14:00-18:00`, in the town's time zone. A report
//! that arrives outside them gets an automatic reply naming the next
//! opening, and the inbox shows whether the office is open.
//!
//! Written by hand: the format is four tokens long and no crate parses
//! German weekday abbreviations into weekly intervals.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::DomainError;

/// One opening: a weekday and a time span on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Opening {
    day: Weekday,
    from: NaiveTime,
    to: NaiveTime,
}

/// The weekly office hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    openings: Vec<Opening>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mo", Weekday::Mon),
    ("di", Weekday::Tue),
    ("mi", Weekday::Wed),
    ("do", Weekday::Thu),
    ("fr", Weekday::Fri),
    ("sa", Weekday::Sat),
    ("so", Weekday::Sun),
];

const EXPECTED: &str =
    "openings separated by ';', each days and times like \"Mo-Fr 08:00-12:00\" or \"Do 14:00-18:00\" (days Mo Di Mi Do Fr Sa So)";

fn invalid(value: &str) -> DomainError {
    DomainError::Invalid {
        field: "conversations.office_schedule",
        value: value.to_owned(),
        expected: EXPECTED,
    }
}

fn day(s: &str) -> Option<Weekday> {
    let s = s.trim().to_lowercase();
    DAYS.iter().find(|(n, _)| *n == s).map(|(_, d)| *d)
}

impl OfficeHours {
    /// Parses `Mo-Fr 08:00-12:00; Do 14:00-18:00`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let mut openings = Vec::new();
        for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, times) = part.split_once(' ').ok_or_else(|| invalid(part))?;
            let (first, last) = match days.split_once('-') {
                Some((a, b)) => (day(a), day(b)),
                None => (day(days), day(days)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(invalid(part));
            };
            let (from, to) = times.trim().split_once('-').ok_or_else(|| invalid(part))?;
            let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M");
            let (Ok(from), Ok(to)) = (time(from), time(to)) else {
                return Err(invalid(part));
            };
            if to <= from {
                return Err(invalid(part));
            }
            let mut d = first;
            loop {
                openings.push(Opening { day: d, from, to });
                if d == last {
                    break;
                }
                d = d.succ();
            }
        }
        if openings.is_empty() {
            return Err(invalid(raw));
        }
        Ok(Self { openings })
    }

    /// Whether the office is open at `at`.
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let t = local.time();
        self.openings
            .iter()
            .any(|o| o.day == local.weekday() && o.from <= t && t < o.to)
    }

    /// The next time the office opens after `at` (within a week).
    pub fn next_opening(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz);
        (0..8)
            .flat_map(|offset| {
                let date = local.date_naive() + Duration::days(offset);
                self.openings
                    .iter()
                    .filter(move |o| o.day == date.weekday())
                    .filter_map(move |o| tz.from_local_datetime(&date.and_time(o.from)).earliest())
            })
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > at)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Europe::Berlin;

    fn at(s: &str) -> DateTime<Utc> {
        TZ.from_local_datetime(&chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn opening_times() {
        let h = OfficeHours::parse("Mo-Fr 08:00-12:00; Do 14:00-18:00").unwrap();
        // 2026-12-03 is a Thursday.
        assert!(h.is_open(at("2026-12-03 09:00"), TZ));
        assert!(!h.is_open(at("2026-12-03 13:00"), TZ));
        assert!(h.is_open(at("2026-12-03 15:00"), TZ));
        assert_eq!(
            h.next_opening(at("2026-12-03 13:00"), TZ),
            Some(at("2026-12-03 14:00"))
        );
        // Friday afternoon: Monday morning.
        assert_eq!(
            h.next_opening(at("2026-12-04 12:30"), TZ),
            Some(at("2026-12-07 08:00"))
        );
        assert!(!h.is_open(at("2026-12-05 09:00"), TZ));
    }

    #[test]
    fn refused_schedules_say_what_is_expected() {
        for bad in [
            "",
            "Mo",
            "Montag 08:00-12:00",
            "Mo 12:00-08:00",
            "Mo-Fr 8-12",
        ] {
            let e = OfficeHours::parse(bad).unwrap_err().to_string();
            assert!(e.contains("Mo-Fr 08:00-12:00"), "{bad}: {e}");
        }
    }
}
