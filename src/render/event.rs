//! When an announced event takes place, as people read it.

use chrono_tz::Tz;

use crate::{domain::EventTime, i18n::t};

/// "05.12.2026, 18:00 Uhr – 05.12.2026, 20:30 Uhr" in `tz`, or days for
/// all-day events, in the formats of `locale`'s catalogue.
pub fn event_when(time: &EventTime, tz: Tz, locale: &str) -> String {
    match time {
        EventTime::At { start, end } => {
            let f = t(locale, "page.date_format", &[]);
            let local =
                |d: &chrono::DateTime<chrono::Utc>| d.with_timezone(&tz).format(&f).to_string();
            match end {
                Some(e) => format!("{} – {}", local(start), local(e)),
                None => local(start),
            }
        }
        EventTime::AllDay { start, last } => {
            let f = t(locale, "page.day_format", &[]);
            match last.filter(|l| l != start) {
                Some(l) => format!("{} – {}", start.format(&f), l.format(&f)),
                None => start.format(&f).to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn local_time_and_days() {
        let start = Utc.with_ymd_and_hms(2026, 12, 5, 17, 0, 0).unwrap();
        let at = EventTime::At { start, end: None };
        assert_eq!(
            event_when(&at, chrono_tz::Europe::Berlin, "de"),
            "05.12.2026, 18:00 Uhr"
        );
        let d = |day| NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        let days = EventTime::AllDay {
            start: d(5),
            last: Some(d(6)),
        };
        assert_eq!(
            event_when(&days, chrono_tz::UTC, "de"),
            "05.12.2026 – 06.12.2026"
        );
    }
}
