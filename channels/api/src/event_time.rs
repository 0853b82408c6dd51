//! When an announced event takes place, as residents read it.

use chrono::{DateTime, NaiveDate, Utc};

/// The time of an event. An all-day event's `last` day is inclusive, as
/// residents read "1 to 3 June"; writers of formats with exclusive ends
/// (iCalendar's `DTEND`) convert it themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// From `start`, optionally until `end` (exclusive, after `start`).
    At {
        /// Start.
        start: DateTime<Utc>,
        /// End; `None` for an instant.
        end: Option<DateTime<Utc>>,
    },
    /// Whole days from `start` through `last`.
    AllDay {
        /// First day.
        start: NaiveDate,
        /// Last day, inclusive; `None` for a single day.
        last: Option<NaiveDate>,
    },
}
