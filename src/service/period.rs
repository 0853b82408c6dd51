//! Report periods as people write them: a day (`YYYY-MM-DD`, in the
//! configured time zone; an end day counts whole) or an RFC 3339 time.

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

/// A bound or period that cannot be used; names the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("{field} {value:?} is not a date: expected YYYY-MM-DD or an RFC 3339 time")]
    NotADate { field: String, value: String },
    #[error("{field} {value:?} has no midnight in the configured time zone")]
    NoMidnight { field: String, value: String },
    #[error("{to} is not after {from}: expected a period of at least one day")]
    Empty { from: String, to: String },
}

/// The start of day `raw` (or, with `end`, the start of the day after), or
/// the time `raw` names.
pub fn bound(
    field: &str,
    raw: &str,
    tz: chrono_tz::Tz,
    end: bool,
) -> Result<DateTime<Utc>, PeriodError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| PeriodError::NotADate {
        field: field.to_owned(),
        value: raw.to_owned(),
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| PeriodError::NoMidnight {
            field: field.to_owned(),
            value: raw.to_owned(),
        })
}

/// The period from the start of `from` to the end of `to`.
pub fn period(
    (from_field, from): (&str, &str),
    (to_field, to): (&str, &str),
    tz: chrono_tz::Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), PeriodError> {
    let f = bound(from_field, from, tz, false)?;
    let t = bound(to_field, to, tz, true)?;
    if t <= f {
        return Err(PeriodError::Empty {
            from: format!("{from_field} {from:?}"),
            to: format!("{to_field} {to:?}"),
        });
    }
    Ok((f, t))
}
